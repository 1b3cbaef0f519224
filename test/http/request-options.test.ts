// Per-request options are checked as the pool's are, before any connection is taken, and
// the headers and body timeouts fire when they are due, on the pool's clock.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, describe, test } from 'node:test';
import { request } from 'undici';
import { createHttpPool, type HttpPool } from '../../src/http/index.js';
import { FakeClock } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { h2cServer, httpServer, type Running } from './servers.js';

const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

/** Lets I/O callbacks run, at most `n` turns, until `cond()` holds. */
async function until(cond: () => boolean, n = 10_000): Promise<void> {
  for (let i = 0; i < n && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), 'the condition never held');
}

/** Records how a promise settled, without letting a rejection go unhandled. */
function watch<T>(p: Promise<T>): { settled: boolean; error: unknown; value: T | undefined } {
  const w = { settled: false, error: undefined as unknown, value: undefined as T | undefined };
  p.then(
    (v) => {
      w.settled = true;
      w.value = v;
    },
    (e) => {
      w.settled = true;
      w.error = e;
    },
  );
  return w;
}

/**
 * A server that holds every response until the test answers it (an HTTP/2 response has the
 * same writeHead/write/end as an HTTP/1.1 one).
 */
async function holdingServer(h2: boolean): Promise<{ s: Running; held: ServerResponse[] }> {
  const held: ServerResponse[] = [];
  const s = h2
    ? await h2cServer((_req, res) => {
        held.push(res);
      })
    : await httpServer((_req, res) => {
        held.push(res);
      });
  closers.push(() => s.close());
  return { s, held };
}

function pool(options: Parameters<typeof createHttpPool>[0]): HttpPool {
  const http = createHttpPool(options);
  closers.push(() => http.close());
  return http;
}

describe('per-request options are checked before a connection is taken', () => {
  test('bad values throw a TypeError or RangeError naming the option, and open nothing', async () => {
    const s = await httpServer((_q, r) => r.end('ok'));
    closers.push(() => s.close());
    const http = pool({});
    const bad: [Record<string, unknown>, RegExp, ErrorConstructor][] = [
      [{ headersTimeoutMs: '100' }, /`headersTimeoutMs`/, TypeError],
      [{ headersTimeoutMs: Number.NaN }, /`headersTimeoutMs`/, TypeError],
      [{ headersTimeoutMs: -1 }, /`headersTimeoutMs`/, RangeError],
      [{ bodyTimeoutMs: 'soon' }, /`bodyTimeoutMs`/, TypeError],
      [{ method: 'GE T' }, /`method`/, TypeError],
      [{ method: 42 }, /`method`/, TypeError],
      [{ headers: 'x-a: 1' }, /`headers`/, TypeError],
      [{ headers: ['x-a'] }, /`headers`/, TypeError],
      [{ body: 42 }, /`body`/, TypeError],
    ];
    for (const [options, message, type] of bad) {
      await assert.rejects(http.request(`${s.url}/`, options as never), (e: unknown) => {
        assert.ok(e instanceof type, `${JSON.stringify(options)}: ${String(e)}`);
        assert.match((e as Error).message, message);
        return true;
      });
    }
    const outcome = await new Promise<unknown>((resolve) => {
      http.dispatch({ origin: s.url, path: '/', method: 'GET', headersTimeout: -5 }, {
        onError: resolve,
        onConnect() {},
        onHeaders: () => true,
        onData: () => true,
      } as never);
    });
    assert.ok(outcome instanceof RangeError);
    assert.match(outcome.message, /`headersTimeout`/);
    assert.equal(http.stats().opened, 0, 'no connection was opened');
    assert.equal(http.stats().requests, 0);
  });

  test('`headersTimeoutMs: Infinity` and `bodyTimeoutMs: Infinity` turn the timeouts off', async () => {
    const { s, held } = await holdingServer(false);
    const clock = new FakeClock();
    const http = pool({ headersTimeoutMs: 100, bodyTimeoutMs: 100, clock });
    const pending = watch(
      http.request(`${s.url}/`, { headersTimeoutMs: Infinity, bodyTimeoutMs: Infinity }),
    );
    await until(() => held.length === 1);
    await clock.advance(60_000);
    assert.equal(pending.settled, false, 'still waiting for its headers');
    const res = held[0]!;
    res.writeHead(200);
    res.write('a');
    await until(() => pending.settled);
    const it = pending.value!.body[Symbol.asyncIterator]();
    await it.next();
    await clock.advance(60_000);
    res.end('b');
    assert.equal(Buffer.from((await it.next()).value as Uint8Array).toString(), 'b');
  });
});

for (const h2 of [false, true]) {
  const label = h2 ? 'HTTP/2' : 'HTTP/1.1';

  describe(`timeouts fire when due (${label}, on the pool's clock)`, () => {
    test('a 200 ms headersTimeoutMs fires at 200 ms, not a second later', async () => {
      const { s, held } = await holdingServer(h2);
      const clock = new FakeClock();
      const http = pool({ h2c: h2, clock });
      const pending = watch(http.request(`${s.url}/`, { headersTimeoutMs: 200 }));
      await until(() => held.length === 1);
      await clock.advance(199);
      assert.equal(pending.settled, false);
      await clock.advance(1);
      await until(() => pending.settled);
      assert.ok(isWeirError(pending.error, 'ERR_HTTP_HEADERS_TIMEOUT'), String(pending.error));
      assert.match((pending.error as Error).message, /200 ms/);
      assert.equal(http.stats().inFlight, 0);
    });

    test("a pool's sub-second headersTimeoutMs, and undici's headersTimeout through dispatch", async () => {
      const { s, held } = await holdingServer(h2);
      const clock = new FakeClock();
      const http = pool({ h2c: h2, clock, headersTimeoutMs: 300 });
      const a = watch(http.request(`${s.url}/a`));
      const b = watch(request(`${s.url}/b`, { dispatcher: http, headersTimeout: 150 }));
      await until(() => held.length === 2);
      await clock.advance(149);
      assert.equal(b.settled, false);
      await clock.advance(1);
      await until(() => b.settled);
      assert.ok(isWeirError(b.error, 'ERR_HTTP_HEADERS_TIMEOUT'), String(b.error));
      await clock.advance(149);
      assert.equal(a.settled, false);
      await clock.advance(1);
      await until(() => a.settled);
      assert.ok(isWeirError(a.error, 'ERR_HTTP_HEADERS_TIMEOUT'), String(a.error));
    });

    test('bodyTimeoutMs counts from the last body bytes', async () => {
      const { s, held } = await holdingServer(h2);
      const clock = new FakeClock();
      const http = pool({ h2c: h2, clock });
      const res = await (async () => {
        const p = http.request(`${s.url}/`, { bodyTimeoutMs: 300 });
        await until(() => held.length === 1);
        held[0]!.writeHead(200);
        held[0]!.write('1');
        return p;
      })();
      const it = res.body[Symbol.asyncIterator]();
      await it.next();
      await clock.advance(299);
      held[0]!.write('2');
      await it.next();
      await clock.advance(299);
      const next = watch(it.next());
      await clock.advance(0);
      assert.equal(next.settled, false, 'the second chunk moved the deadline');
      await clock.advance(1);
      await until(() => next.settled);
      assert.ok(isWeirError(next.error, 'ERR_HTTP_BODY_TIMEOUT'), String(next.error));
    });

    test('a body its reader holds paused does not time out', async () => {
      const { s, held } = await holdingServer(h2);
      const clock = new FakeClock();
      const http = pool({ h2c: h2, clock, bodyTimeoutMs: 100 });
      let paused = false;
      let controller: { pause(): void; resume(): void } | undefined;
      let body = '';
      const done = new Promise<unknown>((resolve) => {
        http.dispatch({ origin: s.url, path: '/', method: 'GET' }, {
          onRequestStart() {},
          onResponseStart(c: typeof controller) {
            controller = c;
          },
          onResponseData(c: { pause(): void }, chunk: Buffer) {
            body += chunk.toString();
            if (!paused) {
              paused = true;
              c.pause();
            }
          },
          onResponseEnd() {
            resolve(body);
          },
          onResponseError(_c: unknown, e: Error) {
            resolve(e);
          },
        } as never);
      });
      await until(() => held.length === 1);
      held[0]!.writeHead(200);
      held[0]!.write('first ');
      await until(() => paused);
      await clock.advance(10_000);
      held[0]!.end('rest');
      controller!.resume();
      assert.equal(await done, 'first rest');
    });

    test('a request body still being written does not trip the headers timeout', async () => {
      let got = '';
      const s = h2
        ? await h2cServer(async (req, res) => {
            for await (const c of req) got += c;
            res.end(`got ${got}`);
          })
        : await httpServer(async (req, res) => {
            for await (const c of req) got += c;
            res.end(`got ${got}`);
          });
      closers.push(() => s.close());
      const clock = new FakeClock();
      const http = pool({ h2c: h2, clock, headersTimeoutMs: 200 });
      let release: () => void = () => {};
      let sent = 0;
      const body = (async function* () {
        for (let i = 0; i < 3; i++) {
          yield Buffer.from(String(i));
          sent++;
          await new Promise<void>((r) => (release = r));
        }
      })();
      const pending = watch(http.request(`${s.url}/`, { method: 'PUT', body }));
      for (let i = 0; i < 3; i++) {
        await until(() => sent === i + 1 && got.length === i + 1);
        await clock.advance(150);
        assert.equal(pending.settled, false, `after chunk ${i}`);
        release();
      }
      await until(() => pending.settled);
      assert.equal(pending.error, undefined);
      assert.equal(await pending.value!.body.text(), 'got 012');
    });
  });
}
