// A misspelt option key (`acquireTimeout`, `maxConnections`) used to be ignored, so the
// option silently kept its default. Every public function that takes an options object
// now rejects a key it does not know, naming the nearest valid one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { after, Channel, fanOut, select, ticker } from '../../src/channel/index.js';
import { createHttpPool } from '../../src/http/index.js';
import { FakeClock } from '../../src/internal/clock.js';
import { checkKeys, nearest, optionKeys } from '../../src/internal/options.js';
import {
  BufferPool,
  jsonArray,
  ndjson,
  parseJsonArray,
  parseNdjson,
  toResponse,
  writeTo,
} from '../../src/json/index.js';
import { createLibsqlPool } from '../../src/libsql/index.js';
import { createPgPool } from '../../src/pg/index.js';
import { createPool } from '../../src/pool/index.js';
import {
  CircuitBreaker,
  decorrelatedJitter,
  exponentialBackoff,
  linearBackoff,
  RateLimiter,
  retry,
  retryPolicy,
  Semaphore,
  timeoutPolicy,
  withTimeout,
  wrap,
} from '../../src/resilience/index.js';
import { connectSse, createSseStream, SseHub, SseParser } from '../../src/sse/index.js';
import { stream } from '../../src/stream/index.js';
import { needService, PG_URL } from '../helpers/services.js';

// Option objects typed loosely on purpose: these are the mistakes TypeScript users make
// through a spread or an `any`, and JavaScript users make outright.
// biome-ignore lint/suspicious/noExplicitAny: see above
const bad = (o: Record<string, unknown>): any => o;

/** Runs `call` and expects it to fail (throw, reject, or fail its first pull) with the message. */
async function rejectsWith(call: () => unknown, message: RegExp): Promise<void> {
  let outcome: unknown;
  try {
    outcome = call();
    if (outcome !== null && typeof outcome === 'object' && Symbol.asyncIterator in outcome) {
      outcome = (outcome as unknown as AsyncIterator<unknown>).next();
    }
    await outcome;
  } catch (error) {
    assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
    assert.match(error.message, message);
    return;
  }
  assert.fail(`expected ${message} but the call succeeded`);
}

const unknown = (key: string, where: string, hint?: string): RegExp =>
  new RegExp(
    `^Unknown option \`${key}\` of ${where.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}` +
      (hint === undefined ? '' : `; did you mean \`${hint}\`\\?$`),
  );

describe('the nearest valid key', () => {
  const poolKeys = ['create', 'min', 'max', 'acquireTimeoutMs', 'idleTimeoutMs', 'maxWaiting'];
  const httpKeys = ['connections', 'minConnections', 'idleTimeoutMs', 'acquireTimeoutMs'];

  test('a key missing its unit finds the key with it', () => {
    assert.equal(nearest('acquireTimeout', poolKeys), 'acquireTimeoutMs');
  });

  test('a key with a prefix of its own finds the key it contains', () => {
    assert.equal(nearest('maxConnections', httpKeys), 'connections');
    assert.equal(nearest('maxConnections', poolKeys), 'max');
  });

  test('typos, transpositions and case slips', () => {
    assert.equal(nearest('singal', ['signal', 'timeoutMs']), 'signal');
    assert.equal(nearest('maxWaitng', poolKeys), 'maxWaiting');
    assert.equal(nearest('idletimeoutms', poolKeys), 'idleTimeoutMs');
  });

  test('nothing close: no guess, and the message lists the options', () => {
    assert.equal(nearest('frobnicate', poolKeys), undefined);
    assert.throws(
      () => checkKeys('f', { frobnicate: 1 }, optionKeys<{ a?: 1; b?: 1 }>({ a: 1, b: 1 })),
      { name: 'TypeError', message: 'Unknown option `frobnicate` of f; the options are `a`, `b`' },
    );
  });

  test('undefined, known keys and non-objects pass', () => {
    const keys = optionKeys<{ signal?: 1 }>({ signal: 1 });
    checkKeys('f', undefined, keys);
    checkKeys('f', { signal: 1 }, keys);
    checkKeys('f', 7, keys);
  });
});

describe('every public options object rejects an unknown key', () => {
  test('weir/pool: createPool and its nested options, acquire, resize, drain', async () => {
    const create = () => ({});
    await rejectsWith(
      () => createPool(bad({ create, acquireTimeout: 1_000 })),
      unknown('acquireTimeout', 'createPool', 'acquireTimeoutMs'),
    );
    await rejectsWith(
      () => createPool(bad({ create, maxConnections: 5 })),
      unknown('maxConnections', 'createPool', 'max'),
    );
    await rejectsWith(
      () => createPool({ create, breaker: bad({ treshold: 3 }) }),
      unknown('treshold', "createPool's `breaker`", 'threshold'),
    );
    await rejectsWith(
      () => createPool({ create, autoscale: bad({ min: 1, max: 10, target: 5 }) }),
      unknown('target', "createPool's `autoscale`", 'targetWaitMs'),
    );
    await rejectsWith(
      () => createPool({ create, createRetry: bad({ initialDelay: 5 }) }),
      unknown('initialDelay', "createPool's `createRetry`", 'initialDelayMs'),
    );
    const pool = createPool({ create, max: 1 });
    await rejectsWith(
      () => pool.acquire(bad({ singal: AbortSignal.timeout(10) })),
      unknown('singal', 'Pool.acquire', 'signal'),
    );
    await rejectsWith(
      () => pool.use(() => 1, bad({ timeout: 5 })),
      unknown('timeout', 'Pool.acquire'),
    );
    await rejectsWith(
      () => pool.resize(bad({ maximum: 2 })),
      unknown('maximum', 'Pool.resize', 'max'),
    );
    await rejectsWith(
      () => pool.drain(bad({ timeout: 5 })),
      unknown('timeout', 'Pool.drain', 'timeoutMs'),
    );
    assert.equal(pool.stats().leased, 0);
    await pool.close();
  });

  test('weir/channel: send, receive, values, select, fanOut, after, ticker', async () => {
    const ch = new Channel<number>(1);
    const where = 'Channel.send/receive/values';
    await rejectsWith(
      () => ch.send(1, bad({ singal: undefined })),
      unknown('singal', where, 'signal'),
    );
    await rejectsWith(() => ch.receive(bad({ timeoutMs: 5 })), unknown('timeoutMs', where));
    await rejectsWith(() => ch.values(bad({ sig: undefined })), unknown('sig', where));
    await rejectsWith(
      () => select([], bad({ timeout: 5 })),
      unknown('timeout', 'select', 'timeoutMs'),
    );
    await rejectsWith(() => fanOut(ch, 2, bad({ cap: 1 })), unknown('cap', 'fanOut', 'capacity'));
    await rejectsWith(
      () => after(5, bad({ clok: new FakeClock() })),
      unknown('clok', 'after/ticker', 'clock'),
    );
    await rejectsWith(
      () => ticker(5, bad({ signl: undefined })),
      unknown('signl', 'after/ticker', 'signal'),
    );
  });

  test('weir/stream: operators and terminals', async () => {
    const s = stream([1, 2, 3]);
    await rejectsWith(
      () => s.map((x) => x, bad({ concurency: 2 })),
      unknown('concurency', 'Stream.map', 'concurrency'),
    );
    await rejectsWith(
      () => s.batch(2, bad({ maxWait: 5 })),
      unknown('maxWait', 'Stream.batch', 'maxWaitMs'),
    );
    await rejectsWith(
      () => s.rateLimit(5, bad({ bursts: 2 })),
      unknown('bursts', 'Stream.rateLimit', 'burst'),
    );
    await rejectsWith(
      () => s.timeout(5, bad({ signal: undefined })),
      unknown('signal', 'Stream.timeout'),
    );
    const terminal = 'Stream.toArray/reduce/forEach/first/count';
    await rejectsWith(
      () => s.toArray(bad({ singal: undefined })),
      unknown('singal', terminal, 'signal'),
    );
    await rejectsWith(() => s.reduce((a, b) => a + b, 0, bad({ x: 1 })), unknown('x', terminal));
    await rejectsWith(() => s.forEach(() => {}, bad({ x: 1 })), unknown('x', terminal));
    await rejectsWith(() => s.first(bad({ x: 1 })), unknown('x', terminal));
    await rejectsWith(() => s.count(bad({ x: 1 })), unknown('x', terminal));
    await rejectsWith(
      () => s.pipeTo(new Channel(3), bad({ end: false })),
      unknown('end', 'Stream.pipeTo'),
    );
    await rejectsWith(
      () => s.toReadable(bad({ highWatermark: 2 })),
      unknown('highWatermark', 'Stream.toReadable', 'highWaterMark'),
    );
    await rejectsWith(() => s.values(bad({ x: 1 })), unknown('x', 'Stream.values'));
    await rejectsWith(() => s.toReadableStream(bad({ x: 1 })), unknown('x', 'Stream.values'));
    // pipeTo hands the terminal only what it knows: `close` is pipeTo's own option.
    const out = new Channel<number>(3);
    await s.pipeTo(out, { close: true });
    assert.equal(out.closed, true);
  });

  test('weir/resilience: every policy, its execute, and the backoffs', async () => {
    const fn = () => 1;
    await rejectsWith(
      () => new CircuitBreaker(bad({ treshold: 3 })),
      unknown('treshold', 'CircuitBreaker', 'threshold'),
    );
    await rejectsWith(
      () => new CircuitBreaker({ policy: 'rolling', rolling: bad({ window: 1_000 }) }),
      unknown('window', "CircuitBreaker's `rolling`", 'windowMs'),
    );
    await rejectsWith(
      () => new CircuitBreaker().execute(fn, bad({ singal: undefined })),
      unknown('singal', 'CircuitBreaker.execute', 'signal'),
    );
    await rejectsWith(
      () => new RateLimiter(bad({ ratePerSecond: 5, rate: 5 })),
      unknown('rate', 'RateLimiter'),
    );
    const limiter = new RateLimiter({ ratePerSecond: 5 });
    await rejectsWith(() => limiter.acquire(1, bad({ x: 1 })), unknown('x', 'RateLimiter.acquire'));
    await rejectsWith(
      () => limiter.execute(fn, bad({ x: 1 })),
      unknown('x', 'RateLimiter.execute'),
    );
    await rejectsWith(
      () => new Semaphore(1, bad({ maxWait: 1 })),
      unknown('maxWait', 'Semaphore', 'maxWaiting'),
    );
    await rejectsWith(
      () => new Semaphore(1).acquire(bad({ x: 1 })),
      unknown('x', 'Semaphore.acquire'),
    );
    await rejectsWith(
      () => new Semaphore(1).execute(fn, bad({ x: 1 })),
      unknown('x', 'Semaphore.execute'),
    );
    await rejectsWith(() => retry(fn, bad({ retries: 3 })), unknown('retries', 'retry'));
    await rejectsWith(
      () => retryPolicy(bad({ signal: undefined })),
      unknown('signal', 'retryPolicy'),
    );
    await rejectsWith(
      () => retryPolicy().execute(fn, bad({ x: 1 })),
      unknown('x', 'retryPolicy execute'),
    );
    await rejectsWith(
      () => withTimeout(fn, 5, bad({ clok: 1 })),
      unknown('clok', 'withTimeout', 'clock'),
    );
    await rejectsWith(
      () => timeoutPolicy(5, bad({ signal: undefined })),
      unknown('signal', 'timeoutPolicy'),
    );
    await rejectsWith(
      () => timeoutPolicy(5).execute(fn, bad({ x: 1 })),
      unknown('x', 'timeoutPolicy execute'),
    );
    await rejectsWith(() => wrap().execute(fn, bad({ x: 1 })), unknown('x', 'wrap execute'));
    await rejectsWith(
      () => linearBackoff(bad({ step: 1 })),
      unknown('step', 'linearBackoff', 'stepMs'),
    );
    await rejectsWith(
      () => exponentialBackoff(bad({ initial: 1 })),
      unknown('initial', 'exponentialBackoff', 'initialMs'),
    );
    await rejectsWith(
      () => decorrelatedJitter(bad({ base: 1 })),
      unknown('base', 'decorrelatedJitter', 'baseMs'),
    );
  });

  test('weir/http: pool, origin, tls and breaker options; request, download, upload', async () => {
    await rejectsWith(
      () => createHttpPool(bad({ maxConnections: 5 })),
      unknown('maxConnections', 'createHttpPool', 'connections'),
    );
    await rejectsWith(
      () => createHttpPool({ origins: { 'http://127.0.0.1:1': bad({ headersTimeout: 5 }) } }),
      unknown('headersTimeout', "an origin of createHttpPool's `origins`", 'headersTimeoutMs'),
    );
    await rejectsWith(
      () => createHttpPool({ tls: bad({ ca: 'x', ciphers: 'x' }) }),
      unknown('ciphers', "createHttpPool's `tls`"),
    );
    await rejectsWith(
      () => createHttpPool({ breaker: bad({ treshold: 1 }) }),
      unknown('treshold', "createHttpPool's `breaker`", 'threshold'),
    );
    const http = createHttpPool();
    const url = 'http://127.0.0.1:1/';
    await rejectsWith(
      () => http.request(url, bad({ header: {} })),
      unknown('header', 'HttpPool.request', 'headers'),
    );
    await rejectsWith(
      () => http.download(url, '/dev/null', bad({ onprogress: () => {} })),
      unknown('onprogress', 'HttpPool.download', 'onProgress'),
    );
    await rejectsWith(
      () => http.upload(url, 'x', bad({ length: 1 })),
      unknown('length', 'HttpPool.upload'),
    );
    assert.equal(http.stats().connections, 0);
    await http.close();
  });

  test('weir/json: BufferPool, parsers, encoders, writeTo, toResponse', async () => {
    await rejectsWith(() => new BufferPool(bad({ size: 1 })), unknown('size', 'BufferPool'));
    await rejectsWith(
      () => parseJsonArray([], bad({ maxItemSize: 1 })),
      unknown('maxItemSize', 'parseJsonArray/parseNdjson'),
    );
    await rejectsWith(
      () => parseNdjson([], bad({ x: 1 })),
      unknown('x', 'parseJsonArray/parseNdjson'),
    );
    await rejectsWith(
      () => jsonArray([], bad({ chunkSize: 1 })),
      unknown('chunkSize', 'jsonArray'),
    );
    await rejectsWith(
      () => jsonArray([], bad({ errorLine: () => 1 })),
      unknown('errorLine', 'jsonArray'),
    );
    await rejectsWith(
      () => ndjson([], bad({ transfrom: (x: unknown) => x })),
      unknown('transfrom', 'ndjson', 'transform'),
    );
    await rejectsWith(
      () => writeTo(bad({}), [], bad({ compression: 'auto' })),
      unknown('compression', 'writeTo', 'compress'),
    );
    await rejectsWith(
      () => toResponse([], bad({ signal: undefined })),
      unknown('signal', 'toResponse'),
    );
  });

  test('weir/sse: hub, parser, client, writer', async () => {
    await rejectsWith(
      () => new SseHub(bad({ history: 5 })),
      unknown('history', 'SseHub', 'historySize'),
    );
    await rejectsWith(
      () => new SseParser(bad({ onEvent: () => {}, onMessage: () => {} })),
      unknown('onMessage', 'SseParser'),
    );
    await rejectsWith(
      () => connectSse('http://127.0.0.1:1/', bad({ retries: 1 })),
      unknown('retries', 'connectSse', 'maxRetries'),
    );
    await rejectsWith(
      () => createSseStream(bad({}), bad({ keepAlive: 5 })),
      unknown('keepAlive', 'createSseStream', 'keepAliveMs'),
    );
  });

  test('weir/libsql: the pool, transaction and rows', async () => {
    await rejectsWith(
      () => createLibsqlPool(bad({ url: ':memory:', token: 'x' })),
      unknown('token', 'createLibsqlPool'),
    );
    const db = createLibsqlPool({ url: ':memory:' });
    await rejectsWith(
      () => db.transaction(async () => 1, bad({ mod: 'read' })),
      unknown('mod', 'LibsqlPool.transaction', 'mode'),
    );
    await rejectsWith(
      () => db.rows('SELECT 1', [], bad({ batch: 5 })),
      unknown('batch', 'LibsqlPool.rows', 'batchSize'),
    );
    // The keys meant for the pool still reach it: a transaction's mode and a page size do not.
    assert.equal(
      await db.transaction(async (tx) => (await tx.execute('SELECT 1 AS n')).rows.length, {
        mode: 'read',
        timeoutMs: 1_000,
      }),
      1,
    );
    const rows = [];
    for await (const row of db.rows('SELECT 1 AS n', [], { batchSize: 1, priority: 1 }))
      rows.push(row);
    assert.equal(rows.length, 1);
    await db.close();
  });

  test('weir/pg: the pool, query and transaction, before any connection is taken', async () => {
    await rejectsWith(
      () => createPgPool(bad({ connectionString: PG_URL })),
      unknown('connectionString', 'createPgPool', 'connection'),
    );
    const db = createPgPool({ connection: 'postgres://127.0.0.1:1/none', createTimeoutMs: 50 });
    await rejectsWith(
      () => db.query('SELECT 1', [], bad({ timeout: 5 })),
      unknown('timeout', 'PgPool.query', 'timeoutMs'),
    );
    await rejectsWith(
      () => db.transaction(async () => 1, bad({ isolationLevel: 'serializable' })),
      unknown('isolationLevel', 'PgPool.transaction', 'isolation'),
    );
    assert.equal(db.stats().size, 0);
    await db.close();
  });
});

const url = new URL(PG_URL);
const skip = await needService('PostgreSQL', url.hostname, Number(url.port || 5432));

test("weir/pg: a lease's query", { skip }, async () => {
  const db = createPgPool({ connection: PG_URL, max: 1 });
  try {
    await using lease = await db.connect();
    await rejectsWith(
      () => lease.query('SELECT 1', [], bad({ priority: 1 })),
      unknown('priority', 'PgLease.query (or Transaction.query)'),
    );
    assert.equal((await lease.query('SELECT 1 AS n', [], { timeoutMs: 1_000 })).rows[0]?.n, 1);
  } finally {
    await db.close();
  }
});
