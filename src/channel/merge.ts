import { checkInt, checkKeys, checkObject, optionKeys } from '../internal/options.js';
import { Channel, kOnClose } from './channel.js';

/**
 * Fan-in: a channel that receives every value of every input, in each input's own order,
 * and closes once all inputs are closed and drained. Closing the merged channel stops the
 * merge: it stops receiving from the inputs (a value already taken from an input when the
 * merged channel closes is dropped). The inputs are never closed by `merge`.
 * @throws {TypeError} when an input is not a Channel.
 * @example for await (const event of merge(clicks, keys)) handle(event);
 */
export function merge<T>(...inputs: Channel<T>[]): Channel<T> {
  for (const c of inputs) {
    if (!(c instanceof Channel))
      throw new TypeError('Expected every input of `merge` to be a Channel');
  }
  const out = new Channel<T>(0);
  const stop = new AbortController();
  out[kOnClose](() => stop.abort());
  let open = inputs.length;
  if (open === 0) out.close();
  const pump = async (input: Channel<T>): Promise<void> => {
    try {
      for (;;) {
        const r = await input.receive({ signal: stop.signal });
        if (r.done) break;
        await out.send(r.value, { signal: stop.signal });
      }
    } catch {
      // The merged channel was closed: stop quietly.
    }
    if (--open === 0 && !out.closed) out.close();
  };
  for (const c of inputs) void pump(c);
  return out;
}

/** Options of {@link fanOut}. */
export interface FanOutOptions {
  /** Capacity of each output channel. @default 0 */
  capacity?: number | undefined;
}

const FAN_OUT_KEYS = optionKeys<FanOutOptions>({ capacity: 1 });

/**
 * Fan-out: `n` channels that take turns receiving the values of `input` (round-robin:
 * value i goes to output i mod n, waiting for that output). All outputs close when
 * `input` closes. An output closed by its consumer is skipped from then on; once every
 * output is closed, `fanOut` stops receiving from `input`.
 * @throws {TypeError|RangeError} when `n` is not an integer >= 1 or `capacity` is bad.
 * @example const [a, b] = fanOut(jobs, 2);
 */
export function fanOut<T>(input: Channel<T>, n: number, options?: FanOutOptions): Channel<T>[] {
  if (!(input instanceof Channel)) throw new TypeError('Expected `input` to be a Channel');
  checkInt('n', n, 1);
  checkObject('options', options);
  checkKeys('fanOut', options, FAN_OUT_KEYS);
  const capacity = checkInt('capacity', options?.capacity ?? 0, 0);
  const outputs = Array.from({ length: n }, () => new Channel<T>(capacity));
  const stop = new AbortController();
  let open = n;
  for (const o of outputs) {
    o[kOnClose](() => {
      if (--open === 0) stop.abort();
    });
  }
  const pump = async (): Promise<void> => {
    let next = 0;
    try {
      for (;;) {
        const r = await input.receive({ signal: stop.signal });
        if (r.done) break;
        // Round-robin over the outputs that are still open; a send that fails because
        // its output closed meanwhile goes to the next one.
        for (;;) {
          if (stop.signal.aborted) throw stop.signal.reason;
          const o = outputs[next]!;
          next = (next + 1) % n;
          if (o.closed) continue;
          try {
            await o.send(r.value, { signal: stop.signal });
            break;
          } catch (error) {
            if (stop.signal.aborted) throw error;
          }
        }
      }
    } catch {
      // Every output was closed.
    }
    for (const o of outputs) o[Symbol.dispose]();
  };
  void pump();
  return outputs;
}
