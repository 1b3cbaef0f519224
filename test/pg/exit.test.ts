// allowExitOnIdle: idle connections' sockets do not keep the process alive, leased ones
// do. Each case runs in a child process against the built package and must end on its own.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPgPool } from '../../src/pg/index.js';
import { runScript } from '../helpers/exit.js';
import { needService, PG_URL } from '../helpers/services.js';

const url = new URL(PG_URL);
const skip = await needService('PostgreSQL', url.hostname, Number(url.port || 5432));

describe('weir/pg lets the process exit while connections are idle', {
  skip,
  concurrency: true,
}, () => {
  test('an undrained createPgPool({ min: 2 })', async () => {
    const r = await runScript(`
      import { createPgPool } from 'weir/pg';
      const db = createPgPool({ connection: ${JSON.stringify(PG_URL)}, min: 2 });
      const { rows } = await db.query('SELECT 1 AS n');
      console.log('ready', rows[0].n);
    `);
    assert.equal(r.hung, false, 'idle connections held the process open');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ready 1$/m);
  });

  test('a leased connection keeps the process alive until it is released', async () => {
    // Only the leased connection's socket can keep this process running until the unref'd
    // timer fires; once released, its socket no longer holds the process.
    const r = await runScript(`
      import { createPgPool } from 'weir/pg';
      const db = createPgPool({ connection: ${JSON.stringify(PG_URL)}, max: 1 });
      const lease = await db.connect();
      setTimeout(async () => {
        const { rows } = await lease.query('SELECT 2 AS n');
        console.log('queried', rows[0].n);
        lease.release();
      }, 20).unref();
    `);
    assert.equal(r.hung, false, 'the released connection held the process open');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^queried 2$/m, 'the leased connection kept the process alive');
  });
});

test('allowExitOnIdle must be a boolean', () => {
  assert.throws(
    () => createPgPool({ allowExitOnIdle: 'yes' as never }),
    /`allowExitOnIdle` to be a boolean/,
  );
});
