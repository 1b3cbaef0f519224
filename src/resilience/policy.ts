// The shape every resilience policy shares, so that `wrap()` can nest them.

import { optionKeys } from '../internal/options.js';

/** What a policy passes to the function it runs. */
export interface PolicyContext {
  /**
   * Aborts when the caller's signal aborts, or when the policy gives up on the call
   * (a timeout's deadline). Pass it on to whatever the function waits for.
   */
  readonly signal: AbortSignal | undefined;
}

/** Options of every `execute` call. */
export interface ExecuteOptions {
  /** Aborts the wait (and is passed on to the function). */
  signal?: AbortSignal | undefined;
}

/** @internal The keys of {@link ExecuteOptions}. */
export const EXECUTE_KEYS = optionKeys<ExecuteOptions>({ signal: 1 });

/**
 * A policy runs a function under some rule: a {@link CircuitBreaker}, a {@link Semaphore},
 * a {@link RateLimiter}, {@link retryPolicy} or {@link timeoutPolicy}. Policies nest with
 * {@link wrap}.
 * @example
 * const policy: Policy = new Semaphore(10);
 * await policy.execute(({ signal }) => fetch(url, { signal }));
 */
export interface Policy {
  /** Runs `fn` under this policy; rejects with what `fn` throws or with the policy's own error. */
  execute<R>(
    fn: (context: PolicyContext) => R | PromiseLike<R>,
    options?: ExecuteOptions,
  ): Promise<R>;
}

/** The context handed out when the caller gave no signal: one frozen object, no allocation. */
export const NO_SIGNAL: PolicyContext = Object.freeze({ signal: undefined });
