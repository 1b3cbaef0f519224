// Type tests: checked by `npm run typecheck` (an unused @ts-expect-error fails it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createWasmPool,
  type MainWasmPool,
  type WasmInstance,
  type WasmWorkerInstance,
  type WorkerWasmPool,
} from '../../src/wasm/index.js';

interface Exports {
  add(a: number, b: number): number;
}

declare const bytes: Uint8Array;

// Never called: only compiled.
export async function typeOnly(): Promise<void> {
  const main: MainWasmPool<Exports> = createWasmPool<Exports>({ module: bytes });
  const sum: number = await main.use((inst: WasmInstance<Exports>) => inst.exports.add(1, 2));
  // @ts-expect-error main-thread exports are synchronous
  const notPromise: Promise<number> = await main.use((inst) => inst.exports.add(1, 2));
  const worker: WorkerWasmPool<Exports> = createWasmPool<Exports>({
    module: bytes,
    isolation: 'worker',
  });
  const later: Promise<number> = worker.use((inst: WasmWorkerInstance<Exports>) =>
    inst.exports.add(1, 2),
  );
  // @ts-expect-error an instance serves one borrower at a time
  createWasmPool({ module: bytes, maxLeasesPerResource: 2 });
  // @ts-expect-error the module is required
  createWasmPool({ max: 2 });
  void [sum, notPromise, later];
}

test('the type tests compile (checked by npm run typecheck)', () => {
  assert.equal(typeof typeOnly, 'function');
});
