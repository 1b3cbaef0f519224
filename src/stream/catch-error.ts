import { DONE, isPending, isThenable, type Pull, type Run, type Step, settle } from './pull.js';
import { openSource } from './sources.js';

/**
 * @internal `catchError(fn)`: when the upstream fails, `fn(error)` may return a source to
 * continue with, or nothing to end the stream quietly. An error `fn` throws goes on down.
 */
export class CatchPull<T> implements Pull<T> {
  readonly #up: Pull<T>;
  readonly #fn: (error: unknown) => unknown;
  readonly #run: Run;
  #replacement: Pull<T> | null = null;
  #caught = false;

  constructor(up: Pull<T>, fn: (error: unknown) => unknown, run: Run) {
    this.#up = up;
    this.#fn = fn;
    this.#run = run;
  }

  next(): Step<T> | Promise<Step<T>> {
    if (this.#replacement !== null) return settle(this.#replacement.next());
    if (this.#caught) return DONE;
    let r: Step<T> | Promise<Step<T>>;
    try {
      r = settle(this.#up.next());
    } catch (error) {
      return this.#recover(error);
    }
    if (isPending(r)) return r.then(undefined, (error: unknown) => this.#recover(error));
    return r;
  }

  return(): void | Promise<void> {
    if (this.#replacement !== null) return this.#replacement.return();
    if (!this.#caught) return this.#up.return();
  }

  #recover(error: unknown): Step<T> | Promise<Step<T>> {
    this.#caught = true;
    const src = this.#fn(error);
    if (isThenable(src)) return Promise.resolve(src).then((s) => this.#continueWith(s));
    return this.#continueWith(src);
  }

  #continueWith(src: unknown): Step<T> | Promise<Step<T>> {
    if (src === undefined || src === null) return DONE;
    this.#replacement = openSource<T>(src, this.#run);
    return settle(this.#replacement.next());
  }
}
