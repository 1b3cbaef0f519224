import { WeirError } from '../internal/errors.js';

/** Snapshot of the pool at the moment an error was raised, for messages and logs. */
export interface PoolState {
  /** Leases out (a shared resource counts once per borrower). */
  leased: number;
  idle: number;
  /** Resources being validated (neither idle nor leased). */
  validating: number;
  /** Resources being reset (neither idle nor leased). */
  resetting: number;
  creating: number;
  waiting: number;
  max: number;
}

export function formatState(s: PoolState): string {
  // Resources under a hook are named only when there are any, to keep the usual message short.
  const checking =
    (s.validating > 0 ? `${s.validating} being validated, ` : '') +
    (s.resetting > 0 ? `${s.resetting} being reset, ` : '');
  return `${s.leased} leased, ${s.idle} idle, ${checking}${s.creating} being created, ${s.waiting} waiting; max ${s.max}`;
}

/**
 * An acquire waited longer than its timeout. Code `ERR_POOL_TIMEOUT`.
 * The message gives the pool's state at that moment; `cause` is the last create failure, if any.
 */
export class PoolTimeoutError extends WeirError {
  /** How long the caller waited, in ms. */
  readonly waitedMs: number;
  /** The pool's state when the wait timed out. */
  readonly state: PoolState;

  constructor(pool: string, waitedMs: number, state: PoolState, cause?: unknown) {
    super(
      'ERR_POOL_TIMEOUT',
      `Timed out after ${Math.round(waitedMs)} ms waiting for a resource from pool "${pool}" ` +
        `(${formatState(state)}). Raise \`max\` or \`acquireTimeoutMs\`, or look for leases that are held too long` +
        (cause === undefined ? '.' : '; the last create failed (see cause).'),
      { cause },
    );
    this.waitedMs = waitedMs;
    this.state = state;
  }
}

/** The pool is draining or closed and takes no new acquires. Code `ERR_POOL_CLOSED`. */
export class PoolClosedError extends WeirError {
  constructor(pool: string, what = 'acquire') {
    super('ERR_POOL_CLOSED', `Cannot ${what}: pool "${pool}" is draining or closed`);
  }
}

/** More callers are waiting than `maxWaiting` allows. Code `ERR_POOL_EXHAUSTED`. */
export class PoolExhaustedError extends WeirError {
  readonly state: PoolState;
  constructor(pool: string, maxWaiting: number, state: PoolState) {
    super(
      'ERR_POOL_EXHAUSTED',
      `Pool "${pool}" already has ${maxWaiting} callers waiting (maxWaiting) (${formatState(state)}); ` +
        'shed load or raise `maxWaiting`',
    );
    this.state = state;
  }
}

/**
 * The pool's `create` hook failed (rejected, threw or timed out) while this caller waited for it.
 * Code `ERR_POOL_CREATE_FAILED` (`ERR_POOL_CREATE_TIMEOUT` for a timeout); the hook's error is `cause`.
 */
export class CreateFailedError extends WeirError {
  constructor(pool: string, cause: unknown, timedOutMs?: number) {
    super(
      timedOutMs === undefined ? 'ERR_POOL_CREATE_FAILED' : 'ERR_POOL_CREATE_TIMEOUT',
      timedOutMs === undefined
        ? `Pool "${pool}" could not create a resource: ${cause instanceof Error ? cause.message : String(cause)}`
        : `Pool "${pool}" gave up creating a resource after ${timedOutMs} ms (createTimeoutMs)`,
      { cause },
    );
  }
}
