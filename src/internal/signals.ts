// AbortSignal helpers. A signal gets at most one 'abort' listener from weir, however many
// waits share it: a request's signal passed to every call it makes, or a shutdown signal
// passed to a thousand waiters, would otherwise carry a listener per wait (Node warns with
// MaxListenersExceededWarning past ten) and pay a scan of that list for each removal. The
// listener fans out to the waits registered on the signal; the last disposer removes it.
// Raising the signal's limit with `events.setMaxListeners` instead would change the
// caller's own signal and hide the warnings that point at the caller's own leaks.

/** The reason an aborted signal carries (an `AbortError` DOMException if none was given). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

const noop = (): void => {};

// The waits of each signal that has any, keyed by their disposers, in registration order.
const waits = new WeakMap<AbortSignal, Map<() => void, (reason: unknown) => void>>();

function dispatch(event: Event): void {
  const signal = event.target as AbortSignal;
  const list = waits.get(signal);
  if (list === undefined) return;
  // A wait registered from inside a callback sees an aborted signal and must not fire.
  waits.delete(signal);
  const reason = abortReason(signal);
  for (const [dispose, fn] of list) {
    // Deleted before the call, so a disposer called later (or a callback disposing a
    // wait not yet reached) finds nothing to do.
    list.delete(dispose);
    try {
      fn(reason);
    } catch (error) {
      // As an EventTarget does for a throwing listener: report it, and go on.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

/**
 * Calls `fn(reason)` once when `signal` aborts. Returns a disposer that removes the
 * wait; call it when the operation settles. Does nothing for an absent signal.
 * The caller must check `signal.aborted` first: an already aborted signal never fires.
 * Costs one map entry per wait and one listener per signal, however many waits share it.
 */
export function onAbort(
  signal: AbortSignal | undefined,
  fn: (reason: unknown) => void,
): () => void {
  if (signal === undefined) return noop;
  let list = waits.get(signal);
  if (list === undefined) {
    list = new Map();
    waits.set(signal, list);
    signal.addEventListener('abort', dispatch, { once: true });
  }
  const own = list;
  const dispose = (): void => {
    if (own.delete(dispose) && own.size === 0 && waits.get(signal) === own) {
      waits.delete(signal);
      signal.removeEventListener('abort', dispatch);
    }
  };
  own.set(dispose, fn);
  return dispose;
}

/**
 * A controller that aborts when `parent` aborts (with its reason). `dispose()` detaches it
 * from the parent. Used to give callbacks their own signal that weir can abort too.
 */
export function childController(parent: AbortSignal | undefined): {
  controller: AbortController;
  dispose: () => void;
} {
  const controller = new AbortController();
  if (parent === undefined) return { controller, dispose: noop };
  if (parent.aborted) {
    controller.abort(abortReason(parent));
    return { controller, dispose: noop };
  }
  const dispose = onAbort(parent, (reason) => controller.abort(reason));
  return { controller, dispose };
}

/** Checks an optional `signal` option. @throws {TypeError} */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw new TypeError('Expected `signal` to be an AbortSignal');
  }
  return signal;
}
