// weir/wasm: warm checkout + call + return against instantiating per call (main thread),
// worker isolation against piscina for small calls (both with 2 threads, 64 calls in
// flight), the memory an idle instance costs, and how soon a timed-out call's worker is
// gone. Modules are built from WAT with wabt, so the benchmark needs no file.
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import wabtInit from 'wabt';
import { createWasmPool } from 'weir/wasm';
import { type Case, compare, percentile, rate, table } from './lib.js';

const wabt = await wabtInit();
const bytes = wabt
  .parseWat(
    'bench.wat',
    `(module
      (memory (export "memory") 1)
      (global $n (export "n") (mut i32) (i32.const 0))
      (func (export "add") (param i32 i32) (result i32)
        (global.set $n (i32.add (global.get $n) (i32.const 1)))
        (i32.add (local.get 0) (local.get 1)))
      (func (export "spin") (loop $l (br $l))))`,
  )
  .toBinary({}).buffer;
// biome-ignore lint/suspicious/noExplicitAny: Node 20's types do not declare WebAssembly.
const WA = (globalThis as any).WebAssembly;
const module = await WA.compile(bytes);
type AddExports = { add(a: number, b: number): number };

const us = (ms: number) => `${(ms * 1000).toFixed(2)} µs`;

// ---- memory per idle instance ----------------------------------------------------------

async function idleCost(isolation: 'main' | 'worker', count: number) {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  const pool =
    isolation === 'main'
      ? createWasmPool<AddExports>({ module, min: count, max: count })
      : createWasmPool<AddExports>({ module, isolation: 'worker', min: count, max: count });
  while (pool.stats().idle < count) await new Promise((r) => setTimeout(r, 10));
  gc?.();
  const after = process.memoryUsage();
  const linear = pool.stats().memory.totalBytes / count;
  await pool.close();
  return {
    rss: (after.rss - before.rss) / count,
    heap: (after.heapUsed - before.heapUsed) / count,
    linear,
  };
}
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
// Measured first, before the other sections leave garbage behind.
const idleMain = await idleCost('main', 1_000);
const idleWorker = await idleCost('worker', 8);
const memoryRows = [
  ['main', '1000', kib(idleMain.linear), kib(idleMain.heap), kib(idleMain.rss)],
  ['worker', '8', kib(idleWorker.linear), kib(idleWorker.heap), kib(idleWorker.rss)],
];

// ---- main thread: warm checkout + call + return --------------------------------------

async function sampleWarm(reset: 'none' | 'snapshot' | 'reinstantiate', n: number) {
  const pool = createWasmPool<AddExports>({ module, reset, min: 1, max: 1 });
  await pool.call('add', [1, 2]);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await pool.use((inst) => inst.exports.add(i, 1));
    out.push(performance.now() - t0);
  }
  await pool.close();
  return out;
}

function sampleCold(n: number) {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    new WA.Instance(module).exports.add(i, 1);
    out.push(performance.now() - t0);
  }
  return out;
}

const N = 50_000;
const rows: string[][] = [];
for (const reset of ['none', 'snapshot', 'reinstantiate'] as const) {
  await sampleWarm(reset, 5_000); // warm-up
  const s = await sampleWarm(reset, N);
  rows.push([`weir warm, reset '${reset}'`, us(percentile(s, 50)), us(percentile(s, 99))]);
}
sampleCold(5_000);
const cold = sampleCold(N);
rows.push(['instantiate per call', us(percentile(cold, 50)), us(percentile(cold, 99))]);
console.log(`checkout + call + return on the main thread, ${N} sequential calls\n`);
table(['way', 'p50', 'p99'], rows);

// ---- worker isolation against piscina ------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'weir-bench-wasm-'));
const piscinaWorker = join(dir, 'worker.mjs');
writeFileSync(
  piscinaWorker,
  `import { workerData } from 'node:worker_threads';
const instance = new WebAssembly.Instance(workerData.module);
export default ({ a, b }) => instance.exports.add(a, b);
`,
);
const piscina = new Piscina({
  filename: pathToFileURL(piscinaWorker).href,
  workerData: { module },
  minThreads: 2,
  maxThreads: 2,
});
const workerPool = createWasmPool<AddExports>({
  module,
  isolation: 'worker',
  reset: 'none',
  min: 2,
  max: 2,
});
await Promise.all([
  ...Array.from({ length: 4 }, () => piscina.run({ a: 1, b: 2 })),
  ...Array.from({ length: 4 }, () => workerPool.call('add', [1, 2])),
]);

async function inFlight(n: number, call: (i: number) => Promise<unknown>) {
  let left = n;
  const lane = async () => {
    while (left-- > 0) await call(left);
  };
  await Promise.all(Array.from({ length: 64 }, lane));
}

const cases: Case[] = [
  { name: 'weir worker', run: (n) => inFlight(n, (i) => workerPool.call('add', [i, 1])) },
  { name: 'piscina 5', run: (n) => inFlight(n, (i) => piscina.run({ a: i, b: 1 })) },
];
const results = await compare(cases, { rounds: 5, roundMs: 500 });
const weirRate = results[0]!.opsPerSec;
console.log('\nsmall calls per second in worker threads (2 workers, 64 in flight, median of 5)\n');
table(
  ['pool', 'calls/s', 'weir/x'],
  results.map((r) => [r.name, `${rate(r.opsPerSec)}/s`, (weirRate / r.opsPerSec).toFixed(2)]),
);

// ---- a runaway call: from its deadline to its worker's exit --------------------------

const kills: number[] = [];
const replaced: number[] = [];
for (let i = 0; i < 5; i++) {
  const lease = await workerPool.acquire();
  const exited = once(lease.value.worker, 'exit');
  // The deadline fires in weir's timer, which rejects the call and terminates the worker.
  await lease.value.call('spin', [], { timeoutMs: 20 }).catch(() => {});
  const t0 = performance.now();
  await exited;
  kills.push(performance.now() - t0);
  lease.release();
  // Both workers busy, so this acquire waits for the replacement worker.
  const other = await workerPool.acquire();
  const next = await workerPool.acquire();
  replaced.push(performance.now() - t0);
  other.release();
  next.release();
}
await piscina.destroy();
await workerPool.close();
rmSync(dir, { recursive: true, force: true });
console.log(
  `\na timed-out call (5 runs): deadline to worker exit p50 ${percentile(kills, 50).toFixed(1)} ms, ` +
    `max ${Math.max(...kills).toFixed(1)} ms; to a replacement instance ready p50 ` +
    `${percentile(replaced, 50).toFixed(1)} ms, max ${Math.max(...replaced).toFixed(1)} ms`,
);

console.log(
  '\nmemory per idle instance (deltas / instances; linear memory that was never written is reserved, not resident)\n',
);
table(['isolation', 'instances', 'linear memory each', 'JS heap each', 'RSS each'], memoryRows);
