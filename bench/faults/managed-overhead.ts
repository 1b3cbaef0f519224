// What the managed layer costs over the core on acquire+release: `createPool` against
// `createManagedPool` over the same 10 trivially cheap resources, without hooks (the
// layer delegates) and with isBroken, reset and allowExitOnIdle (it checks what it hands
// out). Measured in alternating rounds in one process; bounded, stops by itself.
//   npm run build && TSX_TSCONFIG_PATH=tsconfig.build.json node --import tsx bench/faults/managed-overhead.ts
import { createManagedPool } from 'weir/managed';
import { createPool } from 'weir/pool';
import { type Case, compare, rate, table } from '../lib.js';

const SIZE = 10;
let nextId = 0;
const make = () => ({ id: ++nextId, broken: false });
type R = ReturnType<typeof make>;
interface Handle {
  release(): void;
}

function core(): { acquire: () => Promise<Handle>; close: () => Promise<void> } {
  const pool = createPool({ create: make, min: SIZE, max: SIZE, acquireTimeoutMs: 60_000 });
  return { acquire: () => pool.acquire(), close: () => pool.close() };
}

function managed(hooks: boolean): { acquire: () => Promise<Handle>; close: () => Promise<void> } {
  const base = { connect: make, close: () => {} };
  const pool = hooks
    ? createManagedPool(
        {
          ...base,
          isBroken: (r: R) => r.broken,
          reset: () => {},
          ref: () => {},
          unref: () => {},
        },
        { min: SIZE, max: SIZE, acquireTimeoutMs: 60_000, allowExitOnIdle: true },
      )
    : createManagedPool(base, { min: SIZE, max: SIZE, acquireTimeoutMs: 60_000 });
  return { acquire: () => pool.acquire(), close: () => pool.close() };
}

async function run(acquire: () => Promise<Handle>, concurrency: number, n: number) {
  let left = n;
  const worker = async () => {
    while (left-- > 0) (await acquire()).release();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

const pools = {
  'weir/pool createPool': core(),
  'weir/pool createPool again (noise control)': core(),
  'createManagedPool, no hooks': managed(false),
  'createManagedPool, isBroken+reset+allowExitOnIdle': managed(true),
};
await new Promise((r) => setTimeout(r, 50)); // let every pool pre-warm
const rows: string[][] = [];
const byName = new Map<string, number[]>();
for (const concurrency of [1, 10, 100]) {
  const cases: Case[] = Object.entries(pools).map(([name, p]) => ({
    name,
    run: (n) => run(p.acquire, concurrency, n),
  }));
  for (const r of await compare(cases, { rounds: 7, roundMs: 300 })) {
    byName.set(r.name, [...(byName.get(r.name) ?? []), r.opsPerSec]);
  }
}
const floor = byName.get('weir/pool createPool')!;
for (const [name, rates] of byName) {
  rows.push([
    name,
    ...rates.map((r) => `${rate(r)}/s`),
    ...rates.map((r, i) => (r / floor[i]!).toFixed(3)),
  ]);
}
console.log('acquire+release per second, median of 7 rounds; ratio = row / createPool\n');
table(['pool', 'c=1', 'c=10', 'c=100', 'x c=1', 'x c=10', 'x c=100'], rows);
for (const p of Object.values(pools)) await p.close();
