// `createWasmPool`: a managed pool of instances of one compiled module, on this thread or
// each in its own worker, with a memory budget and the verbs `use` and `call`.

import { Emitter } from '../internal/emitter.js';
import { isWeirError } from '../internal/errors.js';
import { checkKeys, checkMs, checkObject, optionKeys } from '../internal/options.js';
import type { Manager } from '../managed/index.js';
import { ManagedPool } from '../managed/index.js';
import type {
  AcquireOptions,
  HealthOptions,
  Lease,
  PoolEvents,
  PoolHealth,
  PoolStats,
} from '../pool/index.js';
import { MemoryBudget, type MemoryPressureEvent } from './budget.js';
import { WasmCompileError, WasmError } from './errors.js';
import { InstanceFactory, type Tracked, type WasmInstance } from './instance.js';
import { type ManagerContext, mainManager } from './main-manager.js';
import { compileSource } from './module.js';
import { type ResolvedWasmOptions, resolveWasmOptions, type WasmPoolOptions } from './options.js';
import { ResetCosts } from './reset.js';
import type { WebAssembly } from './webassembly.js';
import type { WasmWorkerInstance } from './worker-instance.js';
import { workerManager } from './worker-manager.js';

/** Exports as the module gives them, typed loosely unless you name them. */
// biome-ignore lint/suspicious/noExplicitAny: a module's exports are whatever it declares.
export type WasmExports = Record<string, any>;

/** Memory figures of {@link WasmPool.stats}, in bytes. */
export interface WasmMemoryStats {
  /** Linear memory of every open instance, as last measured (after each use). */
  totalBytes: number;
  /** Of that, instances that are leased now. */
  inUseBytes: number;
  /** Of that, idle instances. */
  idleBytes: number;
  /** Largest `totalBytes` so far. */
  peakBytes: number;
  /** `maxTotalMemoryMb` in bytes (Infinity without one). */
  limitBytes: number;
  /** `memoryLimitMb` in bytes (Infinity without one). */
  instanceLimitBytes: number;
}

/** A snapshot returned by {@link WasmPool.stats}: the pool's own, plus memory. */
export interface WasmPoolStats extends PoolStats {
  memory: WasmMemoryStats;
}

/** Events of a wasm pool: the managed pool's, plus `memoryPressure`. */
export interface WasmPoolEvents<I> extends PoolEvents<I> {
  /** The budget reached 80 % of `maxTotalMemoryMb` (fires again after it fell below). */
  memoryPressure: (e: MemoryPressureEvent) => void;
}

/** Options of one {@link WasmPool.call}. */
export interface WasmCallOptions {
  /** Aborts the wait for an instance (and, in a worker, the call: its worker is terminated). */
  signal?: AbortSignal;
  /** With `isolation: 'worker'`: the call's deadline. @default `callTimeoutMs` */
  timeoutMs?: number;
  /** How long to wait for an instance. @default `acquireTimeoutMs` */
  acquireTimeoutMs?: number;
  /** Higher is served first. @default 0 */
  priority?: number;
}

const CALL_KEYS = optionKeys<WasmCallOptions>({
  signal: 1,
  timeoutMs: 1,
  acquireTimeoutMs: 1,
  priority: 1,
});

class PressureEmitter extends Emitter<{ memoryPressure: (e: MemoryPressureEvent) => void }> {
  fire(e: MemoryPressureEvent): void {
    this.emit('memoryPressure', e);
  }
}

/** What a pooled instance offers whatever its isolation. */
interface PooledInstance extends Tracked {
  readonly broken: boolean;
  /** What broke it (a trap, an import's error, a timeout). */
  readonly brokenBy: unknown;
  call(
    name: string,
    args: unknown[],
    options?: { timeoutMs?: number; signal?: AbortSignal },
  ): unknown;
}

/**
 * A pool of instances of one WebAssembly module. Create one with {@link createWasmPool}.
 * The module is compiled once; instances are made as borrowers need them (and `min` at
 * start), cleaned between borrowers by the `reset` strategy, measured after every use and
 * dropped when they trap, throw from a host import, or outgrow the memory limits.
 * @example
 * await using pool = createWasmPool<{ add(a: number, b: number): number }>({ module: bytes, max: 4 });
 * const five = await pool.use((inst) => inst.exports.add(2, 3));
 */
export class WasmPool<I extends PooledInstance> implements AsyncDisposable {
  /** The managed pool underneath: events, `resize`, `retire`. */
  readonly pool: ManagedPool<I>;
  /** Compiled module; rejects with `ERR_WASM_COMPILE`. */
  readonly module: Promise<WebAssembly.Module>;
  readonly #budget: MemoryBudget<I>;
  readonly #pressure = new PressureEmitter();
  readonly #o: ResolvedWasmOptions<I>;
  #compileError: unknown;

  /** @internal Use {@link createWasmPool}. */
  constructor(options: WasmPoolOptions<I>) {
    const o = resolveWasmOptions<I>(options);
    this.#o = o;
    const name = o.managed.name ?? 'wasm';
    this.#budget = new MemoryBudget<I>(o.maxTotalBytes, (e) => this.#pressure.fire(e));
    this.module = compileSource(o.source).then(undefined, (error: unknown) => {
      this.#compileError = new WasmCompileError(name, error);
      throw this.#compileError;
    });
    // Failures reach callers through acquire; this promise must not be an unhandled one.
    this.module.catch(noop);
    const context: ManagerContext<I> = {
      name,
      budget: this.#budget as ManagerContext<I>['budget'],
      memoryLimitBytes: o.memoryLimitBytes,
      reset: o.reset,
      check: o.check,
    };
    let manager: Manager<I>;
    if (o.worker) {
      manager = workerManager(
        context as unknown as ManagerContext<WasmWorkerInstance<object>>,
        this.module,
        { clock: o.managed.clock, callTimeoutMs: o.callTimeoutMs, workerImports: o.workerImports },
      ) as unknown as Manager<I>;
    } else {
      const costs = new ResetCosts();
      const wantSnapshot = o.reset === 'snapshot' || o.reset === 'auto';
      const factory = this.module.then(
        (m) => new InstanceFactory(m, o.imports, costs, wantSnapshot),
      );
      factory.catch(noop);
      manager = mainManager(
        context as unknown as ManagerContext<WasmInstance<object>>,
        () => factory,
      ) as unknown as Manager<I>;
    }
    this.pool = new ManagedPool<I>(manager, o.managed, this.#budget);
    this.#budget.pool = this.pool;
  }

  /** The pool's name. @default 'wasm' */
  get name(): string {
    return this.pool.name;
  }

  /** Resolves once the module is compiled. @throws {WasmCompileError} `ERR_WASM_COMPILE` */
  async ready(): Promise<void> {
    await this.module;
  }

  /**
   * Borrows an instance, waiting for one if none is free (or if the memory budget has no
   * room for another).
   * @throws {WasmCompileError} `ERR_WASM_COMPILE` when the module does not compile.
   * @throws {WasmOutOfMemoryError} `ERR_WASM_OUT_OF_MEMORY` when V8 could not allocate its memory.
   * @throws the managed pool's errors: `ERR_POOL_TIMEOUT`, `ERR_POOL_CLOSED`, `ERR_POOL_EXHAUSTED`, `ERR_CIRCUIT_OPEN`, …
   * @example
   * await using lease = await pool.acquire();
   * lease.value.exports.run();
   */
  acquire(options?: AcquireOptions): Promise<Lease<I>> {
    if (this.#compileError !== undefined) return Promise.reject(this.#compileError);
    return this.pool.acquire(options).then(undefined, unwrap);
  }

  /**
   * Borrows an instance, runs `fn` with it and gives it back. An instance that broke
   * during `fn` (a trap, a host import that threw, a timeout) is destroyed, never reused.
   * @throws whatever `acquire` or `fn` throws.
   * @example
   * const n = await pool.use((inst) => inst.exports.count());
   */
  async use<R>(fn: (instance: I) => R | Promise<R>, options?: AcquireOptions): Promise<R> {
    // A free instance is taken without a promise; options (a signal, a priority) take the
    // managed pool's own path, which checks them.
    const lease =
      (options === undefined ? this.pool.tryAcquire() : null) ?? (await this.acquire(options));
    try {
      const result = await fn(lease.value);
      settle(lease);
      return result;
    } catch (error) {
      if (isWeirError(error, 'ERR_RESOURCE_BROKEN')) lease.destroy(error);
      else settle(lease);
      throw error;
    }
  }

  /**
   * Calls export `name` with `args` on a pooled instance.
   * @throws {WasmTrapError} `ERR_WASM_TRAP` when it traps (the instance is destroyed).
   * @throws {WasmCallTimeoutError} `ERR_WASM_CALL_TIMEOUT` (worker isolation) after `timeoutMs`.
   * @throws {TypeError} for `timeoutMs` on the main thread, where a call cannot be interrupted.
   * @example
   * const sum = await pool.call('add', [2, 3]);
   */
  call(name: string, args: unknown[] = [], options?: WasmCallOptions): Promise<unknown> {
    let acquire: AcquireOptions | undefined;
    let call: { timeoutMs?: number; signal?: AbortSignal } | undefined;
    if (options !== undefined) {
      try {
        this.#checkCall(options);
      } catch (error) {
        return Promise.reject(error);
      }
      acquire = {};
      if (options.signal !== undefined) acquire.signal = options.signal;
      if (options.acquireTimeoutMs !== undefined) acquire.timeoutMs = options.acquireTimeoutMs;
      if (options.priority !== undefined) acquire.priority = options.priority;
      call = {};
      if (options.signal !== undefined) call.signal = options.signal;
      if (options.timeoutMs !== undefined) call.timeoutMs = options.timeoutMs;
    }
    // No async function and no `use` here: a call is the hot path of worker isolation,
    // and every promise hop between a worker's reply and the next call is a hop it idles.
    const lease = acquire === undefined ? this.pool.tryAcquire() : null;
    if (lease !== null) return callOn(lease, name, args, call);
    return this.acquire(acquire).then((l) => callOn(l, name, args, call));
  }

  #checkCall(options: WasmCallOptions): void {
    checkObject('options', options);
    checkKeys('WasmPool.call', options, CALL_KEYS);
    if (options.timeoutMs !== undefined) {
      if (!this.#o.worker) {
        throw new TypeError(
          "`timeoutMs` needs `isolation: 'worker'`: a wasm call on the main thread cannot be interrupted",
        );
      }
      checkMs('timeoutMs', options.timeoutMs, 1);
    }
  }

  /** A cheap snapshot: the managed pool's stats plus memory figures. */
  stats(): WasmPoolStats {
    const b = this.#budget;
    return {
      ...this.pool.stats(),
      memory: {
        totalBytes: b.total,
        inUseBytes: b.inUse,
        idleBytes: b.idleBytes,
        peakBytes: b.peak,
        limitBytes: b.limit,
        instanceLimitBytes: this.#o.memoryLimitBytes,
      },
    };
  }

  /**
   * How the pool is doing (see `ManagedPool.health`). Its memory figure is the instances'
   * memory against `maxTotalMemoryMb` when that is set (the V8 heap otherwise).
   * @throws {TypeError|RangeError} for bad options, naming the option.
   */
  health(options?: HealthOptions): PoolHealth {
    const b = this.#budget;
    if (options?.memoryUsage !== undefined || !Number.isFinite(b.limit)) {
      return this.pool.health(options);
    }
    return this.pool.health({ ...options, memoryUsage: () => ({ used: b.total, limit: b.limit }) });
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof WasmPoolEvents<I>>(event: K, listener: WasmPoolEvents<I>[K]): () => void {
    if (event === 'memoryPressure') {
      return this.#pressure.on('memoryPressure', listener as WasmPoolEvents<I>['memoryPressure']);
    }
    return this.pool.on(
      event as keyof PoolEvents<I>,
      listener as PoolEvents<I>[keyof PoolEvents<I>],
    );
  }

  /** Adds a listener that runs once. */
  once<K extends keyof WasmPoolEvents<I>>(event: K, listener: WasmPoolEvents<I>[K]): () => void {
    if (event === 'memoryPressure') {
      return this.#pressure.once('memoryPressure', listener as WasmPoolEvents<I>['memoryPressure']);
    }
    return this.pool.once(
      event as keyof PoolEvents<I>,
      listener as PoolEvents<I>[keyof PoolEvents<I>],
    );
  }

  /** Removes a listener. */
  off<K extends keyof WasmPoolEvents<I>>(event: K, listener: WasmPoolEvents<I>[K]): void {
    if (event === 'memoryPressure') {
      this.#pressure.off('memoryPressure', listener as WasmPoolEvents<I>['memoryPressure']);
    } else {
      this.pool.off(event as keyof PoolEvents<I>, listener as PoolEvents<I>[keyof PoolEvents<I>]);
    }
  }

  /**
   * Graceful shutdown: waits up to `timeoutMs` for leases to come back, then drops every
   * instance (and terminates every worker). Idempotent. @default timeoutMs 30_000
   */
  drain(options?: { timeoutMs?: number }): Promise<void> {
    return this.pool.drain(options);
  }

  /** Forced shutdown: instances in use are dropped too. Idempotent. */
  close(): Promise<void> {
    return this.pool.close();
  }

  /** Same as {@link WasmPool.drain}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }
}

/** A pool of main-thread instances. */
export type MainWasmPool<E extends object = WasmExports> = WasmPool<WasmInstance<E>>;
/** A pool of instances that live in worker threads. */
export type WorkerWasmPool<E extends object = WasmExports> = WasmPool<WasmWorkerInstance<E>>;

/**
 * Creates a pool of instances of one WebAssembly module (see {@link WasmPoolOptions}).
 * With `isolation: 'worker'` every instance lives in its own worker thread and its exports
 * return promises.
 * @throws {TypeError|RangeError} for bad options, naming the option.
 * @example
 * const pool = createWasmPool({ module: new URL('./resize.wasm', import.meta.url), max: 4,
 *   memoryLimitMb: 64, maxTotalMemoryMb: 256, reset: 'snapshot' });
 * pool.on('memoryPressure', (e) => log.warn('wasm memory at', e.ratio));
 * const out = await pool.call('resize', [ptr, 640, 480]);
 */
export function createWasmPool<E extends object = WasmExports>(
  options: WasmPoolOptions<WasmWorkerInstance<E>> & { isolation: 'worker' },
): WorkerWasmPool<E>;
export function createWasmPool<E extends object = WasmExports>(
  options: WasmPoolOptions<WasmInstance<E>> & { isolation?: 'main' },
): MainWasmPool<E>;
export function createWasmPool(
  options: WasmPoolOptions<never>,
): WasmPool<WasmInstance<object>> | WasmPool<WasmWorkerInstance<object>> {
  return new WasmPool(options as WasmPoolOptions<WasmInstance<object>>) as never;
}

/** Runs one call on a borrowed instance and gives the instance back when it settles. */
function callOn(
  lease: Lease<PooledInstance>,
  name: string,
  args: unknown[],
  options: { timeoutMs?: number; signal?: AbortSignal } | undefined,
): Promise<unknown> {
  let result: unknown;
  try {
    result = lease.value.call(name, args, options);
  } catch (error) {
    settle(lease);
    return Promise.reject(error);
  }
  if (!(result instanceof Promise)) {
    settle(lease);
    return Promise.resolve(result);
  }
  return result.then(
    (value) => {
      settle(lease);
      return value;
    },
    (error: unknown) => {
      settle(lease);
      throw error;
    },
  );
}

/** A broken instance goes back as destroyed: the destroy event then says `broken`. */
function settle(lease: Lease<PooledInstance>): void {
  const inst = lease.value;
  if (inst.broken) lease.destroy(inst.brokenBy);
  else lease.release();
}

// The create failure of a wasm-specific cause reaches the caller under its own code.
function unwrap(error: unknown): never {
  if (isWeirError(error, 'ERR_POOL_CREATE_FAILED') && error.cause instanceof WasmError) {
    throw error.cause;
  }
  throw error;
}

const noop = (): void => {};
