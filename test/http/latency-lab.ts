// Loopback servers whose latency is set on a FakeClock: each answers a request when the
// test's clock has advanced by that server's delay, so the latency a balanced pool measures
// is exactly the delay, however slow the machine. `one()` runs a request to its end:
// it waits for the request to reach a server (or fail), then advances the clock by that
// server's delay. The measured latency never depends on how long the machine took.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'node:test';
import {
  type BalancedHttpPool,
  type BalancedHttpPoolOptions,
  createBalancedHttpPool,
  type HttpRequestOptions,
} from '../../src/http/index.js';
import { FakeClock } from '../../src/internal/clock.js';

export interface LabServer {
  name: string;
  url: string;
  port: number;
  /** Delay of the next answer, in ms of the lab's clock. */
  delay: () => number;
  /** Status of the next answer. */
  status: () => number;
  hits: number;
  up: boolean;
}

/** A seeded PRNG (mulberry32), so random choices repeat from run to run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export class Lab {
  readonly clock = new FakeClock();
  readonly servers = new Map<string, LabServer>();
  readonly #http = new Map<string, http.Server>();
  #arrival: ((a: { server: LabServer; delay: number }) => void) | null = null;
  /** Requests that reached a server and wait for the clock. */
  waiting = 0;

  /** Starts a server named `name` answering after `delayMs` (a number or a function). */
  async serve(name: string, delayMs: number | (() => number), port = 0): Promise<LabServer> {
    const prev = this.servers.get(name);
    const s: LabServer = prev ?? {
      name,
      url: '',
      port,
      delay: () => 0,
      status: () => 200,
      hits: 0,
      up: true,
    };
    s.delay = typeof delayMs === 'number' ? () => delayMs : delayMs;
    const server = http.createServer({ keepAlive: true }, (req, res) => {
      s.hits++;
      const d = s.delay();
      const status = s.status();
      this.waiting++;
      req.resume();
      this.clock.setTimeout(() => {
        this.waiting--;
        res.statusCode = status;
        res.end(name);
      }, d);
      const arrive = this.#arrival;
      this.#arrival = null;
      arrive?.({ server: s, delay: d });
    });
    server.keepAliveTimeout = 600_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(prev?.port ?? port, '127.0.0.1', () => resolve());
    });
    s.port = (server.address() as AddressInfo).port;
    s.url = `http://127.0.0.1:${s.port}`;
    s.up = true;
    this.servers.set(name, s);
    this.#http.set(name, server);
    return s;
  }

  /** Stops a server: its port refuses connections until {@link Lab.restart}. */
  async stop(name: string): Promise<void> {
    const server = this.#http.get(name);
    const s = this.servers.get(name);
    if (server === undefined || s === undefined) return;
    this.#http.delete(name);
    s.up = false;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Starts a stopped server again on its port. */
  async restart(name: string): Promise<void> {
    const s = this.servers.get(name)!;
    await this.serve(name, s.delay, s.port);
  }

  /**
   * Runs one request to its end and returns the name of the server that answered it, or
   * the error it failed with. Only one request is in flight at a time.
   */
  async one(
    pool: BalancedHttpPool,
    path = '/',
    options?: HttpRequestOptions,
  ): Promise<string | Error> {
    const arrived = new Promise<{ server: LabServer; delay: number }>((resolve) => {
      this.#arrival = resolve;
    });
    const done = pool.request(path, options).then(
      async (res) => ({ body: await res.body.text(), status: res.status }),
      (error: Error) => error,
    );
    for (;;) {
      // The pool's own timers run on the lab's clock too (a refused endpoint's connect is
      // retried after a backoff): when the request neither reached a server nor settled
      // once the sockets had time to answer, time moves on to the pool's next timer.
      let stalled: NodeJS.Timeout | undefined;
      const stall = new Promise<'stall'>((resolve) => {
        stalled = setTimeout(() => resolve('stall'), 50);
      });
      const first = await Promise.race([arrived, done, stall]);
      clearTimeout(stalled);
      if (first === 'stall') {
        const next = this.clock.nextTimerAt;
        if (next !== undefined) await this.clock.advance(Math.max(0, next - this.clock.now()));
        continue;
      }
      if (first instanceof Error) {
        this.#arrival = null;
        return first;
      }
      if ('server' in first) {
        await this.clock.advance(first.delay);
        const r = await done;
        return r instanceof Error ? r : r.body;
      }
      this.#arrival = null;
      return first.body;
    }
  }

  /** Lets fake time pass with no request in flight. */
  async idle(ms: number): Promise<void> {
    await this.clock.advance(ms);
  }

  async close(): Promise<void> {
    for (const name of [...this.#http.keys()]) await this.stop(name);
  }
}

/**
 * The balanced pools of one test file, made on the current lab's clock with a seeded
 * random, and closed after each test together with the lab, which must then hold no timer.
 */
export function balancedPools(
  seed: number,
  lab: () => Lab,
): (
  upstreams: Record<string, string[]>,
  extra?: Partial<BalancedHttpPoolOptions>,
) => BalancedHttpPool {
  let pools: BalancedHttpPool[] = [];
  afterEach(async () => {
    for (const p of pools) await p.close();
    pools = [];
    await lab().close();
    assert.equal(lab().clock.pendingTimers, 0, 'no timer left on the clock');
  });
  return (upstreams, extra = {}) => {
    const pool = createBalancedHttpPool({
      upstreams,
      clock: lab().clock,
      random: seeded(seed),
      ...extra,
    });
    pools.push(pool);
    return pool;
  };
}
