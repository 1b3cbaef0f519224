// The pool's hot paths one at a time, against any build of weir, for before/after runs of
// two trees: `node --import tsx bench/ab/pool-paths.ts <dist> <case> [n] [rounds]` prints
// the best round's rate. With `rounds` 1 and two values of `n` under
// `valgrind --tool=callgrind node --single-threaded ...`, the difference of the two
// instruction totals divided by the difference of `n` is the cost of one operation, free of
// start-up and of other load on the machine. `POOL_VIA=adapter` calls the pool through an
// adapter shared with other pools, as bench/pool.ts does (so the loop cannot inline it).
// Cases: c1, c10, c100 (acquire+release at that concurrency over 10 resources), floor100
// (awaiting a resolved promise, 100 callers), lat (100 borrowers holding each lease for one
// microtask), try (tryAcquire+release), use (pool.use).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface Lease {
  release(): void;
}
interface Pool {
  acquire(): Promise<Lease>;
  tryAcquire(): Lease | null;
  use<R>(fn: (r: unknown) => R): Promise<R>;
  close(): Promise<void>;
}
interface Adapter {
  acquire(): Promise<unknown>;
  release(h: unknown): void;
}

const [dist = 'dist', which = 'c1', nArg = '1000000', roundsArg = '5'] = process.argv.slice(2);
const url = pathToFileURL(resolve(dist, 'pool/index.js')).href;
const { createPool } = (await import(url)) as {
  createPool(o: object): Pool;
};
const n = Number(nArg);
const rounds = Number(roundsArg);
let id = 0;
const pool = createPool({
  create: () => ({ id: ++id }),
  min: 10,
  max: 10,
  acquireTimeoutMs: 60_000,
});
await new Promise((r) => setTimeout(r, 20));

async function direct(c: number, n: number): Promise<void> {
  let left = n;
  const worker = async () => {
    while (left-- > 0) (await pool.acquire()).release();
  };
  await Promise.all(Array.from({ length: c }, worker));
}

async function viaAdapter(a: Adapter, c: number, n: number): Promise<void> {
  let left = n;
  const worker = async () => {
    while (left-- > 0) a.release(await a.acquire());
  };
  await Promise.all(Array.from({ length: c }, worker));
}

const weirAdapter: Adapter = {
  acquire: () => pool.acquire(),
  release: (l) => (l as Lease).release(),
};
const value = {};
const floorAdapter: Adapter = { acquire: () => Promise.resolve(value), release: () => {} };
if (process.env.POOL_VIA === 'adapter') {
  // Other adapters first, so that the loop's call sites see several targets.
  const others: Adapter[] = [
    floorAdapter,
    { acquire: async () => value, release: () => {} },
    { acquire: () => new Promise((r) => r([])), release: () => {} },
  ];
  for (const a of [...others, weirAdapter])
    for (const c of [1, 10, 100]) await viaAdapter(a, c, 20_000);
}
const conc =
  process.env.POOL_VIA === 'adapter'
    ? (c: number, n: number) => viaAdapter(weirAdapter, c, n)
    : direct;

let waits: number[] = [];
async function latency(n: number): Promise<void> {
  let left = n;
  const worker = async () => {
    while (left-- > 0) {
      const t0 = performance.now();
      const lease = await pool.acquire();
      waits.push(performance.now() - t0);
      await null;
      lease.release();
    }
  };
  await Promise.all(Array.from({ length: 100 }, worker));
}

const id1 = (r: unknown) => r;
async function one(n: number): Promise<void> {
  switch (which) {
    case 'c1':
      return conc(1, n);
    case 'c10':
      return conc(10, n);
    case 'c100':
      return conc(100, n);
    case 'floor100':
      return viaAdapter(floorAdapter, 100, n);
    case 'lat':
      return latency(n);
    case 'try':
      for (let i = 0; i < n; i++) pool.tryAcquire()!.release();
      return;
    case 'use':
      for (let i = 0; i < n; i++) await pool.use(id1);
      return;
    default:
      throw new Error(`unknown case ${which}`);
  }
}

const rates: number[] = [];
for (let r = 0; r < rounds; r++) {
  waits = [];
  const t0 = performance.now();
  await one(n);
  rates.push((n / (performance.now() - t0)) * 1000);
}
if (rounds > 0) {
  let extra = '';
  if (which === 'lat') {
    waits.sort((a, b) => a - b);
    const at = (p: number) => ((waits[Math.floor(p * (waits.length - 1))] ?? 0) * 1000).toFixed(1);
    extra = ` p50 ${at(0.5)} µs p99 ${at(0.99)} µs`;
  }
  const best = Math.max(...rates) / 1e6;
  console.log(
    `${which} best ${best.toFixed(3)}M/s (${rates.map((x) => (x / 1e6).toFixed(2)).join(', ')})${extra}`,
  );
}
await pool.close();
