import { type Clock, realClock, type TimerHandle } from '../internal/clock.js';
import { TimeoutError } from '../internal/errors.js';
import { checkKeys, checkMs, checkObject, optionKeys } from '../internal/options.js';
import { abortReason, checkSignal, onAbort } from '../internal/signals.js';
import {
  Channel,
  kPut,
  kReadyToReceive,
  kReadyToSend,
  kRegister,
  kTake,
  kUnregister,
  noop,
  type Received,
  type Selector,
  type Waiter,
  waiter,
} from './channel.js';
import { later, settle, spend, yielding } from './coop.js';
import { ChannelClosedError } from './errors.js';

/** A receive case for {@link select}, made by {@link recv}. */
export interface ReceiveCase<T> {
  readonly op: 'receive';
  readonly channel: Channel<T>;
}

/** A send case for {@link select}, made by {@link send}. */
export interface SendCase<T> {
  readonly op: 'send';
  readonly channel: Channel<T>;
  readonly value: T;
}

/** Any case of a {@link select}. */
export type SelectCase<T = unknown> = ReceiveCase<T> | SendCase<T>;

/**
 * A receive case: `select` picks it when `channel` has a value or is closed.
 * @example const r = await select([recv(jobs), recv(quit)]);
 */
export function recv<T>(channel: Channel<T>): ReceiveCase<T> {
  if (!(channel instanceof Channel)) throw new TypeError('Expected `channel` to be a Channel');
  return { op: 'receive', channel };
}

/**
 * A send case: `select` picks it when `channel` can take `value` now. If another case is
 * picked, `value` is never delivered.
 * @example await select([send(out, item), recv(quit)]);
 */
export function send<T>(channel: Channel<T>, value: T): SendCase<T> {
  if (!(channel instanceof Channel)) throw new TypeError('Expected `channel` to be a Channel');
  return { op: 'send', channel, value };
}

/** Options of {@link select}. */
export interface SelectOptions {
  /** Aborting it rejects the select with `signal.reason` and unregisters every case. */
  signal?: AbortSignal | undefined;
  /**
   * Rejects with a `TimeoutError` (`ERR_TIMEOUT`) if no case is picked within this many ms.
   * @default Infinity
   */
  timeoutMs?: number | undefined;
  /** When true and no case is ready, resolves at once with `{ index: -1 }` (Go's `default`). */
  default?: boolean | undefined;
  /** Clock for `timeoutMs`. @default realClock */
  clock?: Clock | undefined;
}

const SELECT_KEYS = optionKeys<SelectOptions>({ signal: 1, timeoutMs: 1, default: 1, clock: 1 });

type Index<K> = K extends `${infer N extends number}` ? N : number;

/** Outcome of a receive case. */
export type ReceiveResult<T, I extends number = number> =
  | { readonly index: I; readonly done: false; readonly value: T }
  | { readonly index: I; readonly done: true; readonly value: undefined };

/** Outcome of a send case. */
export interface SendResult<I extends number = number> {
  readonly index: I;
  readonly done: false;
  readonly value: undefined;
}

/** Outcome of `default`: nothing was ready. */
export interface DefaultResult {
  readonly index: -1;
  readonly done: false;
  readonly value: undefined;
}

// Channel<T> is invariant in T, so a constraint that accepts every case needs `any`.
// biome-ignore lint/suspicious/noExplicitAny: see above
type AnyCase = ReceiveCase<any> | SendCase<any>;

/** The union of outcomes of `cases`, discriminated by `index`. */
export type SelectResult<C extends readonly AnyCase[]> = {
  [K in keyof C]: C[K] extends ReceiveCase<infer T>
    ? ReceiveResult<T, Index<K>>
    : C[K] extends SendCase<unknown>
      ? SendResult<Index<K>>
      : never;
}[number];

const DEFAULT: DefaultResult = Object.freeze({ index: -1, done: false, value: undefined });

/**
 * Waits on several sends and receives at once and performs exactly one. When several
 * cases are ready it picks one uniformly at random, so no case starves. With
 * `default: true` it never waits. Like every channel operation, a select that completes at
 * once lets the event loop run first when a run of operations has held it for about 1 ms
 * (see {@link Channel}). A select that times out or is aborted leaves no
 * registration behind on any channel, and a send case that is not picked never delivers.
 *
 * @returns `{ index, done, value }`: the index of the case performed; for a receive,
 * `done`/`value` as in `Channel.receive`; `index: -1` for the default.
 * @throws rejects with `ERR_CHANNEL_CLOSED` if the picked send case's channel is closed
 * (as Go panics), `ERR_TIMEOUT` after `timeoutMs`, `signal.reason` on abort;
 * throws `TypeError`/`RangeError` at once for bad cases or options.
 * @example
 * const r = await select([recv(results), send(jobs, next), recv(quit)], { timeoutMs: 1000 });
 * if (r.index === 0 && !r.done) handle(r.value);
 */
export function select<const C extends readonly AnyCase[], O extends SelectOptions>(
  cases: C,
  options?: O,
): Promise<SelectResult<C> | (O extends { default: true } ? DefaultResult : never)>;
export function select(
  cases: readonly SelectCase<unknown>[],
  options?: SelectOptions,
): Promise<{ index: number; done: boolean; value: unknown }> {
  if (!Array.isArray(cases)) throw new TypeError('Expected `cases` to be an array of select cases');
  for (const c of cases) {
    if (
      typeof c !== 'object' ||
      c === null ||
      !(c.channel instanceof Channel) ||
      (c.op !== 'receive' && c.op !== 'send')
    ) {
      throw new TypeError(
        'Expected every select case to be made by recv(channel) or send(channel, value)',
      );
    }
  }
  checkObject('options', options);
  checkKeys('select', options, SELECT_KEYS);
  const signal = checkSignal(options?.signal);
  const timeoutMs = checkMs('timeoutMs', options?.timeoutMs ?? Number.POSITIVE_INFINITY);
  const clock = options?.clock ?? realClock;
  if (signal?.aborted) return Promise.reject(abortReason(signal));

  // Reservoir sampling picks uniformly among the ready cases in one pass.
  let pick = -1;
  let ready = 0;
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    if (c.op === 'receive' ? c.channel[kReadyToReceive]() : c.channel[kReadyToSend]()) {
      ready++;
      if (ready === 1 || Math.random() * ready < 1) pick = i;
    }
  }
  if (pick >= 0) {
    const c = cases[pick]!;
    if (c.op === 'receive') {
      const r = c.channel[kTake]() as Received<unknown>;
      const result = { index: pick, done: r.done === true, value: r.value };
      return yielding ? later(result) : Promise.resolve(result);
    }
    if (c.channel.closed) return Promise.reject(closedSend());
    c.channel[kPut](c.value);
    const result = { index: pick, done: false, value: undefined };
    return yielding ? later(result) : Promise.resolve(result);
  }
  if (options?.default === true) {
    // A loop polling with `default` is a run too, and must not starve the peers it polls.
    spend();
    return yielding ? later(DEFAULT) : Promise.resolve(DEFAULT);
  }

  return new Promise((resolve, reject) => {
    const waiters: Waiter<unknown>[] = [];
    let timer: TimerHandle;
    let disposeAbort = noop;
    const finish = (): void => {
      for (let i = 0; i < waiters.length; i++) {
        const c = cases[i]!;
        c.channel[kUnregister](waiters[i]!, c.op === 'send');
      }
      if (timer !== undefined) clock.clearTimeout(timer);
      disposeAbort();
    };
    const sel: Selector = {
      fire(w, result) {
        finish();
        settle(resolve, {
          index: w.index,
          done: result?.done === true,
          value: result?.value,
        });
      },
      fail(_w, error) {
        finish();
        reject(error);
      },
    };
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      const w = waiter<unknown>(c.op === 'send' ? c.value : undefined, noop, noop);
      w.sel = sel;
      w.index = i;
      waiters.push(w);
      c.channel[kRegister](w, c.op === 'send');
    }
    if (Number.isFinite(timeoutMs)) {
      timer = clock.setTimeout(() => {
        timer = undefined;
        finish();
        reject(
          new TimeoutError(
            `select timed out after ${timeoutMs} ms with none of its ${cases.length} cases ready`,
          ),
        );
      }, timeoutMs);
    }
    if (signal !== undefined) {
      disposeAbort = onAbort(signal, (reason) => {
        disposeAbort = noop;
        finish();
        reject(reason);
      });
    }
  });
}

function closedSend(): ChannelClosedError {
  return new ChannelClosedError('select picked a send case on a closed channel');
}
