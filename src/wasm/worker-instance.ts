// One instance living in its own worker thread, seen from the main thread: calls go by
// message and come back in order; a call past its deadline terminates the worker, since
// terminating is the only way to stop running wasm (it took 3 ms here).

import { Worker } from 'node:worker_threads';
import type { Clock, TimerHandle } from '../internal/clock.js';
import { abortReason, onAbort } from '../internal/signals.js';
import {
  isWasmAllocationFailure,
  WasmCallTimeoutError,
  WasmInstanceBrokenError,
  WasmOutOfMemoryError,
  WasmTrapError,
  WasmWorkerExitError,
} from './errors.js';
import type { Tracked } from './instance.js';
import type { WebAssembly } from './webassembly.js';
import { WORKER_SOURCE } from './worker-source.js';

/** The exports of a worker instance: every function returns a promise of its result. */
export type AsyncExports<E> = {
  [K in keyof E]: E[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never;
};

/** Options of one call on a worker instance. */
export interface WorkerCallOptions {
  /** The call's deadline: past it the worker is terminated. @default the pool's `callTimeoutMs` */
  timeoutMs?: number;
  /** Aborting terminates the worker too (running wasm cannot be stopped otherwise). */
  signal?: AbortSignal;
}

interface PendingCall {
  name: string;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  timer: TimerHandle;
  dispose: () => void;
}

/** @internal How a worker instance is started. */
export interface WorkerStart {
  /** The pool's name, for messages. */
  pool: string;
  id: number;
  module: WebAssembly.Module;
  functions: readonly string[];
  importsUrl: string | undefined;
  snapshot: boolean;
  clock: Clock;
  callTimeoutMs: number;
  /** Told when the worker measured its memory (after every call and reset). */
  measured: (instance: WasmWorkerInstance<object>) => void;
  /** Takes it out of the pool (broken while idle, or leased: on return). */
  retire: (reason: unknown) => void;
}

/**
 * A pooled instance that lives in its own worker thread. Its exports return promises; a
 * call that traps, throws, times out or is aborted breaks it, and the pool terminates its
 * worker when the lease comes back (a timed-out or aborted call terminates it at once).
 * @example
 * const n = await pool.use((inst) => inst.exports.count());
 * const m = await pool.use((inst) => inst.call('count', [], { timeoutMs: 100 }));
 */
export class WasmWorkerInstance<E extends object = Record<string, unknown>> implements Tracked {
  /** A number unique within the pool. */
  readonly id: number;
  /** The module's exported functions, each returning a promise. */
  readonly exports: AsyncExports<E>;
  /** The worker thread. */
  readonly worker: Worker;
  /** Bytes of linear memory as the worker last reported them (after every call and reset). */
  memoryBytes = 0;
  /** Largest `memoryBytes` seen. */
  peakMemoryBytes = 0;
  /** @internal */
  counted = 0;
  /** @internal */
  admitted = false;
  readonly #calls = new Map<number, PendingCall>();
  readonly #o: WorkerStart;
  #next = 0;
  #broken: unknown;
  #exited = false;
  #closing = false;
  #ready: { resolve: () => void; reject: (e: unknown) => void } | undefined;

  private constructor(o: WorkerStart) {
    this.id = o.id;
    this.#o = o;
    const exports: Record<string, unknown> = Object.create(null);
    for (const name of o.functions) {
      exports[name] = (...args: unknown[]) => this.call(name, args);
    }
    this.exports = Object.freeze(exports) as AsyncExports<E>;
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module: o.module, importsUrl: o.importsUrl, snapshot: o.snapshot },
    });
    this.worker.on('message', (m: Reply) => this.#onMessage(m));
    this.worker.on('error', (error) => this.#lost(error));
    this.worker.on('exit', (code) => {
      this.#exited = true;
      this.#lost(
        new WasmWorkerExitError(`The worker of instance ${this.id} exited with code ${code}`),
      );
    });
  }

  /**
   * @internal Starts a worker and waits until its instance exists.
   * @throws {WasmWorkerExitError} when the worker fails to start; the signal's reason on abort.
   */
  static async start<E extends object>(
    o: WorkerStart,
    signal: AbortSignal,
  ): Promise<WasmWorkerInstance<E>> {
    const inst = new WasmWorkerInstance<E>(o);
    let dispose = noop;
    try {
      await new Promise<void>((resolve, reject) => {
        inst.#ready = { resolve, reject };
        if (signal.aborted) reject(abortReason(signal));
        else dispose = onAbort(signal, reject);
      });
    } catch (error) {
      void inst.terminate();
      throw error;
    } finally {
      dispose();
      inst.#ready = undefined;
    }
    return inst;
  }

  /** What broke it (a trap, a host import's error, a timeout), or undefined. */
  get brokenBy(): unknown {
    return this.#broken;
  }

  /** True once a call trapped, threw, timed out or was aborted, or the worker died. */
  get broken(): boolean {
    return this.#broken !== undefined;
  }

  /**
   * Calls export `name` with `args` in the worker.
   * @throws {WasmTrapError} `ERR_WASM_TRAP` when it traps.
   * @throws {WasmCallTimeoutError} `ERR_WASM_CALL_TIMEOUT` past `timeoutMs` (the worker is terminated).
   * @throws {WasmInstanceBrokenError} `ERR_WASM_INSTANCE_BROKEN` on an instance that broke earlier.
   * @throws {WasmWorkerExitError} `ERR_WASM_WORKER_EXIT` when the worker died mid-call.
   * @throws the signal's reason when `signal` aborts (the worker is terminated).
   */
  call(name: string, args: unknown[] = [], options?: WorkerCallOptions): Promise<unknown> {
    if (this.#broken !== undefined) {
      return Promise.reject(new WasmInstanceBrokenError(name, this.#broken));
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const timeoutMs = options?.timeoutMs ?? this.#o.callTimeoutMs;
    const id = ++this.#next;
    return new Promise<unknown>((resolve, reject) => {
      const call: PendingCall = { name, resolve, reject, timer: undefined, dispose: noop };
      this.#calls.set(id, call);
      if (timeoutMs !== Number.POSITIVE_INFINITY) {
        call.timer = this.#o.clock.setTimeout(
          () => this.#kill(id, new WasmCallTimeoutError(name, timeoutMs)),
          timeoutMs,
        );
      }
      if (signal !== undefined) call.dispose = onAbort(signal, (reason) => this.#kill(id, reason));
      try {
        this.worker.postMessage({ t: 'call', id, name, args });
      } catch (error) {
        // Arguments that cannot be cloned: nothing was sent, the instance is fine.
        this.#settle(id);
        reject(error);
      }
    });
  }

  /** @internal Asks the worker to reset; handled before any later call. */
  reset(how: 'reinstantiate' | 'snapshot' | 'auto'): void {
    this.worker.postMessage({ t: 'reset', how });
  }

  /** @internal Terminates the worker. */
  async terminate(): Promise<void> {
    this.#closing = true;
    this.#broken ??= 'closed';
    if (this.#exited) return;
    await this.worker.terminate();
  }

  /** @internal */
  ref(): void {
    this.worker.ref();
  }

  /** @internal */
  unref(): void {
    this.worker.unref();
  }

  #onMessage(m: Reply): void {
    if (m.bytes !== undefined) {
      this.memoryBytes = m.bytes;
      if (m.bytes > this.peakMemoryBytes) this.peakMemoryBytes = m.bytes;
      if (this.#ready === undefined) this.#o.measured(this as WasmWorkerInstance<object>);
    }
    switch (m.t) {
      case 'ready':
        this.#ready?.resolve();
        return;
      case 'failed':
        this.#ready?.reject(
          isWasmAllocationFailure(m.error)
            ? new WasmOutOfMemoryError(this.#o.pool, m.error)
            : new WasmWorkerExitError('The worker failed to start its instance', m.error),
        );
        return;
      case 'done': {
        const call = this.#settle(m.id);
        call?.resolve(m.value);
        return;
      }
      case 'error': {
        const call = this.#settle(m.id);
        if (call === undefined) return;
        const error = m.trap ? new WasmTrapError(call.name, m.error) : m.error;
        // A trap or a throw inside the module (a host import) may leave it half-updated;
        // a missing export or a result that could not be posted leaves it as it was.
        if (m.benign !== true) this.#break(error);
        call.reject(error);
        return;
      }
      case 'resetFailed':
        this.#break(m.error);
        this.#o.retire(m.error);
        return;
      default:
    }
  }

  #settle(id: number): PendingCall | undefined {
    const call = this.#calls.get(id);
    if (call === undefined) return undefined;
    this.#calls.delete(id);
    this.#o.clock.clearTimeout(call.timer);
    call.dispose();
    return call;
  }

  /** A call ran too long or was aborted: the worker goes, and every call in it fails. */
  #kill(id: number, error: unknown): void {
    const call = this.#settle(id);
    if (call === undefined) return;
    this.#break(error);
    call.reject(error);
    void this.terminate();
    this.#failAll(new WasmInstanceBrokenError(call.name, error));
    this.#o.retire(error);
  }

  /** The worker died or failed. */
  #lost(error: unknown): void {
    this.#ready?.reject(
      new WasmWorkerExitError('The worker exited before its instance was ready', error),
    );
    if (this.#closing) {
      this.#failAll(new WasmWorkerExitError('The instance was closed', error));
      return;
    }
    this.#break(error);
    this.#failAll(
      error instanceof WasmWorkerExitError
        ? error
        : new WasmWorkerExitError(`The worker of instance ${this.id} failed`, error),
    );
    this.#o.retire(error);
  }

  #failAll(error: unknown): void {
    for (const id of [...this.#calls.keys()]) this.#settle(id)?.reject(error);
  }

  #break(error: unknown): void {
    this.#broken ??= error ?? 'broken';
  }
}

type Reply =
  | { t: 'ready'; bytes: number }
  | { t: 'failed'; error: unknown; bytes: number }
  | { t: 'done'; id: number; value: unknown; bytes: number }
  | { t: 'error'; id: number; trap: boolean; benign?: boolean; error: unknown; bytes: number }
  | { t: 'reset'; bytes: number }
  | { t: 'resetFailed'; error: unknown; bytes: number };

const noop = (): void => {};
