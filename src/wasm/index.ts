// weir/wasm: a pool of WebAssembly instances of one compiled module, with a memory budget,
// per-instance memory figures, instances that trapped never reused, and optional isolation
// of each instance in a worker thread.
export type { MemoryPressureEvent } from './budget.js';
export {
  WasmCallTimeoutError,
  WasmCompileError,
  WasmError,
  WasmInstanceBrokenError,
  WasmMemoryLimitError,
  WasmOutOfMemoryError,
  WasmTrapError,
  WasmWorkerExitError,
} from './errors.js';
export { type WasmImports, WasmInstance } from './instance.js';
export type { WasmSource } from './module.js';
export type { WasmPoolOptions } from './options.js';
export {
  createWasmPool,
  type MainWasmPool,
  type WasmCallOptions,
  type WasmExports,
  type WasmMemoryStats,
  WasmPool,
  type WasmPoolEvents,
  type WasmPoolStats,
  type WorkerWasmPool,
} from './pool.js';
export type { ResetStrategy } from './reset.js';
export {
  type AsyncExports,
  WasmWorkerInstance,
  type WorkerCallOptions,
} from './worker-instance.js';
