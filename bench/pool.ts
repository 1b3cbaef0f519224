// Acquire+release throughput and contended acquire latency: weir's pool against
// generic-pool and tarn, over a pool of 10 trivially cheap resources, in one process.
import genericPool from 'generic-pool';
import tarn from 'tarn';
import { createPool } from 'weir/pool';
import { type Case, compare, percentile, rate, table } from './lib.js';

const SIZE = 10;
let nextId = 0;
const make = () => ({ id: ++nextId });

interface Adapter {
  name: string;
  acquire: () => Promise<unknown>;
  release: (handle: unknown) => void;
  close: () => Promise<void>;
}

function weir(): Adapter {
  const pool = createPool({ create: make, min: SIZE, max: SIZE, acquireTimeoutMs: 60_000 });
  return {
    name: 'weir',
    acquire: () => pool.acquire(),
    release: (lease) => (lease as { release(): void }).release(),
    close: () => pool.close(),
  };
}

function generic(): Adapter {
  const pool = genericPool.createPool(
    { create: async () => make(), destroy: async () => {} },
    { min: SIZE, max: SIZE },
  );
  return {
    name: 'generic-pool',
    acquire: () => pool.acquire(),
    release: (r) => void pool.release(r as { id: number }),
    close: async () => {
      await pool.drain();
      await pool.clear();
    },
  };
}

function tarnPool(): Adapter {
  const pool = new tarn.Pool({
    create: (cb: (e: Error | null, r: unknown) => void) => cb(null, make()),
    destroy: () => {},
    min: SIZE,
    max: SIZE,
  });
  return {
    name: 'tarn',
    acquire: () => pool.acquire().promise,
    release: (r) => void pool.release(r),
    close: async () => {
      await pool.destroy();
    },
  };
}

function floor(): Adapter {
  const value = make();
  return {
    name: 'floor (await a resolved promise)',
    acquire: () => Promise.resolve(value),
    release: () => {},
    close: async () => {},
  };
}

async function run(a: Adapter, concurrency: number, n: number): Promise<void> {
  let left = n;
  const worker = async () => {
    while (left-- > 0) {
      const h = await a.acquire();
      a.release(h);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Per-acquire latency with 100 borrowers over 10 resources, each holding for one microtask. */
async function latencies(a: Adapter, n: number): Promise<number[]> {
  const out: number[] = [];
  let left = n;
  const worker = async () => {
    while (left-- > 0) {
      const t0 = performance.now();
      const h = await a.acquire();
      out.push(performance.now() - t0);
      await null;
      a.release(h);
    }
  };
  await Promise.all(Array.from({ length: 100 }, worker));
  return out;
}

const adapters = [weir(), generic(), tarnPool(), floor()];
await new Promise((r) => setTimeout(r, 50)); // let every pool pre-warm its 10 resources

const rows: string[][] = [];
const results = new Map<string, Map<number, number>>();
for (const concurrency of [1, 10, 100]) {
  const cases: Case[] = adapters.map((a) => ({ name: a.name, run: (n) => run(a, concurrency, n) }));
  for (const r of await compare(cases)) {
    if (!results.has(r.name)) results.set(r.name, new Map());
    results.get(r.name)!.set(concurrency, r.opsPerSec);
  }
}
const w = results.get('weir')!;
for (const [name, byC] of results) {
  rows.push([
    name,
    ...[1, 10, 100].map((c) => `${rate(byC.get(c)!)}/s`),
    ...[1, 10, 100].map((c) => (name === 'weir' ? '1.00' : (w.get(c)! / byC.get(c)!).toFixed(2))),
  ]);
}
console.log('acquire+release operations per second (median of 5 rounds); ratio = weir / row\n');
table(['pool', 'c=1', 'c=10', 'c=100', 'weir/x c=1', 'weir/x c=10', 'weir/x c=100'], rows);

const lat: string[][] = [];
for (const a of adapters.slice(0, 3)) {
  await latencies(a, 20_000); // warm-up
  const sample = await latencies(a, 200_000);
  lat.push([
    a.name,
    `${(percentile(sample, 50) * 1000).toFixed(1)} µs`,
    `${(percentile(sample, 99) * 1000).toFixed(1)} µs`,
  ]);
}
console.log('\nacquire latency, 100 borrowers over 10 resources, lease held for one microtask\n');
table(['pool', 'p50', 'p99'], lat);

for (const a of adapters) await a.close();
