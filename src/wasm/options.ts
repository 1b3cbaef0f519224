import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
// The options of `createWasmPool`: the managed pool's own, plus the module, its imports,
// the reset strategy, the memory limits and the isolation.
import { describe } from '../internal/errors.js';
import { checkFn, checkKeys, checkMs, checkObject, optionKeys } from '../internal/options.js';
import type { ManagedPoolOptions } from '../managed/index.js';
import { managedOptionKeys } from '../managed/options.js';
import type { WasmImports } from './instance.js';
import { checkSource, type WasmSource } from './module.js';
import { RESET_STRATEGIES, type ResetStrategy } from './reset.js';
import { WebAssembly } from './webassembly.js';

/**
 * Options of {@link createWasmPool}: the module and its memory rules, plus every option of
 * a managed pool (`min`, `max`, `acquireTimeoutMs`, `idleTimeoutMs`, `breaker`, …), where
 * a "connection" is an instance and "connect" is instantiating.
 * @example
 * const options: WasmPoolOptions<Instance> = { module: './add.wasm', max: 8, memoryLimitMb: 64 };
 */
export interface WasmPoolOptions<I = unknown> extends ManagedPoolOptions {
  /** The module: bytes, a path or `file:` URL, or a `WebAssembly.Module`. Compiled once. */
  module: WasmSource;
  /**
   * Imports of each instance, or a function that makes them per instance. Give a function
   * to supply a memory per instance: `() => ({ env: { memory: new WebAssembly.Memory({
   * initial: 1, maximum: 256 }) } })`; a memory the host supplies with `maximum` makes
   * `memory.grow` past it fail inside the module (-1) instead of growing. Not with
   * `isolation: 'worker'` (functions cannot be posted): use `workerImports` there.
   */
  imports?: WasmImports;
  /** How an instance is cleaned between borrowers; see {@link ResetStrategy}. @default 'auto' */
  reset?: ResetStrategy;
  /**
   * An instance whose linear memory is over this after a use is never returned to the pool
   * (memory never shrinks: dropping the instance is the only way to free it). Measured
   * after every use, so a single call may go over it until the lease comes back.
   * @default Infinity (MiB)
   */
  memoryLimitMb?: number;
  /**
   * The pool's memory budget: the summed linear memory of its instances. An instantiation
   * that would not fit waits (idle instances are evicted first); an instance that comes
   * back grown past it is dropped if evicting idle ones is not enough. `memoryPressure`
   * fires at 80 %.
   * @default Infinity (MiB)
   */
  maxTotalMemoryMb?: number;
  /**
   * Checks an instance before it is handed out after sitting idle longer than
   * `checkAfterIdleMs` (and idle ones every `checkIntervalMs`): `false` or a throw drops it.
   */
  check?: (instance: I, signal: AbortSignal) => boolean | Promise<boolean>;
  /**
   * Where instances live: on this thread (`'main'`, calls are synchronous and cannot be
   * interrupted), or each in its own worker thread (`'worker'`, calls go by message and a
   * call past its `timeoutMs` terminates the worker).
   * @default 'main'
   */
  isolation?: 'main' | 'worker';
  /**
   * With `isolation: 'worker'`: the default `timeoutMs` of every call. A call that runs
   * longer rejects with `ERR_WASM_CALL_TIMEOUT` and its worker is terminated.
   * @default Infinity (ms)
   */
  callTimeoutMs?: number;
  /**
   * With `isolation: 'worker'`: a module (path or URL) loaded in each worker whose default
   * export is the import object, or a function that returns one per instance.
   */
  workerImports?: string | URL;
}

/** @internal Options after validation. */
export interface ResolvedWasmOptions<I> {
  source: WasmSource;
  imports: WasmImports | undefined;
  reset: ResetStrategy;
  memoryLimitBytes: number;
  maxTotalBytes: number;
  check: ((instance: I, signal: AbortSignal) => boolean | Promise<boolean>) | undefined;
  worker: boolean;
  callTimeoutMs: number;
  workerImports: string | undefined;
  managed: ManagedPoolOptions;
}

const WASM_KEYS = optionKeys<WasmPoolOptions>({
  module: 1,
  imports: 1,
  reset: 1,
  memoryLimitMb: 1,
  maxTotalMemoryMb: 1,
  check: 1,
  isolation: 1,
  callTimeoutMs: 1,
  workerImports: 1,
  // The managed pool's options, passed on (it checks their values).
  ...managedOptionKeys,
  shared: 1,
  maxLeasesPerResource: 1,
  leaseLimit: 1,
});

const OWN = [
  'module',
  'imports',
  'reset',
  'memoryLimitMb',
  'maxTotalMemoryMb',
  'check',
  'isolation',
  'callTimeoutMs',
  'workerImports',
] as const;

const MIB = 1_048_576;

/** @internal Validates the options. @throws {TypeError|RangeError} naming the option. */
export function resolveWasmOptions<I>(options: WasmPoolOptions<I>): ResolvedWasmOptions<I> {
  checkObject('options', options);
  if (options === undefined) throw new TypeError('createWasmPool needs options with a `module`');
  checkKeys('createWasmPool', options, WASM_KEYS);
  const source = checkSource(options.module);
  const reset = options.reset ?? 'auto';
  if (!RESET_STRATEGIES.includes(reset)) {
    throw new TypeError(
      `Expected \`reset\` to be one of ${RESET_STRATEGIES.map((s) => `'${s}'`).join(', ')}, got ${describe(reset)}`,
    );
  }
  const isolation = options.isolation ?? 'main';
  if (isolation !== 'main' && isolation !== 'worker') {
    throw new TypeError(
      `Expected \`isolation\` to be 'main' or 'worker', got ${describe(isolation)}`,
    );
  }
  const worker = isolation === 'worker';
  const imports = options.imports;
  if (imports !== undefined && typeof imports !== 'function') checkObject('imports', imports);
  if (worker && imports !== undefined) {
    throw new TypeError(
      "`imports` cannot be posted to a worker (functions do not cross threads): with `isolation: 'worker'` give `workerImports`, a module whose default export is the imports",
    );
  }
  if (!worker && options.workerImports !== undefined) {
    throw new TypeError(
      "`workerImports` needs `isolation: 'worker'`; on the main thread give `imports`",
    );
  }
  if (!worker && options.callTimeoutMs !== undefined) {
    throw new TypeError(
      "`callTimeoutMs` needs `isolation: 'worker'`: a wasm call on the main thread cannot be interrupted",
    );
  }
  if (typeof imports === 'object' && hasMemory(imports) && (options.max ?? 10) > 1) {
    throw new TypeError(
      'A WebAssembly.Memory in `imports` would be shared by every instance: give `imports` as a function that makes a new memory per instance',
    );
  }
  let workerImports: string | undefined;
  if (options.workerImports !== undefined) {
    const w = options.workerImports;
    if (!(w instanceof URL) && (typeof w !== 'string' || w.length === 0)) {
      throw new TypeError(`Expected \`workerImports\` to be a path or URL, got ${describe(w)}`);
    }
    // The worker imports it from evaluated code, which has no base to resolve a relative path.
    workerImports =
      w instanceof URL ? w.href : /^(file|data):/.test(w) ? w : pathToFileURL(resolve(w)).href;
  }
  for (const key of ['shared', 'maxLeasesPerResource', 'leaseLimit'] as const) {
    if (options[key] !== undefined) {
      throw new TypeError(
        `\`${key}\` is not an option of a wasm pool: an instance serves one borrower at a time`,
      );
    }
  }
  const managed: Record<string, unknown> = { name: 'wasm' };
  for (const key in options) {
    if (!(OWN as readonly string[]).includes(key)) {
      managed[key] = (options as unknown as Record<string, unknown>)[key];
    }
  }
  return {
    source,
    imports,
    reset,
    memoryLimitBytes: megabytes('memoryLimitMb', options.memoryLimitMb),
    maxTotalBytes: megabytes('maxTotalMemoryMb', options.maxTotalMemoryMb),
    check: checkFn('check', options.check, false),
    worker,
    callTimeoutMs: checkMs('callTimeoutMs', options.callTimeoutMs ?? Number.POSITIVE_INFINITY, 1),
    workerImports,
    managed: managed as ManagedPoolOptions,
  };
}

function megabytes(name: string, value: number | undefined): number {
  if (value === undefined) return Number.POSITIVE_INFINITY;
  if (typeof value !== 'number' || Number.isNaN(value) || !(value > 0)) {
    throw new RangeError(`Expected \`${name}\` to be a number of MiB > 0, got ${describe(value)}`);
  }
  return value * MIB;
}

function hasMemory(imports: WebAssembly.Imports): boolean {
  for (const ns of Object.values(imports)) {
    if (typeof ns !== 'object' || ns === null) continue;
    for (const v of Object.values(ns)) if (v instanceof WebAssembly.Memory) return true;
  }
  return false;
}
