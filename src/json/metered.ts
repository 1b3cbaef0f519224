// What an encoded JSON/NDJSON stream reports while it runs (the hooks of Go's stream
// package's StreamMetrics): each chunk handed on and its bytes, a failure, and the end of
// the stream with its duration. A stream without hooks is not wrapped at all.
import { type Clock, realClock } from '../internal/clock.js';
import { checkFn, checkKeys, checkObject, optionKeys } from '../internal/options.js';
import { isPending, type Pull, type Pulled, type Step, Suspend } from '../stream/pull.js';

/** How a metered stream ended. */
export type JsonStreamOutcome = 'complete' | 'error' | 'cancelled';

/**
 * Hooks of the `metrics` option of `jsonArray` and `ndjson`, each optional, called
 * synchronously on the consumer's pull (keep them cheap). `weir/metrics` makes one that
 * feeds its counters and duration histogram (`Metrics.jsonStream(name)`).
 * @example
 * jsonArray(rows, { metrics: { chunk: (bytes) => (sent += bytes), end: (e) => log(e.durationMs) } });
 */
export interface JsonStreamMetrics {
  /** The consumer pulled the first chunk: the stream started. */
  start?: () => void;
  /** A chunk of `bytes` bytes was handed to the consumer. */
  chunk?: (bytes: number) => void;
  /** The stream failed with `error` (`end` follows with outcome `error`). */
  error?: (error: unknown) => void;
  /**
   * The stream is over: complete, failed, or cancelled by its consumer (an early `return`,
   * a destroyed response). `durationMs` runs from the first pull to this moment.
   */
  end?: (e: {
    outcome: JsonStreamOutcome;
    chunks: number;
    bytes: number;
    durationMs: number;
  }) => void;
  /** Source of time for `durationMs`. @default the real clock */
  clock?: Clock;
}

const METRICS_KEYS = optionKeys<JsonStreamMetrics>({
  start: 1,
  chunk: 1,
  error: 1,
  end: 1,
  clock: 1,
});
const HOOKS = ['start', 'chunk', 'error', 'end'] as const;

/** @internal Checks the `metrics` option. @throws {TypeError} naming the bad hook. */
export function checkMetrics(m: JsonStreamMetrics | undefined): JsonStreamMetrics | undefined {
  if (m === undefined) return undefined;
  checkObject('metrics', m);
  checkKeys('the `metrics` option', m, METRICS_KEYS);
  for (const k of HOOKS) checkFn(`metrics.${k}`, m[k], false);
  if (m.clock !== undefined && typeof m.clock.now !== 'function') {
    throw new TypeError('Expected `metrics.clock` to implement now()');
  }
  return m;
}

/** @internal A pull of chunks that reports to hooks, passing every step through unchanged. */
export class MeteredPull implements Pull<Uint8Array> {
  readonly #up: Pull<Uint8Array>;
  readonly #m: JsonStreamMetrics;
  readonly #clock: Clock;
  #startedAt = Number.NaN;
  #chunks = 0;
  #bytes = 0;
  #over = false;
  #resume: (value: unknown) => Pulled<Uint8Array> = () => this.#fail(new Error('no pull'));
  readonly #suspend = new Suspend<Uint8Array>((v) => {
    try {
      return this.#after(this.#resume(v));
    } catch (error) {
      return this.#fail(error);
    }
  });

  readonly #rejected = (error: unknown): never => this.#fail(error);

  constructor(up: Pull<Uint8Array>, metrics: JsonStreamMetrics) {
    this.#up = up;
    this.#m = metrics;
    this.#clock = metrics.clock ?? realClock;
  }

  next(): Pulled<Uint8Array> {
    if (Number.isNaN(this.#startedAt)) {
      this.#startedAt = this.#clock.now();
      this.#m.start?.();
    }
    try {
      return this.#after(this.#up.next());
    } catch (error) {
      return this.#fail(error);
    }
  }

  #after(r: Pulled<Uint8Array>): Pulled<Uint8Array> {
    if (r instanceof Suspend) {
      this.#resume = r.resume;
      // A terminal awaits `wait` itself and never resumes on a rejection: catch it here.
      this.#suspend.wait = Promise.resolve(r.wait).then(undefined, this.#rejected);
      return this.#suspend;
    }
    if (isPending(r)) {
      return r.then(
        (s) => this.#step(s),
        (error: unknown) => this.#fail(error),
      );
    }
    return this.#step(r);
  }

  #step(s: Step<Uint8Array>): Step<Uint8Array> {
    if (s.done) {
      this.#end('complete');
    } else {
      this.#chunks++;
      this.#bytes += s.value.byteLength;
      this.#m.chunk?.(s.value.byteLength);
    }
    return s;
  }

  #fail(error: unknown): never {
    if (!this.#over) {
      this.#m.error?.(error);
      this.#end('error');
    }
    throw error;
  }

  #end(outcome: JsonStreamOutcome): void {
    if (this.#over) return;
    this.#over = true;
    const durationMs = Number.isNaN(this.#startedAt) ? 0 : this.#clock.now() - this.#startedAt;
    this.#m.end?.({ outcome, chunks: this.#chunks, bytes: this.#bytes, durationMs });
  }

  return(): void | Promise<void> {
    this.#end('cancelled');
    return this.#up.return();
  }
}
