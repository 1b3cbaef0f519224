// The managed layer's view of worker instances: connect starts a worker and posts it the
// compiled module, close terminates it; a returning lease is held to the memory limits
// (as the worker last measured them) and reset by a message the worker handles before
// any later call.

import type { Clock } from '../internal/clock.js';
import { realClock } from '../internal/clock.js';
import type { Manager } from '../managed/index.js';
import { WasmMemoryLimitError } from './errors.js';
import { admitReturn, type ManagerContext } from './main-manager.js';
import { WebAssembly } from './webassembly.js';
import { WasmWorkerInstance } from './worker-instance.js';

/** @internal */
export interface WorkerManagerOptions {
  clock: Clock | undefined;
  callTimeoutMs: number;
  workerImports: string | undefined;
}

/** @internal The manager of a wasm pool in worker isolation. */
export function workerManager(
  context: ManagerContext<WasmWorkerInstance<object>>,
  module: Promise<WebAssembly.Module>,
  o: WorkerManagerOptions,
): Manager<WasmWorkerInstance<object>> {
  const { budget, memoryLimitBytes } = context;
  let ids = 0;
  // A reply may still arrive from a worker being terminated: it must not count again.
  const closed = new WeakSet<WasmWorkerInstance<object>>();
  let functions: string[] | undefined;
  const manager: Manager<WasmWorkerInstance<object>> = {
    async connect(signal, retire) {
      const m = await module;
      functions ??= WebAssembly.Module.exports(m)
        .filter((d) => d.kind === 'function')
        .map((d) => d.name);
      const inst = await WasmWorkerInstance.start<object>(
        {
          pool: context.name,
          id: ++ids,
          module: m,
          functions,
          importsUrl: o.workerImports,
          snapshot: context.reset === 'snapshot' || context.reset === 'auto',
          clock: o.clock ?? realClock,
          callTimeoutMs: o.callTimeoutMs,
          measured: (i) => {
            if (!closed.has(i) && (i.admitted || i.counted > 0)) budget.update(i);
          },
          retire,
        },
        signal,
      );
      if (inst.memoryBytes > memoryLimitBytes) {
        void inst.terminate();
        throw new WasmMemoryLimitError(inst.memoryBytes, memoryLimitBytes);
      }
      budget.opened(inst);
      return inst;
    },
    async close(inst) {
      closed.add(inst);
      budget.release(inst);
      await inst.terminate();
    },
    isBroken: (inst) => inst.broken,
    reset(inst) {
      admitReturn(context, inst);
      if (context.reset !== 'none') inst.reset(context.reset);
    },
    ref: (inst) => inst.ref(),
    unref: (inst) => inst.unref(),
  };
  const check = context.check;
  if (check !== undefined) manager.check = (inst, signal) => check(inst, signal);
  return manager;
}
