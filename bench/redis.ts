// weir/redis against the incumbents, all on ioredis, same server, same run:
// - RedisSemaphore against redis-semaphore 5.8: uncontended acquire+release latency
//   (p50/p99), and 20 workers sharing a limit of 5 with 5 ms holds (wall time against the
//   ideal, acquire p99);
// - RedisRateLimiter.tryAcquire against rate-limiter-flexible's RateLimiterRedis.consume:
//   checks per second, one at a time and 64 in flight, in alternating rounds;
// - RedisChannel: messages per second sent, received and acknowledged.
// Skips if Redis is down.
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { Semaphore as IncumbentSemaphore } from 'redis-semaphore';
import { RedisChannel, RedisRateLimiter, RedisSemaphore } from 'weir/redis';
import { compare, percentile, rate, table } from './lib.js';

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
// ---- rate limiter: checks per second ----------------------------------------------
// A rate no check reaches, so every check is a grant and both do the same work per call.
const huge = 1e9;
const weirLimiter = new RedisRateLimiter({
  redis,
  prefix,
  key: 'rate',
  ratePerSecond: huge,
  burst: huge,
});
const rlf = new RateLimiterRedis({
  storeClient: redis,
  keyPrefix: `${prefix}rlf`,
  points: huge,
  duration: 1,
});
const inFlight = async (n: number, width: number, check: () => Promise<unknown>) => {
  let left = n;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (left-- > 0) await check();
    }),
  );
};
const limiterRows: (string | number)[][] = [];
for (const width of [1, 64]) {
  const results = await compare(
    [
      {
        name: 'weir RedisRateLimiter.tryAcquire',
        run: (n) => inFlight(n, width, () => weirLimiter.tryAcquire()),
      },
      {
        name: 'rate-limiter-flexible RateLimiterRedis.consume',
        run: (n) => inFlight(n, width, () => rlf.consume('k')),
      },
    ],
    { rounds: 5, roundMs: 500 },
  );
  const [w, r] = results as unknown as [{ opsPerSec: number }, { opsPerSec: number }];
  limiterRows.push([
    width,
    `${rate(w.opsPerSec)}/s`,
    `${rate(r.opsPerSec)}/s`,
    (w.opsPerSec / r.opsPerSec).toFixed(2),
  ]);
}
console.log('\nrate limiter: checks per second (median of 5 alternating rounds)\n');
table(['in flight', 'weir', 'rate-limiter-flexible', 'ratio'], limiterRows);

// ---- channel: messages per second with acks ----------------------------------------
const MESSAGES = 20_000;
const channelRows: (string | number)[][] = [];
for (const consumers of [1, 2]) {
  const key = `chan-${consumers}`;
  const producer = new RedisChannel<number>({ redis, prefix, key, capacity: 1000 });
  // Each consumer object has its own blocking connection, as separate processes would.
  const cs = Array.from(
    { length: consumers },
    () => new RedisChannel<number>({ redis, prefix, key, capacity: 1000, prefetch: 64 }),
  );
  let received = 0;
  const t0 = performance.now();
  let sent = 0;
  const sending = Promise.all(
    Array.from({ length: 16 }, async () => {
      while (sent < MESSAGES) await producer.send(sent++);
    }),
  );
  await Promise.all([
    sending,
    ...cs.flatMap((c) =>
      Array.from({ length: 16 }, async () => {
        while (received < MESSAGES) {
          const ac = new AbortController();
          const m = await c.receive({ signal: ac.signal }).catch(() => undefined);
          if (m === undefined) break;
          received++;
          await m.ack();
          if (received >= MESSAGES) for (const other of cs) void other.close();
        }
      }),
    ),
  ]);
  const wall = performance.now() - t0;
  channelRows.push([consumers, MESSAGES, wall.toFixed(0), `${rate((MESSAGES / wall) * 1000)}/s`]);
  await producer.close();
  for (const c of cs) await c.close();
}
console.log(
  '\nchannel: send + receive + ack, capacity 1000, 16 sending tasks, 16 receiving tasks per consumer\n',
);
table(['consumers', 'messages', 'wall ms', 'messages/s'], channelRows);

const keys = await redis.keys(`${prefix}*`);
if (keys.length > 0) await redis.del(...keys);
redis.disconnect();
process.exit(0);
