// A fleet of pools sharing one connection budget through a RedisSemaphore: two pools
// (standing for two processes, each with its own semaphore object on the same key) never
// hold more connections together than the limit, and every caller is served.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { createPgPool } from '../../src/pg/index.js';
import { createPool } from '../../src/pool/index.js';
import { type RedisPermit, RedisSemaphore } from '../../src/redis/index.js';
import { needService, PG_URL, until } from '../helpers/services.js';
import { cleanup, client, skip, uniquePrefix } from './helpers.js';

const pgUrl = new URL(PG_URL);
const pgSkip =
  skip || (await needService('PostgreSQL', pgUrl.hostname, Number(pgUrl.port || 5432)));

describe('RedisSemaphore as the permits of pools', { skip }, () => {
  let redis: Redis;
  const prefix = uniquePrefix();
  const limit = 3;
  const semaphores: RedisSemaphore[] = [];
  const fleetMember = (key: string): RedisSemaphore => {
    const s = new RedisSemaphore({ redis, prefix, key, limit, leaseMs: 5000 });
    semaphores.push(s);
    return s;
  };

  before(() => {
    redis = client();
  });
  after(async () => {
    for (const s of semaphores) await s.close();
    await cleanup(redis, prefix);
    redis.disconnect();
  });

  test('createPgPool({ permits }): two pools share one budget of connections', {
    skip: pgSkip,
  }, async () => {
    const app = `weir-redis-${prefix.slice(11, 19)}`;
    const connection = { connectionString: PG_URL, application_name: app };
    const options = { connection, max: 5, idleTimeoutMs: 20 };
    const a = createPgPool({ ...options, permits: fleetMember('pg') });
    const b = createPgPool({ ...options, permits: fleetMember('pg') });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    // The server's own count of connections the two pools have open.
    let most = 0;
    let running = true;
    const sampling = (async () => {
      for (let i = 0; i < 10_000 && running; i++) {
        const r = await admin.query(
          'select count(*)::int as n from pg_stat_activity where application_name = $1',
          [app],
        );
        most = Math.max(most, r.rows[0].n as number);
      }
    })();
    const run = async (pool: typeof a): Promise<void> => {
      for (let i = 0; i < 5; i++) {
        const r = await pool.query('select pg_sleep(0.01), 1 as one');
        assert.equal(r.rows[0]?.one, 1);
      }
    };
    await Promise.all([
      ...Array.from({ length: 6 }, () => run(a)),
      ...Array.from({ length: 6 }, () => run(b)),
    ]);
    running = false;
    await sampling;
    await a.close();
    await b.close();
    await admin.end();
    assert.ok(most >= 1, 'the sampler saw the pools working');
    assert.ok(most <= limit, `at most ${limit} connections open at once, saw ${most}`);
    const last = semaphores.at(-1) as RedisSemaphore;
    await until(async () => (await last.count()).held === 0, 'every permit given back');
    assert.deepEqual(await last.count(), { held: 0, waiting: 0 });
  });

  test('createPool: create takes a permit and destroy gives it back', async () => {
    const held = new Set<object>();
    let most = 0;
    const make = (s: RedisSemaphore) =>
      createPool<{ permit: RedisPermit }>({
        max: 4,
        idleTimeoutMs: 10,
        create: async (signal) => {
          const permit = await s.acquire({ signal });
          const r = { permit };
          held.add(r);
          most = Math.max(most, held.size);
          return r;
        },
        destroy: async (r) => {
          held.delete(r);
          await r.permit.release();
        },
      });
    const a = make(fleetMember('pool'));
    const b = make(fleetMember('pool'));
    const work = (pool: ReturnType<typeof make>) =>
      pool.use(() => new Promise((r) => setTimeout(r, 5)));
    await Promise.all(Array.from({ length: 16 }, (_, i) => work(i % 2 === 0 ? a : b)));
    await a.close();
    await b.close();
    assert.ok(most <= limit, `at most ${limit} resources at once, saw ${most}`);
    assert.equal(held.size, 0);
  });
});
