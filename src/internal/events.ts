// Waiting on Node emitters for the first of two events (a stream's 'drain' or its
// response's 'close', a response's 'finish' or 'close'), leaving no listener behind.

/** @internal The part of an `EventEmitter` that {@link onFirst} uses. */
export interface Listenable {
  on(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

/**
 * @internal Calls `fn` once, on the first of `a` emitting `eventA` and `b` emitting
 * `eventB` (`a` and `b` may be the same emitter); both listeners are removed before `fn`.
 */
export function onFirst(
  a: Listenable,
  eventA: string,
  b: Listenable,
  eventB: string,
  fn: () => void,
): void {
  const done = (): void => {
    a.off(eventA, done);
    b.off(eventB, done);
    fn();
  };
  a.on(eventA, done);
  b.on(eventB, done);
}
