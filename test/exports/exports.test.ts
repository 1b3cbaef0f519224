// Runs against the built package through its own `exports` map, so a broken map or a
// missing build output fails here (`npm test` builds first, and points the loader at a
// tsconfig without the `paths` that map `weir/*` to the sources for type checking).
import assert from 'node:assert/strict';
import { test } from 'node:test';

test('weir/pool resolves to the built files and works', async () => {
  const { createPool, isWeirError } = await import('weir/pool');
  const pool = createPool({ create: () => ({ ok: true }), max: 1 });
  const value = await pool.use((r) => r.ok);
  assert.equal(value, true);
  await pool.close();
  await assert.rejects(pool.acquire(), (e: unknown) => isWeirError(e, 'ERR_POOL_CLOSED'));
  assert.match(import.meta.resolve('weir/pool'), /\/dist\/pool\/index\.js$/);
});

test('the root entry and every core subpath resolve to built files', async () => {
  const root = await import('weir');
  for (const name of [
    'createPool',
    'Channel',
    'select',
    'stream',
    'CircuitBreaker',
    'retry',
    'RateLimiter',
    'Semaphore',
  ]) {
    assert.equal(typeof (root as Record<string, unknown>)[name], 'function', name);
  }
  const channel = await import('weir/channel');
  const s = await import('weir/stream');
  const resilience = await import('weir/resilience');
  assert.equal(typeof channel.Channel, 'function');
  assert.deepEqual(
    await s
      .stream([1, 2, 3])
      .map((x) => x * 2)
      .toArray(),
    [2, 4, 6],
  );
  assert.equal(typeof resilience.withTimeout, 'function');
  assert.match(import.meta.resolve('weir/stream'), /\/dist\/stream\/index\.js$/);
});

test('integration subpaths resolve to built files', async () => {
  const { createPgPool } = await import('weir/pg');
  const { createLibsqlPool } = await import('weir/libsql');
  const { createHttpPool } = await import('weir/http');
  const { jsonArray } = await import('weir/json');
  const { SseParser } = await import('weir/sse');
  assert.equal(typeof createHttpPool, 'function');
  assert.equal(typeof SseParser, 'function');
  const bytes = await jsonArray([{ a: 1 }, { b: 2 }]).toArray();
  assert.deepEqual(JSON.parse(Buffer.concat(bytes).toString()), [{ a: 1 }, { b: 2 }]);
  assert.equal(typeof createPgPool, 'function');
  assert.equal(typeof createLibsqlPool, 'function');
});

test('internals are not reachable', async () => {
  await assert.rejects(
    import('weir/internal/errors.js' as string),
    (e: unknown) => (e as { code?: string }).code === 'ERR_PACKAGE_PATH_NOT_EXPORTED',
  );
});
