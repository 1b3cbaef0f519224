// The one pub/sub subscription a semaphore or a channel shares between all its waits: made
// when the first wait needs it, under `connectTimeoutMs`, and forgotten when it fails, so
// that the next wait tries again instead of inheriting the failure.
import type { ResolvedBase } from './options.js';
import { within } from './scripts.js';

const noop = (): void => {};

/** @internal */
export class Subscription {
  #open: Promise<() => Promise<void>> | undefined;
  readonly #base: ResolvedBase;
  readonly #channel: string;
  readonly #what: string;
  readonly #listener: (message: string) => void;

  /** `what` names the owner in a timeout's message: `semaphore "jobs"`. */
  constructor(
    base: ResolvedBase,
    channel: string,
    what: string,
    listener: (message: string) => void,
  ) {
    this.#base = base;
    this.#channel = channel;
    this.#what = what;
    this.#listener = listener;
  }

  /** Resolves once subscribed. @throws the typed error of a Redis that does not answer. */
  ready(): Promise<unknown> {
    if (this.#open === undefined) {
      const { redis, clock, connectTimeoutMs } = this.#base;
      const p = within(
        clock,
        connectTimeoutMs,
        `a subscribe for ${this.#what}`,
        redis.subscribe(this.#channel, this.#listener),
      );
      this.#open = p;
      p.catch(() => {
        if (this.#open === p) this.#open = undefined;
      });
    }
    return this.#open;
  }

  /** Unsubscribes if subscribed; never throws. */
  async close(): Promise<void> {
    const open = this.#open;
    this.#open = undefined;
    if (open !== undefined) await open.then((off) => off(), noop);
  }
}
