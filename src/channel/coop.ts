// Cooperative yielding. Channel operations that complete at once resume their callers on
// microtasks, and Node runs no timer, I/O callback or setImmediate until the microtask
// queue is empty, so two tasks exchanging values flat out would hold the event loop for
// as long as they run. As with tokio's per-task budget (`tokio::task::coop`), every
// operation that completes without waiting spends from a budget; here the budget is a
// slice of time, since the harm is the event loop's lag and what an operation costs
// depends on its caller.
//
// Every transfer (a value moved, or a closed channel's end reported) spends one unit. The
// first to run out of budget after the loop turned arms a marker (one setImmediate) and
// starts a slice. The budget is a count of transfers, re-estimated at each clock read
// from the rate seen so far, so that the clock is read about twice per slice. Once the
// marker has been pending for `sliceMs`, the loop is owed a turn: every resolution (an
// operation's own result, or the wake of a waiting peer) is handed to the marker instead
// of being made at once. With every task then waiting, the microtask queue drains, the
// loop runs its timers, I/O and immediates, and the marker delivers the held results in
// order and starts the next slice.
//
// The hot path is a decrement and a branch; the clock is read twice per slice because a
// read costs far more inside a run of operations than alone. The turn itself is the main
// cost: a few µs on an idle machine, more on a loaded one (where the kernel's share of a
// flat-out exchange grew from about 4 % to 11 % at one turn per ms), hence a slice of
// milliseconds rather than tokio's 128 operations: 2 ms kept a flat-out exchange within a
// few per cent of its speed without yielding, while a 0 ms timer still fired within 3.2 ms.

/** @internal Where time comes from and how long a run may hold the loop; tests replace them. */
export const coop: { now: () => number; sliceMs: number } = {
  now: () => performance.now(),
  sliceMs: 2,
};

const MAX_WINDOW = 1 << 24;
// Transfers before the first reads of a run, whose pace is not known yet: few, since an
// operation may come with a lot of work of its caller's.
const FIRST_WINDOW = 16;

// Transfers until the next clock read; <= 0 while a read is due or the loop is owed a turn.
let left = FIRST_WINDOW;
// Transfers between the last two reads, and in the last whole slice.
let window = FIRST_WINDOW;
let perSlice = 0;
let opsInSlice = 0;
let armed = false;
let since = 0;
let lastRead = 0;
// Pairs of (resolve, value) held for the marker.
let held: unknown[] = [];

/**
 * @internal True while the event loop is owed a turn: resolutions go through
 * {@link settle} or {@link later}, which hold them until it has had one.
 */
export let yielding = false;

/** @internal Counts one transfer (a value moved, or a closed channel's end reported). */
export function spend(): void {
  if (--left <= 0) check();
}

function check(): void {
  if (yielding) return;
  const now = coop.now();
  if (!armed) {
    armed = true;
    setImmediate(turned);
    startSlice(now);
    return;
  }
  opsInSlice += window;
  const elapsed = now - since;
  const slice = coop.sliceMs;
  if (elapsed >= slice) {
    yielding = true;
    perSlice = opsInSlice;
    return;
  }
  // The next read half a slice on, or just past the slice's end if that comes sooner, at
  // the rate of the last window; growing at most eightfold, since a window of cheap
  // operations (a burst of trySend) says little about the ones that follow.
  const dt = now - lastRead;
  const ahead = 1.1 * Math.min(slice - elapsed, slice / 2);
  const grown = Math.min(MAX_WINDOW, window * 8);
  window = dt > 0 ? Math.max(1, Math.min(grown, Math.ceil((window * ahead) / dt))) : grown;
  lastRead = now;
  left = window;
}

function startSlice(now: number): void {
  since = lastRead = now;
  opsInSlice = 0;
  // A whole slice's worth at the last slice's rate would overshoot when the rate drops, so
  // the first read comes half-way.
  window = perSlice > 1 ? Math.floor(perSlice / 2) : window;
  left = window;
}

/** @internal Starts the budget afresh (tests, so that counts do not depend on earlier runs). */
export function resetBudget(): void {
  window = left = FIRST_WINDOW;
  perSlice = 0;
}

// The marker: the event loop has turned.
function turned(): void {
  const list = held;
  if (!yielding) {
    // The run ended (or paused) on its own before its slice did. The next one may go at
    // another pace, so it starts afresh: the rate seen here would misjudge its first read.
    armed = false;
    perSlice = 0;
    if (left > FIRST_WINDOW) left = FIRST_WINDOW;
    window = left;
    return;
  }
  yielding = false;
  held = [];
  // The run whose results were held goes on: its next slice starts now.
  setImmediate(turned);
  startSlice(coop.now());
  for (let i = 0; i < list.length; i += 2) (list[i] as (v: unknown) => void)(list[i + 1]);
}

/** @internal Resolves at once, or after the event loop's turn while {@link yielding}. */
export function settle<T>(resolve: (value: T) => void, value: T): void {
  if (yielding) held.push(resolve, value);
  else resolve(value);
}

/** @internal A promise of `value` that resolves after the event loop's turn. */
export function later<T>(value: T): Promise<T> {
  return new Promise<T>((resolve) => {
    held.push(resolve, value);
  });
}
