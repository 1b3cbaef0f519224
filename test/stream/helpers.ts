// Sources that record what a pipeline did to them.

/** A sync iterable that counts pulls and notes when return() is called. */
export function tracked<T>(items: Iterable<T>) {
  const log = { pulled: 0, returned: false };
  const iterable: Iterable<T> = {
    [Symbol.iterator]() {
      const it = items[Symbol.iterator]();
      return {
        next() {
          const r = it.next();
          if (!r.done) log.pulled++;
          return r;
        },
        return() {
          log.returned = true;
          return { done: true, value: undefined };
        },
      };
    },
  };
  return { iterable, log };
}

/** An async generator over `items` that counts pulls and notes its `finally`. */
export function trackedAsync<T>(items: Iterable<T>) {
  const log = { pulled: 0, returned: false };
  async function* gen() {
    try {
      for (const x of items) {
        log.pulled++;
        yield x;
      }
    } finally {
      log.returned = true;
    }
  }
  return { gen, log };
}

/** A promise with its resolve and reject. */
export function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
