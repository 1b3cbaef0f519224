// The receiving half of RedisChannel: one read loop per channel object, running while
// receivers wait. It first reclaims what other consumers left pending too long
// (XAUTOCLAIM, in a script that also dead-letters), then blocks in XREADGROUP on a
// connection of its own, so the server wakes it when a message arrives. An idle loop comes
// back from the block after `claimAfterMs` to look for stale messages again. When the last
// receiver leaves, CLIENT UNBLOCK (from the main connection) ends the block at once.

import { onAbort } from '../internal/signals.js';
import { CHANNEL_CLAIM, CHANNEL_GROUP as GROUP } from './channel-lua.js';
import type { DedicatedConnection, RedisArg } from './commands.js';
import { RedisClosedError } from './errors.js';
import type { ResolvedBase } from './options.js';
import { Script, within } from './scripts.js';

const CLAIM = new Script(CHANNEL_CLAIM);

/** One entry of a channel's dead-letter stream, from {@link RedisChannel.deadLetters}. */
export interface DeadLetter<T> {
  /** The id of the entry in the dead-letter stream. */
  id: string;
  /** The id the message had in the channel. */
  originalId: string;
  /** How many times it was delivered before it was dead-lettered. */
  deliveries: number;
  /** Why: `'maxDeliveries'`, `'decode: <message>'`, or what `deadLetter(reason)` said. */
  reason: string;
  /** The stored string. */
  payload: string;
  /** `payload` decoded, or undefined if it does not decode. */
  value: T | undefined;
}

/** @internal */
export interface ReaderOptions {
  base: ResolvedBase;
  keys: readonly [string, string];
  consumer: string;
  claimAfterMs: number;
  maxDeliveries: number;
  prefetch: number;
  settleArgs: () => RedisArg[];
  decode: (text: string) => unknown;
  message: (id: string, value: unknown, deliveries: number) => unknown;
  bury: (id: string, reason: string) => void;
}

interface Receiver {
  disposeAbort: () => void;
  resolve: (message: unknown) => void;
  reject: (error: unknown) => void;
}

interface Entry {
  id: string;
  deliveries: number;
  payload: string | undefined;
}

const noop = (): void => {};

/** @internal The read loop of one RedisChannel object. */
export class Reader {
  readonly consumer: string;
  readonly #o: ReaderOptions;
  readonly #receivers: Receiver[] = [];
  readonly #buffer: Entry[] = [];
  #reading = false;
  #loop: Promise<void> = Promise.resolve();
  #conn: { c: DedicatedConnection; id: string } | undefined;
  #blocked = false;
  #groupReady = false;
  #lastClaimAt = Number.NEGATIVE_INFINITY;
  #idle = true;
  #closed = false;
  #used = false;

  constructor(options: ReaderOptions) {
    this.#o = options;
    this.consumer = options.consumer;
  }

  receive(signal: AbortSignal | undefined): Promise<unknown> {
    if (this.#receivers.length === 0) {
      const m = this.#takeBuffered();
      if (m !== undefined) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const r: Receiver = { disposeAbort: noop, resolve, reject };
      this.#receivers.push(r);
      r.disposeAbort = onAbort(signal, (reason) => this.#leave(r, reason));
      if (!this.#reading) this.#loop = this.#run();
    });
  }

  /** Stops the loop, rejects the receivers with `reason`; resolves with whether it ever read. */
  async close(reason: RedisClosedError): Promise<boolean> {
    this.#closed = true;
    for (const r of this.#receivers.splice(0)) {
      r.disposeAbort();
      r.reject(reason);
    }
    // A read blocked on the connection rejects as it closes.
    await this.#drop();
    await this.#loop;
    return this.#used;
  }

  async deadLetters(count: number): Promise<DeadLetter<unknown>[]> {
    const { redis, clock, connectTimeoutMs, key } = this.#o.base;
    const reply = await within(
      clock,
      connectTimeoutMs,
      `a read of the dead letters of channel "${key}"`,
      redis.send(['XRANGE', this.#o.keys[1], '-', '+', 'COUNT', count]),
    );
    return (reply as [string, unknown][]).map(([id, fields]) => {
      const f = fieldsOf(fields);
      const payload = f.get('v') ?? '';
      let value: unknown;
      try {
        value = this.#o.decode(payload);
      } catch {
        value = undefined;
      }
      return {
        id: String(id),
        originalId: f.get('id') ?? '',
        deliveries: Number(f.get('deliveries') ?? 0),
        reason: f.get('reason') ?? '',
        payload,
        value,
      };
    });
  }

  #leave(r: Receiver, reason: unknown): void {
    const i = this.#receivers.indexOf(r);
    if (i < 0) return;
    this.#receivers.splice(i, 1);
    r.disposeAbort();
    r.reject(reason);
    const conn = this.#conn;
    if (this.#receivers.length === 0 && this.#blocked && conn !== undefined) {
      // Nobody waits here any more: end the block now rather than after claimAfterMs. What
      // it read meanwhile stays buffered for the next receiver.
      this.#o.base.redis.send(['CLIENT', 'UNBLOCK', conn.id]).catch(noop);
    }
  }

  #takeBuffered(): unknown {
    for (;;) {
      const e = this.#buffer.shift();
      if (e === undefined) return undefined;
      let value: unknown;
      try {
        if (e.payload === undefined) throw new Error('the entry has no `v` field');
        value = this.#o.decode(e.payload);
      } catch (error) {
        this.#o.bury(e.id, `decode: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      return this.#o.message(e.id, value, e.deliveries);
    }
  }

  #handOut(): void {
    while (this.#receivers.length > 0) {
      const m = this.#takeBuffered();
      if (m === undefined) return;
      const r = this.#receivers.shift()!;
      r.disposeAbort();
      r.resolve(m);
    }
  }

  async #run(): Promise<void> {
    this.#reading = true;
    let noGroup = 0;
    try {
      while (!this.#closed) {
        this.#handOut();
        if (this.#receivers.length === 0) break;
        try {
          if (!this.#groupReady) await this.#createGroup();
          const now = this.#o.base.clock.now();
          let got = 0;
          if (this.#idle || now - this.#lastClaimAt >= this.#o.claimAfterMs) {
            this.#lastClaimAt = now;
            got = await this.#claim();
          }
          if (got === 0 && !this.#closed && this.#receivers.length > 0) {
            got = await this.#readNew();
            this.#idle = got === 0;
          }
          noGroup = 0;
        } catch (error) {
          if (this.#closed) break;
          // The group went away (the key was deleted, or a restart without persistence).
          if (isNoGroup(error) && noGroup++ < 3) {
            this.#groupReady = false;
            continue;
          }
          await this.#drop();
          for (const r of this.#receivers.splice(0)) {
            r.disposeAbort();
            r.reject(error);
          }
          break;
        }
      }
    } finally {
      this.#reading = false;
    }
  }

  #within<T>(what: string, promise: Promise<T>, extraMs = 0): Promise<T> {
    const { clock, connectTimeoutMs, key } = this.#o.base;
    return within(clock, connectTimeoutMs + extraMs, `${what} on channel "${key}"`, promise);
  }

  async #createGroup(): Promise<void> {
    try {
      await this.#within(
        'a group create',
        this.#o.base.redis.send(['XGROUP', 'CREATE', this.#o.keys[0], GROUP, '0', 'MKSTREAM']),
      );
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
    }
    this.#groupReady = true;
  }

  async #claim(): Promise<number> {
    const { redis } = this.#o.base;
    const count = Math.max(1, this.#o.prefetch - this.#buffer.length);
    const args = [
      ...this.#o.settleArgs(),
      this.consumer,
      Math.ceil(this.#o.claimAfterMs),
      count,
      this.#o.maxDeliveries,
    ];
    const r = (await this.#within('a reclaim', CLAIM.run(redis, this.#o.keys, args))) as unknown[];
    for (let i = 0; i + 2 < r.length; i += 3) {
      this.#buffer.push({
        id: String(r[i]),
        deliveries: Number(r[i + 1]),
        payload: String(r[i + 2]),
      });
    }
    return r.length / 3;
  }

  async #readNew(): Promise<number> {
    const conn = await this.#connection();
    const count = Math.max(1, this.#o.prefetch - this.#buffer.length);
    const blockMs = Math.ceil(this.#o.claimAfterMs);
    this.#blocked = true;
    let reply: unknown;
    try {
      reply = await this.#within(
        'a blocking read',
        conn.c.send([
          'XREADGROUP',
          'GROUP',
          GROUP,
          this.consumer,
          'COUNT',
          count,
          'BLOCK',
          blockMs,
          'STREAMS',
          this.#o.keys[0],
          '>',
        ]),
        blockMs,
      );
    } finally {
      this.#blocked = false;
    }
    let got = 0;
    for (const [id, fields] of entriesOf(reply)) {
      this.#buffer.push({ id: String(id), deliveries: 1, payload: fieldsOf(fields).get('v') });
      got++;
    }
    return got;
  }

  /** The connection of the blocking reads, opened (and told apart by CLIENT ID) once. */
  async #connection(): Promise<{ c: DedicatedConnection; id: string }> {
    if (this.#conn !== undefined) return this.#conn;
    this.#used = true;
    const { redis } = this.#o.base;
    const opening = (async () => {
      const c = await redis.duplicate();
      try {
        return { c, id: String(await c.send(['CLIENT', 'ID'])) };
      } catch (error) {
        await c.close().catch(noop);
        throw error;
      }
    })();
    let conn: { c: DedicatedConnection; id: string };
    try {
      conn = await this.#within('a connect', opening);
    } catch (error) {
      // It may still open later: close it then.
      opening.then((late) => late.c.close(), noop).catch(noop);
      throw error;
    }
    if (this.#closed) {
      await conn.c.close().catch(noop);
      throw new RedisClosedError(`RedisChannel "${this.#o.base.key}" was closed`);
    }
    this.#conn = conn;
    return conn;
  }

  async #drop(): Promise<void> {
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn !== undefined) await conn.c.close().catch(noop);
  }
}

function isNoGroup(error: unknown): boolean {
  return error instanceof Error && /\bNOGROUP\b/.test(error.message);
}

/** The [id, fields] entries of an XREADGROUP reply (RESP2 arrays, or a RESP3 map). */
function entriesOf(reply: unknown): [unknown, unknown][] {
  if (reply === null || reply === undefined) return [];
  const streams: unknown[] = Array.isArray(reply)
    ? reply
    : reply instanceof Map
      ? [...reply.entries()]
      : Object.entries(reply as object);
  const out: [unknown, unknown][] = [];
  for (const s of streams) {
    const list = (s as [unknown, unknown])[1];
    if (Array.isArray(list)) for (const e of list) out.push(e as [unknown, unknown]);
  }
  return out;
}

/** A flat [field, value, …] list (or a RESP3 map) as a Map of strings. */
function fieldsOf(fields: unknown): Map<string, string> {
  const m = new Map<string, string>();
  if (Array.isArray(fields)) {
    for (let i = 0; i + 1 < fields.length; i += 2) m.set(String(fields[i]), String(fields[i + 1]));
  } else if (fields !== null && typeof fields === 'object') {
    const entries = fields instanceof Map ? fields.entries() : Object.entries(fields);
    for (const [k, v] of entries) m.set(String(k), String(v));
  }
  return m;
}
