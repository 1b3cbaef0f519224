// RedisSemaphore against redis-semaphore 5.8 (both on ioredis, same server, same run):
// uncontended acquire+release latency (p50/p99), and 20 workers sharing a limit of 5 with
// 5 ms holds (wall time against the ideal, acquire p99). Skips if Redis is down.
import { Redis } from 'ioredis';
import { Semaphore as IncumbentSemaphore } from 'redis-semaphore';
import { RedisSemaphore } from 'weir/redis';
import { percentile, table } from './lib.js';

const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
try {
  await redis.connect();
} catch (error) {
  console.log(`bench/redis: Redis is not reachable at 127.0.0.1:6379 (${String(error)}); skipped`);
  process.exit(0);
}
const prefix = `weir-bench:${process.pid}:`;
const UNCONTENDED = 2000;
const WORKERS = 20;
const LIMIT = 5;
const HOLD_MS = 5;
const PER_WORKER = 10;
const ideal = (WORKERS * PER_WORKER * HOLD_MS) / LIMIT;

interface Impl {
  name: string;
  make(key: string, limit: number): { acquire(): Promise<() => Promise<void>> };
}

const impls: Impl[] = [
  {
    name: 'weir RedisSemaphore',
    make(key, limit) {
      const s = new RedisSemaphore({ redis, prefix, key, limit });
      return {
        async acquire() {
          const p = await s.acquire();
          return () => p.release();
        },
      };
    },
  },
  {
    name: 'redis-semaphore 5.8',
    make(key, limit) {
      return {
        async acquire() {
          const s = new IncumbentSemaphore(redis, `${prefix}${key}`, limit, {
            acquireTimeout: 60_000,
          });
          await s.acquire();
          return () => s.release();
        },
      };
    },
  },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rows: (string | number)[][] = [];
for (const impl of impls) {
  const u = impl.make(`u-${impl.name.length}`, 1);
  for (let i = 0; i < 200; i++) await (await u.acquire())(); // warm-up
  const lat: number[] = [];
  for (let i = 0; i < UNCONTENDED; i++) {
    const t = performance.now();
    const release = await u.acquire();
    await release();
    lat.push(performance.now() - t);
  }
  const c = impl.make(`c-${impl.name.length}`, LIMIT);
  const waits: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      for (let i = 0; i < PER_WORKER; i++) {
        const t = performance.now();
        const release = await c.acquire();
        waits.push(performance.now() - t);
        await sleep(HOLD_MS);
        await release();
      }
    }),
  );
  const wall = performance.now() - t0;
  rows.push([
    impl.name,
    percentile(lat, 50).toFixed(3),
    percentile(lat, 99).toFixed(3),
    wall.toFixed(0),
    (wall / ideal).toFixed(2),
    percentile(waits, 99).toFixed(1),
  ]);
}
console.log(
  `uncontended: ${UNCONTENDED} acquire+release; contended: ${WORKERS} workers x ${PER_WORKER}, limit ${LIMIT}, ${HOLD_MS} ms holds (ideal ${ideal} ms)\n`,
);
table(
  ['semaphore', 'uncontended p50 ms', 'p99 ms', 'contended wall ms', 'x ideal', 'acquire p99 ms'],
  rows,
);
const keys = await redis.keys(`${prefix}*`);
if (keys.length > 0) await redis.del(...keys);
redis.disconnect();
process.exit(0);
