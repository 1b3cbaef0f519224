// weir/managed through the package's own exports map, against the built files.
import assert from 'node:assert/strict';
import { test } from 'node:test';

test('weir/managed resolves to the built files and works', async () => {
  const { createManagedPool, createKeyedPool } = await import('weir/managed');
  let closed = 0;
  const pool = createManagedPool({
    connect: () => ({ ok: true }),
    close: () => {
      closed++;
    },
  });
  assert.equal(await pool.use((c) => c.ok), true);
  await pool.close();
  assert.equal(closed, 1);
  const keyed = createKeyedPool({
    pool: (key: string) => ({ manager: { connect: () => key, close: () => {} } }),
  });
  assert.equal(await keyed.use('a', (c) => c), 'a');
  await keyed.close();
  assert.match(import.meta.resolve('weir/managed'), /\/dist\/managed\/index\.js$/);
});
