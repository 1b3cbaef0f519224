// weir/wasm through the built package's exports: the worker program must run from dist/.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { STATEFUL } from './modules.js';

test('weir/wasm resolves to the built files; main-thread and worker pools work from there', async () => {
  const { createWasmPool, isWeirError } = {
    ...(await import('weir/wasm')),
    ...(await import('weir')),
  };
  assert.match(import.meta.resolve('weir/wasm'), /\/dist\/wasm\/index\.js$/);
  const imports = { env: { host: () => {} } };
  const main = createWasmPool({ module: STATEFUL, imports, max: 1 });
  assert.equal(await main.call('inc'), 1);
  await assert.rejects(main.call('trap'), (e: unknown) => isWeirError(e, 'ERR_WASM_TRAP'));
  await main.close();
  const worker = createWasmPool({
    module: STATEFUL,
    isolation: 'worker',
    workerImports: new URL('./fixtures/host-imports.mjs', import.meta.url),
    max: 1,
  });
  assert.equal(await worker.call('inc'), 1);
  await worker.close();
});
