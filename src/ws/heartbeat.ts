// Ping/pong health of an open connection. One timer at a time: the next ping, then the
// pong's deadline; a pong in time schedules the next ping one interval after the last.
// A connection whose pong is late is dead (a half-open TCP connection answers nothing and
// never fires `close` by itself): ping at t, deadline at t + timeout <= t + interval, so a
// connection that dies at any moment is found within two intervals.
import type { Clock, TimerHandle } from '../internal/clock.js';

/** @internal */
export class Heartbeat {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #ping: () => void;
  readonly #dead: () => void;
  #timer: TimerHandle;
  #sentAt = -1;
  /** Round trip of the last pong, in ms (-1 before the first). */
  latencyMs = -1;

  constructor(
    clock: Clock,
    intervalMs: number,
    timeoutMs: number,
    ping: () => void,
    dead: () => void,
  ) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#timeoutMs = timeoutMs;
    this.#ping = ping;
    this.#dead = dead;
  }

  /** Starts (or restarts) the cycle: the first ping one interval from now. */
  start(): void {
    this.stop();
    this.#timer = this.#clock.setTimeout(this.#onPing, this.#intervalMs, true);
  }

  stop(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#sentAt = -1;
  }

  /** A pong arrived; returns its round trip, or -1 for one nobody asked for. */
  pong(): number {
    if (this.#sentAt < 0) return -1;
    const now = this.#clock.now();
    this.latencyMs = now - this.#sentAt;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(
      this.#onPing,
      Math.max(0, this.#intervalMs - this.latencyMs),
      true,
    );
    this.#sentAt = -1;
    return this.latencyMs;
  }

  readonly #onPing = (): void => {
    this.#sentAt = this.#clock.now();
    this.#timer = this.#clock.setTimeout(this.#onTimeout, this.#timeoutMs, true);
    this.#ping();
  };

  readonly #onTimeout = (): void => {
    this.#timer = undefined;
    this.#sentAt = -1;
    this.#dead();
  };
}
