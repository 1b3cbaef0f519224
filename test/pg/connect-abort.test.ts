// A connect aborted while node-postgres waits for the server settles at once: the pool's
// close (or a create timeout) gives back what the connect held, such as a fleet-wide
// permit. node-postgres itself never settles a connect whose client was ended mid-way.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPgPool } from '../../src/pg/index.js';
import { needService, PG_URL, proxy, until } from '../helpers/services.js';

const url = new URL(PG_URL);
const skip = await needService('PostgreSQL', url.hostname, Number(url.port || 5432));

describe('weir/pg: a connect aborted in flight', { skip }, () => {
  test('closing the pool during a connect releases the permit the connect took', async () => {
    const gate = await proxy(url.hostname, Number(url.port || 5432));
    // The relay accepts the TCP connection and forwards nothing: the connect stays in flight.
    gate.hold();
    let taken = 0;
    let released = 0;
    const db = createPgPool({
      connection: {
        host: '127.0.0.1',
        port: gate.port,
        user: url.username || 'postgres',
        database: url.pathname.slice(1),
      },
      max: 1,
      permits: {
        acquire: async () => {
          taken++;
          return { release: () => void released++ };
        },
      },
    });
    const query = db.query('SELECT 1');
    query.catch(() => {});
    await until(() => taken === 1, 'the connect to take its permit');
    await db.close();
    await assert.rejects(query);
    await until(() => released === 1, 'the permit to be released');
    assert.equal(released, 1);
    gate.release();
    await gate.down();
  });
});
