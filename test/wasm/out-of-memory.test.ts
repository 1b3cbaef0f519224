// V8 refuses wasm memory around 13,000 live memories. Its RangeError must reach the caller
// as ERR_WASM_OUT_OF_MEMORY. Own file: the test uses up this process's wasm memory.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWeirError } from '../../src/internal/errors.js';
import { createWasmPool } from '../../src/wasm/index.js';
import { WebAssembly } from '../../src/wasm/webassembly.js';
import { hostImports, STATEFUL } from './modules.js';

test("V8's `Cannot allocate Wasm memory` fails the acquire with ERR_WASM_OUT_OF_MEMORY", async () => {
  const pool = createWasmPool({ module: STATEFUL, imports: hostImports, breaker: false });
  await pool.ready();
  const hog: unknown[] = [];
  let refused: unknown;
  for (let i = 0; i < 100_000 && refused === undefined; i++) {
    try {
      hog.push(new WebAssembly.Memory({ initial: 1 }));
    } catch (error) {
      refused = error;
    }
  }
  assert.ok(refused instanceof RangeError, 'V8 ran out of wasm memories');
  // Nothing was freed: the pool's instantiation is refused the same way.
  const error = await pool.acquire().then(
    () => undefined,
    (e: unknown) => e,
  );
  // The limit is the process's: a worker's instance is refused the same way.
  const workers = createWasmPool({
    module: STATEFUL,
    isolation: 'worker',
    workerImports: new URL('./fixtures/host-imports.mjs', import.meta.url),
    breaker: false,
  });
  const inWorker = await workers.acquire().then(
    () => undefined,
    (e: unknown) => e,
  );
  hog.length = 0;
  assert.ok(isWeirError(error, 'ERR_WASM_OUT_OF_MEMORY'), String(error));
  assert.ok((error as Error).cause instanceof RangeError);
  assert.ok(isWeirError(inWorker, 'ERR_WASM_OUT_OF_MEMORY'), String(inWorker));
  await pool.close();
  await workers.close();
});
