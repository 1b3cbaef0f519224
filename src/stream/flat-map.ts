import {
  closeQuietly,
  isPending,
  isThenable,
  type Pull,
  type Run,
  type Step,
  settle,
} from './pull.js';
import { openSource } from './sources.js';

/**
 * @internal `flatMap`: each item becomes a source (iterable, async iterable, stream…)
 * whose items are emitted in turn. Synchronous inner sources stay synchronous.
 */
export class FlatMapPull<T, U> implements Pull<U> {
  readonly #up: Pull<T>;
  readonly #fn: (value: T, index: number) => unknown;
  readonly #run: Run;
  #inner: Pull<U> | null = null;
  #index = 0;
  #closed = false;

  constructor(up: Pull<T>, fn: (value: T, index: number) => unknown, run: Run) {
    this.#up = up;
    this.#fn = fn;
    this.#run = run;
  }

  next(): Step<U> | Promise<Step<U>> {
    for (;;) {
      if (this.#inner !== null) {
        const r = settle(this.#inner.next());
        if (isPending(r)) return r.then((s) => this.#afterInner(s), this.#innerFailed);
        if (r.done !== true) return r;
        this.#inner = null;
      }
      const o = settle(this.#up.next());
      if (isPending(o)) return o.then((s) => this.#afterOuter(s));
      if (o.done === true) return o as Step<U>;
      const opened = this.#open(o.value);
      if (isThenable(opened)) return opened.then(() => this.next());
    }
  }

  return(): void | Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const inner = this.#inner;
    this.#inner = null;
    const a = inner === null ? undefined : closeQuietly(inner);
    const b = this.#up.return();
    if (isThenable(a) || isThenable(b)) return Promise.all([a, b]).then(() => undefined);
  }

  #afterInner(s: Step<U>): Step<U> | Promise<Step<U>> {
    if (s.done !== true) return s;
    this.#inner = null;
    return this.next();
  }

  readonly #innerFailed = (error: unknown): Promise<never> => this.#fail(error);

  #afterOuter(s: Step<T>): Step<U> | Promise<Step<U>> {
    if (s.done === true) return s as Step<U>;
    const opened = this.#open(s.value);
    if (isThenable(opened)) return opened.then(() => this.next());
    return this.next();
  }

  // Opens the inner source; a callback that throws releases the outer upstream.
  #open(value: T): void | Promise<void> {
    let src: unknown;
    try {
      src = this.#fn(value, this.#index++);
    } catch (error) {
      return this.#fail(error);
    }
    if (isThenable(src)) {
      return Promise.resolve(src).then(
        (s) => {
          this.#inner = openSource<U>(s, this.#run);
        },
        (error: unknown) => this.#fail(error),
      );
    }
    try {
      this.#inner = openSource<U>(src, this.#run);
    } catch (error) {
      return this.#fail(error);
    }
  }

  #fail(error: unknown): Promise<never> {
    this.#closed = true;
    this.#inner = null;
    return Promise.resolve(closeQuietly(this.#up)).then(() => {
      throw error;
    });
  }
}
