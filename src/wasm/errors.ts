// The errors of weir/wasm. A trap, a runaway call and an allocation V8 refuses each get
// their own code, so a caller can tell "the module is wrong" from "the machine is full".
import { WeirError, type WeirErrorCode } from '../internal/errors.js';

/**
 * Base class of the errors of `weir/wasm`; `code` tells which one.
 * @example
 * if (isWeirError(error, 'ERR_WASM_TRAP')) log.warn('module trapped', error.cause);
 */
export class WasmError extends WeirError {
  constructor(code: WeirErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The module failed to load or compile. Code `ERR_WASM_COMPILE`; `cause` is the failure. */
export class WasmCompileError extends WasmError {
  constructor(pool: string, cause: unknown) {
    super(
      'ERR_WASM_COMPILE',
      `The module of wasm pool "${pool}" could not be loaded or compiled: ${messageOf(cause)}`,
      { cause },
    );
  }
}

/**
 * A call trapped (`unreachable`, an out-of-bounds access, a division by zero, a stack
 * overflow). Code `ERR_WASM_TRAP`; `cause` is V8's `WebAssembly.RuntimeError`. The
 * instance is destroyed: its state may be half-updated.
 */
export class WasmTrapError extends WasmError {
  /** The export that trapped. */
  readonly export: string;
  constructor(name: string, cause: unknown) {
    super(
      'ERR_WASM_TRAP',
      `The call of export "${name}" trapped (${messageOf(cause)}); the instance is destroyed and never reused`,
      { cause },
    );
    this.export = name;
  }
}

/**
 * A call on an instance that already trapped, threw from a host import or timed out, made
 * through the lease that still holds it. Code `ERR_WASM_INSTANCE_BROKEN`.
 */
export class WasmInstanceBrokenError extends WasmError {
  constructor(name: string, cause: unknown) {
    super(
      'ERR_WASM_INSTANCE_BROKEN',
      `Cannot call export "${name}": this instance broke earlier (see cause); release the lease and acquire another`,
      { cause },
    );
  }
}

/**
 * V8 refused to allocate linear memory (`RangeError: Cannot allocate Wasm memory`), which
 * happens around 13,000 live memories or when the address space is used up. Code
 * `ERR_WASM_OUT_OF_MEMORY`; `cause` is V8's `RangeError`.
 */
export class WasmOutOfMemoryError extends WasmError {
  constructor(pool: string, cause: unknown) {
    super(
      'ERR_WASM_OUT_OF_MEMORY',
      `V8 could not allocate WebAssembly memory for a new instance of wasm pool "${pool}" ` +
        `(${messageOf(cause)}); lower \`max\` or \`maxTotalMemoryMb\`, or drop other instances`,
      { cause },
    );
  }
}

/**
 * An instance grew past `memoryLimitMb` (or came back grown while the pool was over
 * `maxTotalMemoryMb` with no idle instance left to evict) and was dropped. Reported as the
 * `cause` of the pool's `destroy` event, never thrown to a borrower; thrown to the acquirer
 * only when a fresh instance is already over `memoryLimitMb`. Code `ERR_WASM_MEMORY_LIMIT`.
 */
export class WasmMemoryLimitError extends WasmError {
  /** The instance's linear memory when it was measured, in bytes. */
  readonly bytes: number;
  /** The limit, in bytes. */
  readonly limitBytes: number;
  /** Which limit. */
  readonly limit: 'memoryLimitMb' | 'maxTotalMemoryMb';
  constructor(
    bytes: number,
    limitBytes: number,
    limit: 'memoryLimitMb' | 'maxTotalMemoryMb' = 'memoryLimitMb',
  ) {
    super(
      'ERR_WASM_MEMORY_LIMIT',
      limit === 'memoryLimitMb'
        ? `The instance's memory is ${mb(bytes)} MiB, over \`memoryLimitMb\` (${mb(limitBytes)} MiB); it was dropped (memory never shrinks)`
        : `The instance came back with ${mb(bytes)} MiB while the pool was over \`maxTotalMemoryMb\` (${mb(limitBytes)} MiB) and no idle instance was left to evict; it was dropped`,
    );
    this.bytes = bytes;
    this.limitBytes = limitBytes;
    this.limit = limit;
  }
}

/**
 * A call in worker isolation ran past its `timeoutMs`; its worker was terminated (the only
 * way to stop running wasm). Code `ERR_WASM_CALL_TIMEOUT`.
 */
export class WasmCallTimeoutError extends WasmError {
  readonly timeoutMs: number;
  constructor(name: string, timeoutMs: number) {
    super(
      'ERR_WASM_CALL_TIMEOUT',
      `The call of export "${name}" did not finish within ${timeoutMs} ms; its worker was terminated and the instance dropped`,
    );
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The worker that held an instance exited or failed (an uncaught error, an out-of-memory
 * abort) while calls were in flight, or failed to start. Code `ERR_WASM_WORKER_EXIT`.
 */
export class WasmWorkerExitError extends WasmError {
  constructor(message: string, cause?: unknown) {
    super('ERR_WASM_WORKER_EXIT', message, cause === undefined ? undefined : { cause });
  }
}

/** True for V8's refusal to allocate wasm memory (its messages vary by API). */
export function isWasmAllocationFailure(error: unknown): boolean {
  return (
    error instanceof RangeError &&
    /could not allocate memory|cannot allocate wasm memory|out of memory/i.test(error.message)
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function mb(bytes: number): string {
  return String(Math.round((bytes / 1_048_576) * 100) / 100);
}
