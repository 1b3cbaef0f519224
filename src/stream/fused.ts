// Operators that map one item to at most one item (map, filter, tap, drop, take,
// takeWhile) are fused into one stage: an item runs through all of them in one loop, so a
// chain costs one step per item, not one per operator, and no promise unless a callback
// returns one.

import {
  closeQuietly,
  DONE,
  isPending,
  isThenable,
  type Opener,
  type Pull,
  type Pulled,
  type Run,
  type Step,
  Suspend,
  settle,
} from './pull.js';

/** @internal Returned by an op to drop the item. */
export const SKIP: unique symbol = Symbol('skip');
/** @internal Returned by an op to end the stream before this item. */
export const END: unique symbol = Symbol('end');

/** @internal One fused operator, made fresh for each run. */
export interface Op {
  /** Returns the item to pass on, SKIP, END, or a promise of one of those. */
  apply(value: unknown): unknown;
  /** Set by `take` once its last item has passed. */
  last?: boolean;
}

/** @internal Makes an op for one run. */
export type OpFactory = (run: Run) => Op;

export class FusedPull<T> implements Pull<T> {
  readonly #up: Pull<unknown>;
  readonly #ops: Op[];
  readonly #takes: Op[];
  #ended = false;
  // One of each is enough: a stage has at most one pull pending.
  readonly #waitUp = new Suspend<T>((s) => this.#continue(s as Step<unknown>));
  readonly #waitOut = new Suspend<T>((out) => this.#settle(out));
  // Reused: every consumer reads a step's value before it pulls again (see Pull).
  readonly #out: IteratorYieldResult<T> = { done: false, value: undefined as T };

  constructor(up: Pull<unknown>, ops: Op[]) {
    this.#up = up;
    this.#ops = ops;
    this.#takes = ops.filter((op) => op.last !== undefined);
    if (this.#ops.some((op) => op.last === true)) this.#ended = true;
  }

  next(): Pulled<T> {
    for (;;) {
      if (this.#ended || this.#lastPassed()) return this.#end();
      const r = this.#up.next();
      if (isPending(r)) {
        this.#waitUp.wait = r;
        return this.#waitUp;
      }
      if (r instanceof Suspend) {
        this.#waitUp.wait = settle(r) as Promise<Step<unknown>>;
        return this.#waitUp;
      }
      if (r.done === true) return r as Step<T>;
      let out: unknown;
      try {
        out = this.#apply(r.value, 0);
      } catch (error) {
        return this.#fail(error);
      }
      if (out === SKIP) continue;
      if (out === END) return this.#end();
      if (isThenable(out)) return this.#waitFor(out);
      this.#out.value = out as T;
      return this.#out;
    }
  }

  return(): void | Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    return this.#up.return();
  }

  #lastPassed(): boolean {
    const takes = this.#takes;
    for (let i = 0; i < takes.length; i++) if (takes[i]!.last === true) return true;
    return false;
  }

  #continue(s: Step<unknown>): Pulled<T> {
    if (s.done === true) return s as Step<T>;
    let out: unknown;
    try {
      out = this.#apply(s.value, 0);
    } catch (error) {
      return this.#fail(error);
    }
    if (isThenable(out)) return this.#waitFor(out);
    return this.#settle(out);
  }

  // A callback returned a promise: wait for it; its failure closes the upstream first.
  #waitFor(out: PromiseLike<unknown>): Suspend<T> {
    this.#waitOut.wait = Promise.resolve(out).then(undefined, (error: unknown) =>
      this.#fail(error),
    );
    return this.#waitOut;
  }

  #settle(out: unknown): Pulled<T> {
    if (out === SKIP) return this.next();
    if (out === END) return this.#end();
    return { done: false, value: out as T };
  }

  #apply(value: unknown, from: number): unknown {
    const ops = this.#ops;
    let v = value;
    for (let i = from; i < ops.length; i++) {
      const r = ops[i]!.apply(v);
      if (r === SKIP || r === END) return r;
      if (isThenable(r)) {
        const next = i + 1;
        return r.then((x) => (x === SKIP || x === END ? x : this.#apply(x, next)));
      }
      v = r;
    }
    return v;
  }

  // An operator stopped the stream: release the upstream, then report the end.
  #end(): Step<T> | Promise<Step<T>> {
    if (this.#ended) return DONE;
    this.#ended = true;
    const r = this.#up.return();
    return isThenable(r) ? Promise.resolve(r).then(() => DONE) : DONE;
  }

  // A callback threw: release the upstream (it did not fail), then report the error once.
  #fail(error: unknown): never | Promise<never> {
    this.#ended = true;
    const r = closeQuietly(this.#up);
    if (isThenable(r)) {
      return r.then(() => {
        throw error;
      });
    }
    throw error;
  }
}

/** @internal Opens `up` and runs `ops` over it in one fused stage. */
export function fusedOpener<T>(up: Opener<unknown>, ops: OpFactory[]): Opener<T> {
  return (run) =>
    new FusedPull<T>(
      up(run),
      ops.map((f) => f(run)),
    );
}

type Fn<A extends unknown[], R> = (...args: A) => R;

export function mapOp(fn: Fn<[unknown, number, AbortSignal], unknown>): OpFactory {
  return (run) => {
    let i = 0;
    const signal = run.signal;
    return { apply: (v) => fn(v, i++, signal) };
  };
}

export function filterOp(fn: Fn<[unknown, number], unknown>): OpFactory {
  return () => {
    let i = 0;
    return {
      apply: (v) => {
        const ok = fn(v, i++);
        if (isThenable(ok)) return Promise.resolve(ok).then((b) => (b ? v : SKIP));
        return ok ? v : SKIP;
      },
    };
  };
}

export function tapOp(fn: Fn<[unknown, number], unknown>): OpFactory {
  return () => {
    let i = 0;
    return {
      apply: (v) => {
        const r = fn(v, i++);
        if (isThenable(r)) return Promise.resolve(r).then(() => v);
        return v;
      },
    };
  };
}

export function dropOp(n: number): OpFactory {
  return () => {
    let left = n;
    return {
      apply: (v) => {
        if (left === 0) return v;
        left--;
        return SKIP;
      },
    };
  };
}

export function takeOp(n: number): OpFactory {
  return () => {
    let seen = 0;
    const op: Op = {
      last: n === 0,
      apply: (v) => {
        if (++seen >= n) op.last = true;
        return v;
      },
    };
    return op;
  };
}

export function takeWhileOp(fn: Fn<[unknown, number], unknown>): OpFactory {
  return () => {
    let i = 0;
    return {
      apply: (v) => {
        const ok = fn(v, i++);
        if (isThenable(ok)) return Promise.resolve(ok).then((b) => (b ? v : END));
        return ok ? v : END;
      },
    };
  };
}
