/**
 * A small typed event emitter. `emit` with no listener costs one property read,
 * which matters on the pool's acquire/release path.
 */
export class Emitter<Events extends { [K in keyof Events]: (...args: never[]) => void }> {
  #listeners: { [K in keyof Events]?: Events[K][] } = {};
  // Total listeners of every event: one field load tells a hot path that nobody listens.
  #count = 0;

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    const list: Events[K][] | undefined = this.#listeners[event];
    // Copy on write: a listener removing itself during emit does not skip its neighbour.
    this.#listeners[event] = list === undefined ? [listener] : [...list, listener];
    this.#count++;
    return () => this.off(event, listener);
  }

  /** Adds a listener that runs once. */
  once<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    const wrapped = ((...args: Parameters<Events[K]>) => {
      this.off(event, wrapped);
      (listener as (...a: Parameters<Events[K]>) => void)(...args);
    }) as unknown as Events[K];
    return this.on(event, wrapped);
  }

  /** Removes a listener added with `on`. */
  off<K extends keyof Events>(event: K, listener: Events[K]): void {
    const list = this.#listeners[event];
    if (list === undefined) return;
    const next = list.filter((l) => l !== listener);
    this.#count -= list.length - next.length;
    if (next.length === 0) delete this.#listeners[event];
    else this.#listeners[event] = next;
  }

  /** Number of listeners for `event`. */
  listenerCount(event: keyof Events): number {
    return this.#listeners[event]?.length ?? 0;
  }

  /** @internal true when anyone listens, so callers can skip building the payload. */
  protected hasListeners(event: keyof Events): boolean {
    return this.#count !== 0 && this.#listeners[event] !== undefined;
  }

  /**
   * @internal Calls each listener. A throwing listener cannot corrupt the emitter's
   * owner mid-update: its error is rethrown on a later tick, as an uncaught exception.
   */
  protected emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    if (this.#count === 0) return;
    const list = this.#listeners[event];
    if (list === undefined) return;
    for (const listener of list) {
      try {
        (listener as (...a: Parameters<Events[K]>) => void)(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
