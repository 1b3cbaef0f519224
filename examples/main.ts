// `npm start`: weir's core at work. Part 1: 200 concurrent tasks share 8 simulated
// connections whose factory is slow and sometimes fails; the pool queues them fairly,
// retries creation with backoff and reports what it did. Part 2: a pipeline that reads
// 1,000 jobs lazily, runs them 8 at a time through the pool under a rate limit, and
// hands batches to a consumer through a bounded channel that pushes back.
import { Channel } from '../src/channel/index.js';
import { createPool, isWeirError } from '../src/pool/index.js';
import { RateLimiter } from '../src/resilience/index.js';
import { stream } from '../src/stream/index.js';

let nextId = 0;
class Connection {
  readonly id = ++nextId;
  queries = 0;
  async query(ms: number): Promise<number> {
    await new Promise((r) => setTimeout(r, ms));
    this.queries++;
    return this.id;
  }
}

const pool = createPool({
  name: 'db',
  min: 2,
  max: 8,
  acquireTimeoutMs: 2_000,
  // A connection takes 20-40 ms to open and one attempt in five fails.
  create: async () => {
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 20));
    if (Math.random() < 0.2) throw new Error('connection refused');
    return new Connection();
  },
  destroy: () => {},
  validate: () => true,
  maxUses: 50,
  statsSampleEvery: 1,
});
pool.on('createError', (e) =>
  console.log(`  create failed (${String(e.error)}), retry in ${Math.round(e.retryInMs)} ms`),
);

console.log('weir pool demo: 200 tasks, 8 connections at most\n');
const started = performance.now();
const results = await Promise.allSettled(
  Array.from({ length: 200 }, (_, i) => pool.use((conn) => conn.query(2 + (i % 5)))),
);
const elapsed = performance.now() - started;
const ok = results.filter((r) => r.status === 'fulfilled').length;
const failed = results.filter((r) => r.status === 'rejected');
const codes = new Map<string, number>();
for (const r of failed) {
  const code = isWeirError(r.reason) ? r.reason.code : 'other';
  codes.set(code, (codes.get(code) ?? 0) + 1);
}

const s = pool.stats();
console.log(
  `\n${ok} tasks done, ${failed.length} failed ${JSON.stringify(Object.fromEntries(codes))} in ${Math.round(elapsed)} ms`,
);
console.log(
  `connections: created ${s.created}, destroyed ${s.destroyed}, open ${s.size} (max ${s.max})`,
);
console.log(
  `acquires: ${s.acquired}, reuse ${(s.acquired / Math.max(1, s.created)).toFixed(1)} per connection`,
);
console.log(
  `wait: p50 ${s.waitMs.p50.toFixed(1)} ms, p99 ${s.waitMs.p99.toFixed(1)} ms; create errors ${s.createErrors}; breaker ${s.breaker}`,
);

console.log(
  '\npipeline: 1,000 jobs -> map(concurrency 8, via the pool) -> batch(100) -> channel(2) -> consumer',
);
const limiter = new RateLimiter({ ratePerSecond: 20_000, burst: 200 });
const batches = new Channel<number[]>(2);
let maxBuffered = 0;
const consumer = (async () => {
  let rows = 0;
  for await (const batch of batches) {
    await new Promise((r) => setTimeout(r, 80)); // a slow consumer: the producer waits for it
    maxBuffered = Math.max(maxBuffered, batches.length);
    rows += batch.length;
  }
  return rows;
})();
function* jobs() {
  for (let i = 0; i < 1000; i++) yield i;
}
const t0 = performance.now();
await stream(jobs())
  .map(
    async (job) => {
      await limiter.acquire();
      return pool.use((conn) => conn.query(job % 3)).catch(() => -1);
    },
    { concurrency: 8 },
  )
  .batch(100)
  .pipeTo(batches);
// pipeTo closed the channel when the stream ended, so the consumer's loop ends too.
const rows = await consumer;
console.log(
  `${rows} results in ${Math.round(performance.now() - t0)} ms; the channel held at most ${maxBuffered} batches (capacity 2) while the consumer lagged`,
);
const after = pool.stats();
console.log(
  `pool after both parts: ${after.acquired} acquires on ${after.created} connections, ${after.timeouts} timeouts`,
);
await pool.drain();
console.log(`drained: ${JSON.stringify({ state: pool.stats().state, size: pool.stats().size })}`);
