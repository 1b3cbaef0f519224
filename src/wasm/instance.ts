// One WebAssembly instance on the main thread, as the pool hands it out: exports wrapped so
// that a trap or a throwing host import marks the instance broken (and no later call runs
// on its half-updated state), its memory measured, and its reset strategies.

import { isWasmAllocationFailure, WasmInstanceBrokenError, WasmTrapError } from './errors.js';
import type { ResetCosts } from './reset.js';
import { bytesOf, memoriesOf, restoreSnapshot, type Snapshot, takeSnapshot } from './snapshot.js';
import { WebAssembly } from './webassembly.js';

/** The import object of an instance, or a function that makes one per instance. */
export type WasmImports = WebAssembly.Imports | (() => WebAssembly.Imports);

/** What the memory budget keeps per instance, on the main thread or in a worker. */
export interface Tracked {
  /** Bytes of linear memory when last measured. */
  memoryBytes: number;
  /** @internal Bytes the budget counts for it. */
  counted: number;
  /** @internal Whether the budget has seen it go idle once (its connect is over). */
  admitted: boolean;
}

/** @internal What every instance of one pool shares. */
export class InstanceFactory {
  readonly module: WebAssembly.Module;
  readonly #imports: WasmImports | undefined;
  readonly #functions: string[];
  readonly #values: string[];
  readonly costs: ResetCosts;
  snapshot: Snapshot | undefined;
  readonly #wantSnapshot: boolean;
  #ids = 0;

  constructor(
    module: WebAssembly.Module,
    imports: WasmImports | undefined,
    costs: ResetCosts,
    wantSnapshot: boolean,
  ) {
    this.module = module;
    this.#imports = imports;
    this.costs = costs;
    this.#wantSnapshot = wantSnapshot;
    this.#functions = [];
    this.#values = [];
    for (const d of WebAssembly.Module.exports(module)) {
      (d.kind === 'function' ? this.#functions : this.#values).push(d.name);
    }
  }

  /** The import object for one new instance. */
  imports(): WebAssembly.Imports | undefined {
    const i = this.#imports;
    return typeof i === 'function' ? i() : i;
  }

  /**
   * Instantiates synchronously (23 µs for a small module) and times it for `'auto'`.
   * @throws V8's `RangeError` when it cannot allocate the memory, the module's link errors.
   */
  instantiate(): { raw: WebAssembly.Instance; imports: WebAssembly.Imports | undefined } {
    const imports = this.imports();
    const t0 = performance.now();
    const raw = new WebAssembly.Instance(this.module, imports);
    this.costs.instantiated(performance.now() - t0);
    return { raw, imports };
  }

  /** A new pooled instance. @throws what {@link InstanceFactory.instantiate} throws. */
  create<E extends object>(): WasmInstance<E> {
    const { raw, imports } = this.instantiate();
    const inst = new WasmInstance<E>(++this.#ids, this, raw, imports);
    if (this.#wantSnapshot && this.snapshot === undefined) {
      this.snapshot = takeSnapshot(raw, inst.memories);
    }
    return inst;
  }

  /** @internal Fills `target` with wrappers of the module's exports for `inst`. */
  wrap(inst: WasmInstance<object>, target: Record<string, unknown>): void {
    for (const name of this.#functions) {
      target[name] = (...args: unknown[]): unknown => inst.call(name, args);
    }
    for (const name of this.#values) {
      Object.defineProperty(target, name, {
        enumerable: true,
        get: () => inst.instance.exports[name],
      });
    }
  }
}

/**
 * A pooled WebAssembly instance on the main thread. Call its exports through `exports`
 * (or `call`): a call that traps, or a host import that throws, marks the instance broken;
 * later calls through the same lease throw `ERR_WASM_INSTANCE_BROKEN`, and the pool
 * destroys it when the lease comes back, so nobody else ever sees its state.
 * @example
 * const sum = await pool.use((inst) => inst.exports.add(2, 3));
 */
export class WasmInstance<E extends object = Record<string, unknown>> implements Tracked {
  /** A number unique within the pool. */
  readonly id: number;
  /** The module's exports: functions wrapped, memories, globals and tables as they are. */
  readonly exports: E;
  /** Bytes of linear memory when last measured (after every use). */
  memoryBytes = 0;
  /** Largest `memoryBytes` seen. */
  peakMemoryBytes = 0;
  /** @internal */
  counted = 0;
  /** @internal */
  admitted = false;
  /** @internal Its memories: exported ones, then ones given in its imports. */
  memories: WebAssembly.Memory[];
  #raw: WebAssembly.Instance;
  #broken: unknown;
  readonly #factory: InstanceFactory;

  /** @internal Made by the pool. */
  constructor(
    id: number,
    factory: InstanceFactory,
    raw: WebAssembly.Instance,
    imports: WebAssembly.Imports | undefined,
  ) {
    this.id = id;
    this.#factory = factory;
    this.#raw = raw;
    this.memories = memoriesOf(raw, imports);
    const exports: Record<string, unknown> = Object.create(null);
    factory.wrap(this as WasmInstance<object>, exports);
    this.exports = Object.freeze(exports) as E;
    this.measure();
  }

  /** The raw `WebAssembly.Instance` (changes when the instance is reinstantiated). */
  get instance(): WebAssembly.Instance {
    return this.#raw;
  }

  /** What broke it (a trap, a host import's error, a timeout), or undefined. */
  get brokenBy(): unknown {
    return this.#broken;
  }

  /** True once a call trapped or a host import threw. */
  get broken(): boolean {
    return this.#broken !== undefined;
  }

  /**
   * Calls export `name`.
   * @throws {WasmTrapError} `ERR_WASM_TRAP` when the call traps (the instance is then broken).
   * @throws {WasmInstanceBrokenError} `ERR_WASM_INSTANCE_BROKEN` on an instance that broke earlier.
   * @throws whatever a host import threw (the instance is then broken).
   */
  call(name: string, args: readonly unknown[] = []): unknown {
    if (this.#broken !== undefined) throw new WasmInstanceBrokenError(name, this.#broken);
    const fn = this.#raw.exports[name];
    if (typeof fn !== 'function')
      throw new TypeError(`The module has no exported function "${name}"`);
    try {
      return (fn as (...a: unknown[]) => unknown)(...args);
    } catch (error) {
      throw this.#fail(name, error);
    }
  }

  /** @internal Marks it broken from outside (a failed check). */
  markBroken(reason: unknown): void {
    this.#broken ??= reason;
  }

  /** Measures its linear memory now; returns the bytes. */
  measure(): number {
    const n = bytesOf(this.memories);
    this.memoryBytes = n;
    if (n > this.peakMemoryBytes) this.peakMemoryBytes = n;
    return n;
  }

  /** @internal Replaces the instance by a new one of the same module. @throws as instantiate does */
  reinstantiate(): void {
    const { raw, imports } = this.#factory.instantiate();
    this.#raw = raw;
    this.memories = memoriesOf(raw, imports);
    this.measure();
  }

  /** @internal What `'auto'` picks for it now. */
  factoryChoice(): 'snapshot' | 'reinstantiate' {
    return this.#factory.snapshot === undefined
      ? 'reinstantiate'
      : this.#factory.costs.choose(this.memoryBytes);
  }

  /** @internal Puts the pool's snapshot back; false (nothing changed) if the memory grew. */
  restore(): boolean {
    const snapshot = this.#factory.snapshot;
    if (snapshot === undefined) return false;
    const t0 = performance.now();
    if (!restoreSnapshot(snapshot, this.#raw, this.memories)) return false;
    this.#factory.costs.restored(performance.now() - t0, this.memoryBytes);
    return true;
  }

  #fail(name: string, error: unknown): unknown {
    const trap =
      error instanceof WebAssembly.RuntimeError ||
      (error instanceof RangeError && /call stack/i.test(error.message));
    const out = trap && !isWasmAllocationFailure(error) ? new WasmTrapError(name, error) : error;
    this.#broken ??= out;
    return out;
  }
}
