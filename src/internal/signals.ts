// AbortSignal helpers. Listeners are added `{ once: true }` and always removed by the
// returned disposer, so a long-lived signal shared by many calls does not accumulate them.

/** The reason an aborted signal carries (an `AbortError` DOMException if none was given). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

const noop = (): void => {};

/**
 * Calls `fn(reason)` once when `signal` aborts. Returns a disposer that removes the
 * listener; call it when the operation settles. Does nothing for an absent signal.
 * The caller must check `signal.aborted` first: an already aborted signal never fires.
 */
export function onAbort(
  signal: AbortSignal | undefined,
  fn: (reason: unknown) => void,
): () => void {
  if (signal === undefined) return noop;
  const listener = (): void => fn(abortReason(signal));
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
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
