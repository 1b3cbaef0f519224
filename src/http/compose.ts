import { Dispatcher } from 'undici';
import type { Clock } from '../internal/clock.js';
import { download, upload } from './progress.js';
import type { ComposablePool, HttpRequestOptions } from './types.js';

type Dispatch = Dispatcher['dispatch'];
type Interceptors = Dispatcher.DispatcherComposeInterceptor[];
// biome-ignore lint/suspicious/noExplicitAny: the parameters after the first two
type Rest<F> = F extends (a: any, b: any, ...rest: infer R) => unknown ? R : never;

/**
 * @internal The pool seen through undici interceptors (`pool.compose(...)`).
 *
 * undici's own `compose` returns a Proxy of the dispatcher that swaps `dispatch` only, so
 * every other method runs with the Proxy as `this`: undici's `request(options)`, `stream`,
 * `pipeline` go through the interceptors as they should, but a method that reads the pool's
 * private state (`stats()`, `close()`) throws, and weir's `request(url)` would skip the
 * interceptors. This view sends `request(url)`, `download` and `upload` through the
 * interceptors, runs the pool's own methods on the pool, and composes further on top.
 */
export function composedView<P extends ComposablePool & { readonly clock: Clock }>(
  pool: P,
  dispatch: Dispatch,
): P {
  const own = Object.getPrototypeOf(pool) as object;
  const bound = new Map<PropertyKey, unknown>();
  const view: P = new Proxy(pool, {
    get(target, key) {
      switch (key) {
        case 'dispatch':
          return dispatch;
        case 'request':
          return viewRequest;
        case 'compose':
          return (...args: [Interceptors] | Interceptors) => {
            // undici's compose, over this view's dispatch rather than the pool's.
            const next = (Dispatcher.prototype.compose as (...a: unknown[]) => Dispatcher).apply(
              { dispatch },
              args,
            );
            return composedView(target, next.dispatch as Dispatch);
          };
        case 'download':
          return (...args: Rest<typeof download>) => download(view, target.clock, ...args);
        case 'upload':
          return (...args: Rest<typeof upload>) => upload(view, target.clock, ...args);
      }
      const value = Reflect.get(target, key, target) as unknown;
      // The pool's own methods need the pool itself; undici's (stream, pipeline, connect,
      // upgrade) and EventEmitter's only `this.dispatch` and public fields: the view.
      if (typeof value !== 'function' || !Object.hasOwn(own, key)) return value;
      let fn = bound.get(key);
      if (fn === undefined) bound.set(key, (fn = value.bind(target)));
      return fn;
    },
  });
  function viewRequest(url: unknown, options?: unknown): unknown {
    if (typeof url === 'string' || url instanceof URL) {
      return pool.requestThrough(dispatch, url, options as HttpRequestOptions | undefined);
    }
    // undici's request(options[, callback]); it dispatches through `this.dispatch`.
    return (Dispatcher.prototype.request as (...a: unknown[]) => unknown).call(view, url, options);
  }
  return view;
}
