// Cooperative yielding: channel operations that complete at once resume their callers on
// microtasks, and Node runs no timer, I/O callback or setImmediate until the microtask
// queue is empty. Two tasks exchanging values flat out would therefore hold the event
// loop for as long as they run. Like tokio's per-task budget (`tokio::task::coop`), every
// transfer spends from a budget; unlike it, the budget is time, since the harm is the
// event loop's lag and the cost of an operation varies with what its caller does.
//
// The hot path is one decrement and a branch. Every `every` transfers the clock is read:
// the first read after the loop turned arms a marker (one setImmediate) and notes the
// time; once the marker has been pending for `sliceMs`, the loop is owed a turn, and
// every resolution (an operation's own result, or the wake of a waiting peer) is handed
// to the marker instead of being made at once. With every task then waiting, the
// microtask queue drains, the loop runs its timers, I/O and immediates, and the marker
// delivers the held results in order. `every` adapts, so that the clock is read about
// four times per slice whether an operation takes 50 ns or 100 µs.

/** @internal Where time comes from and how long a run may hold the loop; tests replace them. */
export const coop: { now: () => number; sliceMs: number } = {
  now: () => performance.now(),
  sliceMs: 0.5,
};

const MIN_EVERY = 1;
const MAX_EVERY = 1024;

let every = 64;
let left = 64;
let armed = false;
let since = 0;
let lastCheck = 0;
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
  if (yielding) {
    left = 1;
    return;
  }
  const now = coop.now();
  if (!armed) {
    armed = true;
    since = lastCheck = now;
    left = every;
    setImmediate(turned);
    return;
  }
  if (now - since >= coop.sliceMs) {
    yielding = true;
    left = 1;
    return;
  }
  // Aim for about four reads per slice: fewer when operations are quick, more when slow.
  const dt = now - lastCheck;
  const target = coop.sliceMs / 4;
  every =
    dt <= 0
      ? MAX_EVERY
      : Math.max(MIN_EVERY, Math.min(MAX_EVERY, Math.floor((every * target) / dt)));
  lastCheck = now;
  left = every;
}

/** @internal Starts the budget afresh (tests, so that counts do not depend on earlier runs). */
export function resetBudget(): void {
  every = left = 64;
}

// The marker: the event loop has turned.
function turned(): void {
  yielding = false;
  left = every;
  const list = held;
  if (list.length === 0) {
    armed = false;
    return;
  }
  // Results were held, so the run they belong to goes on: its slice starts now.
  held = [];
  since = lastCheck = coop.now();
  setImmediate(turned);
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
