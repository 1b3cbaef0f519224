import { checkKeys } from '../internal/options.js';
import { EXECUTE_KEYS, type ExecuteOptions, type Policy, type PolicyContext } from './policy.js';

/**
 * Composes policies into one, outermost first: `wrap(retry, breaker, timeout)` retries
 * calls that go through the breaker, each attempt bounded by the timeout. Each policy's
 * signal is passed on to the next, so a timeout or an abort reaches the innermost call.
 * @example
 * const resilient = wrap(
 *   retryPolicy({ attempts: 3 }),
 *   new CircuitBreaker({ threshold: 5 }),
 *   new Semaphore(10),
 *   timeoutPolicy(2_000),
 * );
 * const body = await resilient.execute(({ signal }) => fetch(url, { signal }));
 * @throws {TypeError} if an argument is not a policy (an object with `execute`).
 */
export function wrap(...policies: Policy[]): Policy {
  policies.forEach((p, i) => {
    if (typeof p !== 'object' || p === null || typeof p.execute !== 'function') {
      throw new TypeError(`Expected \`policies[${i}]\` to be a policy with an execute() method`);
    }
  });
  const chain = policies.slice();
  return {
    execute<R>(
      fn: (context: PolicyContext) => R | PromiseLike<R>,
      options?: ExecuteOptions,
    ): Promise<R> {
      checkKeys('wrap execute', options, EXECUTE_KEYS);
      const step = (i: number, context: PolicyContext): Promise<R> => {
        const p = chain[i];
        if (p === undefined) return Promise.resolve(context).then(fn);
        return p.execute(
          (inner) => step(i + 1, inner),
          context.signal === undefined ? undefined : { signal: context.signal },
        );
      };
      return step(0, { signal: options?.signal });
    },
  };
}
