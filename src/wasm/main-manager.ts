// The managed layer's view of main-thread instances: instantiate is connect, dropping the
// reference is close, a trap or a throwing import is "broken", and a returning lease is
// measured, held to the memory limits and reset.
import { abortReason } from '../internal/signals.js';
import type { Manager } from '../managed/index.js';
import type { MemoryBudget } from './budget.js';
import { isWasmAllocationFailure, WasmMemoryLimitError, WasmOutOfMemoryError } from './errors.js';
import type { InstanceFactory, WasmInstance } from './instance.js';
import type { ResetStrategy } from './reset.js';

/** @internal What both managers need from the pool. */
export interface ManagerContext<I> {
  name: string;
  budget: MemoryBudget<I & { memoryBytes: number; counted: number; admitted: boolean }>;
  memoryLimitBytes: number;
  reset: ResetStrategy;
  check: ((instance: I, signal: AbortSignal) => boolean | Promise<boolean>) | undefined;
}

/**
 * @internal After a use: measures the instance and holds it to both limits.
 * @throws {WasmMemoryLimitError} when it must not go back to the pool.
 */
export function admitReturn<I extends { memoryBytes: number; counted: number; admitted: boolean }>(
  context: ManagerContext<I>,
  inst: I,
): void {
  const budget = context.budget;
  // Counted first, so the pool's peak shows what it held even when it is dropped now.
  budget.update(inst);
  if (inst.memoryBytes > context.memoryLimitBytes) {
    throw new WasmMemoryLimitError(inst.memoryBytes, context.memoryLimitBytes);
  }
  if (budget.total > budget.limit && !budget.trim(inst)) {
    throw new WasmMemoryLimitError(inst.memoryBytes, budget.limit, 'maxTotalMemoryMb');
  }
}

/** @internal Maps V8's allocation failure onto `ERR_WASM_OUT_OF_MEMORY`. */
export function instantiationError(pool: string, error: unknown): unknown {
  return isWasmAllocationFailure(error) ? new WasmOutOfMemoryError(pool, error) : error;
}

/** @internal The manager of a main-thread wasm pool. */
export function mainManager<E extends object>(
  context: ManagerContext<WasmInstance<E>>,
  factory: () => Promise<InstanceFactory>,
): Manager<WasmInstance<E>> {
  const { budget, memoryLimitBytes } = context;
  const manager: Manager<WasmInstance<E>> = {
    async connect(signal) {
      const f = await factory();
      if (signal.aborted) throw abortReason(signal);
      let inst: WasmInstance<E>;
      try {
        inst = f.create<E>();
      } catch (error) {
        throw instantiationError(context.name, error);
      }
      if (inst.memoryBytes > memoryLimitBytes) {
        throw new WasmMemoryLimitError(inst.memoryBytes, memoryLimitBytes);
      }
      budget.opened(inst);
      return inst;
    },
    close(inst) {
      // Dropping the last reference is all there is: the collector frees the memory.
      budget.release(inst);
    },
    isBroken: (inst) => inst.broken,
    // Nothing of an instance keeps the process alive: `allowExitOnIdle` has nothing to do.
    ref: noop,
    unref: noop,
    reset(inst) {
      inst.measure();
      admitReturn(context, inst);
      resetInstance(inst, context.reset, context.name);
      budget.update(inst);
    },
  };
  const check = context.check;
  if (check !== undefined) manager.check = (inst, signal) => check(inst, signal);
  return manager;
}

function resetInstance(inst: WasmInstance<object>, strategy: ResetStrategy, pool: string): void {
  if (strategy === 'none') return;
  if (strategy === 'snapshot' && inst.restore()) return;
  if (strategy === 'auto' && inst.factoryChoice() === 'snapshot' && inst.restore()) return;
  try {
    inst.reinstantiate();
  } catch (error) {
    throw instantiationError(pool, error);
  }
}

const noop = (): void => {};
