// A controllable resource factory for pool tests: counts every create and destroy,
// can fail or hang on demand, and records which resources are alive.

export interface Res {
  id: number;
  destroyed: number;
}

export function factory(opts: { failWith?: () => unknown; hang?: () => boolean } = {}) {
  let next = 0;
  const alive = new Set<Res>();
  const all: Res[] = [];
  const f = {
    created: 0,
    destroyed: 0,
    alive,
    all,
    failWith: opts.failWith,
    hang: opts.hang,
    create: async (_signal: AbortSignal): Promise<Res> => {
      if (f.hang?.()) return new Promise<Res>(() => {});
      const error = f.failWith?.();
      if (error !== undefined) throw error;
      const r: Res = { id: ++next, destroyed: 0 };
      f.created++;
      alive.add(r);
      all.push(r);
      return r;
    },
    destroy: (r: Res): void => {
      r.destroyed++;
      f.destroyed++;
      alive.delete(r);
    },
  };
  return f;
}

/** A promise with its resolvers exposed, to order events in tests. */
export function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Settles `p` into an inspectable state without awaiting it. */
export function track<T>(p: Promise<T>) {
  const s: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (v) => {
      s.done = true;
      s.value = v;
    },
    (e: unknown) => {
      s.done = true;
      s.error = e;
    },
  );
  return s;
}
