import { closeQuietly, DONE, isPending, type Pull, type Step, settle } from './pull.js';

/**
 * @internal `buffer(n)`: keeps pulling the upstream while the consumer is busy, until `n`
 * items wait. An upstream error is reported after the items pulled before it.
 */
export class BufferPull<T> implements Pull<T> {
  readonly #up: Pull<T>;
  readonly #size: number;
  readonly #queue: T[] = [];
  #pulling = false;
  #upDone = false;
  #closed = false;
  #failed = false;
  #error: unknown;
  #waiter: { resolve: (s: Step<T>) => void; reject: (e: unknown) => void } | null = null;

  constructor(up: Pull<T>, size: number) {
    this.#up = up;
    this.#size = size;
  }

  next(): Step<T> | Promise<Step<T>> {
    const s = this.#take();
    if (s !== undefined) {
      this.#fill();
      return s;
    }
    this.#fill();
    const again = this.#take();
    if (again !== undefined) return again;
    if (this.#failed && this.#queue.length === 0) throw this.#error;
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  return(): void | Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    const w = this.#waiter;
    this.#waiter = null;
    w?.resolve(DONE);
    if (this.#upDone) return;
    // See ConcurrentMapPull.return: never wait on an upstream parked in our own pull.
    if (this.#pulling) void closeQuietly(this.#up);
    else return this.#up.return();
  }

  #take(): Step<T> | undefined {
    if (this.#queue.length > 0) return { done: false, value: this.#queue.shift() as T };
    if (this.#upDone && !this.#failed) return DONE;
    return undefined;
  }

  #fill(): void {
    while (!this.#pulling && !this.#upDone && !this.#closed && this.#queue.length < this.#size) {
      let r: Step<T> | Promise<Step<T>>;
      try {
        r = settle(this.#up.next());
      } catch (error) {
        this.#fail(error);
        return;
      }
      if (isPending(r)) {
        this.#pulling = true;
        r.then(
          (s) => {
            this.#pulling = false;
            if (this.#closed) return;
            this.#push(s);
            this.#wake();
            this.#fill();
          },
          (error: unknown) => {
            this.#pulling = false;
            this.#fail(error);
          },
        );
        return;
      }
      this.#push(r);
    }
  }

  #push(s: Step<T>): void {
    if (s.done === true) this.#upDone = true;
    else this.#queue.push(s.value);
  }

  #fail(error: unknown): void {
    this.#failed = true;
    this.#upDone = true;
    this.#error = error;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    if (w === null) return;
    const s = this.#take();
    if (s !== undefined) {
      this.#waiter = null;
      w.resolve(s);
    } else if (this.#failed) {
      this.#waiter = null;
      w.reject(this.#error);
    }
  }
}
