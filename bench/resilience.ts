// Per-call overhead of weir/resilience against cockatiel 3.2 and opossum 9, in one process:
// breaker.execute around an async function that returns a resolved value, and the
// admission checks (limiter.tryAcquire and its nearest peers).
import { createRequire } from 'node:module';
import {
  bulkhead,
  ConsecutiveBreaker,
  circuitBreaker,
  handleAll,
  SamplingBreaker,
} from 'cockatiel';
import Opossum from 'opossum';
import { CircuitBreaker, RateLimiter, Semaphore } from 'weir/resilience';
import { type Case, compare, rate, table } from './lib.js';

const fn = async () => 1;
let sink = 0;

async function loop(n: number, call: () => Promise<number>): Promise<void> {
  for (let i = 0; i < n; i++) sink += await call();
}

function ratios(results: { name: string; opsPerSec: number }[], peers: string[]) {
  const byName = new Map(results.map((r) => [r.name, r.opsPerSec]));
  const best = Math.max(...peers.map((p) => byName.get(p) ?? 0));
  return results.map((r) => [
    r.name,
    `${rate(r.opsPerSec)}/s`,
    `${(1e9 / r.opsPerSec).toFixed(0)} ns`,
    best > 0 ? (r.opsPerSec / best).toFixed(2) : '-',
  ]);
}

// --- breaker.execute -------------------------------------------------------------------
const weirConsecutive = new CircuitBreaker({ threshold: 5, halfOpenAfterMs: 10_000 });
const weirRolling = new CircuitBreaker({
  policy: 'rolling',
  rolling: { windowMs: 10_000, minimumCalls: 20, failureRatio: 0.5 },
});
const cockatielConsecutive = circuitBreaker(handleAll, {
  halfOpenAfter: 10_000,
  breaker: new ConsecutiveBreaker(5),
});
const cockatielSampling = circuitBreaker(handleAll, {
  halfOpenAfter: 10_000,
  breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000, minimumRps: 2 }),
});
// opossum's default arms a 10 s timeout timer per call; `timeout: false` measures the
// breaker alone, which is what the others do. Both are shown.
const opossumNoTimeout = new Opossum(fn, { timeout: false, resetTimeout: 10_000 });
const opossumDefault = new Opossum(fn, { resetTimeout: 10_000 });

const breakerCases: Case[] = [
  { name: 'weir (consecutive)', run: (n) => loop(n, () => weirConsecutive.execute(fn)) },
  { name: 'weir (rolling window)', run: (n) => loop(n, () => weirRolling.execute(fn)) },
  {
    name: 'cockatiel 3.2 (consecutive)',
    run: (n) => loop(n, () => cockatielConsecutive.execute(fn)),
  },
  { name: 'cockatiel 3.2 (sampling)', run: (n) => loop(n, () => cockatielSampling.execute(fn)) },
  {
    name: 'opossum 9 (timeout: false)',
    run: (n) => loop(n, () => opossumNoTimeout.fire() as Promise<number>),
  },
  {
    name: 'opossum 9 (default 10 s timeout)',
    run: (n) => loop(n, () => opossumDefault.fire() as Promise<number>),
  },
  { name: 'floor: await fn()', run: (n) => loop(n, fn) },
];

// --- admission checks ------------------------------------------------------------------
// Neither peer has a token-bucket rate limiter. The nearest admission checks they have are
// opossum's capacity semaphore (sync test/release, an internal module) and cockatiel's
// bulkhead (async execute only), so the sync and async forms are compared separately.
const limiter = new RateLimiter({ ratePerSecond: 1e12, burst: 1e12 });
const semaphore = new Semaphore(1_000);
const require = createRequire(import.meta.url);
const opossumSemaphore = require('opossum/lib/semaphore.js')(1_000) as {
  test(): boolean;
  release(): void;
};
const cockatielBulkhead = bulkhead(1_000, 0);

const syncCases: Case[] = [
  {
    name: 'weir limiter.tryAcquire()',
    run: (n) => {
      for (let i = 0; i < n; i++) if (limiter.tryAcquire()) sink++;
    },
  },
  {
    name: 'weir semaphore.tryAcquire() + release()',
    run: (n) => {
      for (let i = 0; i < n; i++) semaphore.tryAcquire()?.release();
    },
  },
  {
    name: 'opossum 9 semaphore test() + release()',
    run: (n) => {
      for (let i = 0; i < n; i++) if (opossumSemaphore.test()) opossumSemaphore.release();
    },
  },
  {
    // A token bucket must read the clock on every call; this is that read alone.
    name: 'floor: performance.now()',
    run: (n) => {
      for (let i = 0; i < n; i++) if (performance.now() > 0) sink++;
    },
  },
];

const asyncCases: Case[] = [
  { name: 'weir limiter.execute(fn)', run: (n) => loop(n, () => limiter.execute(fn)) },
  { name: 'weir semaphore.execute(fn)', run: (n) => loop(n, () => semaphore.execute(fn)) },
  {
    name: 'cockatiel 3.2 bulkhead.execute(fn)',
    run: (n) => loop(n, () => cockatielBulkhead.execute(fn)),
  },
];

console.log('breaker.execute(async () => 1), sequential awaits; ratio vs the faster peer\n');
const b = await compare(breakerCases);
table(
  ['breaker', 'calls/s', 'per call', 'x faster peer'],
  ratios(b, [
    'cockatiel 3.2 (consecutive)',
    'cockatiel 3.2 (sampling)',
    'opossum 9 (timeout: false)',
  ]),
);

console.log('\nsynchronous admission check\n');
const s = await compare(syncCases);
table(
  ['admission', 'calls/s', 'per call', 'x opossum'],
  ratios(s, ['opossum 9 semaphore test() + release()']),
);

console.log('\nasynchronous admission + call\n');
const a = await compare(asyncCases);
table(
  ['admission', 'calls/s', 'per call', 'x cockatiel'],
  ratios(a, ['cockatiel 3.2 bulkhead.execute(fn)']),
);

if (sink === -1) console.log(sink);
