// Type-level tests for Stream chains: `npm run typecheck` (and so CI) fails if an
// operator's result type drifts. The runtime part only checks that the chains run.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { Channel } from '../../src/channel/index.js';
import { type Stream, stream } from '../../src/stream/index.js';

type Equal<A, B> =
  (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
/** Compiles only when `A` and `B` are the same type. */
function expectType<A>() {
  return <B>(_value: B, ..._check: Equal<A, B> extends true ? [] : [never]): void => {};
}

test('operators keep and transform item types', async () => {
  const numbers = stream([1, 2, 3, 4]);
  expectType<Stream<number>>()(numbers);
  // Promises among an iterable's values are awaited.
  expectType<Stream<number>>()(stream([Promise.resolve(1), 2]));

  const labels = numbers.map((n) => `#${n}`);
  expectType<Stream<string>>()(labels);
  expectType<Stream<number>>()(numbers.map(async (n) => n * 2, { concurrency: 4 }));
  expectType<Stream<number[]>>()(numbers.batch(2));
  expectType<Stream<string>>()(numbers.flatMap((n) => [String(n), `${n}!`]));
  expectType<Stream<number>>()(
    numbers
      .take(2)
      .drop(1)
      .buffer(2)
      .tap(() => {})
      .timeout(10),
  );

  // Type guards narrow.
  const mixed = stream<string | number>(['a', 1, 'b', 2]);
  expectType<Stream<string>>()(mixed.filter((x): x is string => typeof x === 'string'));
  expectType<Stream<string | number>>()(mixed.filter((x) => x !== 'a'));
  expectType<Stream<number>>()(mixed.takeWhile((x): x is number => typeof x === 'number'));

  // catchError widens to what the handler recovers with.
  expectType<Stream<number | 'fallback'>>()(numbers.catchError(() => ['fallback' as const]));

  // Terminals.
  const all = await labels.toArray();
  expectType<string[]>()(all);
  expectType<number>()(await numbers.reduce((a, n) => a + n, 0));
  expectType<number | undefined>()(await numbers.first());
  expectType<number>()(await numbers.count());
  for await (const n of numbers) expectType<number>()(n);

  // Sources: async generators, Readables, channels, ReadableStreams.
  async function* gen() {
    yield { id: 1 };
  }
  expectType<Stream<{ id: number }>>()(stream(gen()));
  expectType<Stream<Uint8Array>>()(stream(new ReadableStream<Uint8Array>()));
  const ch = new Channel<bigint>(1);
  expectType<Stream<bigint>>()(stream(ch));
  expectType<Stream<unknown>>()(stream(Readable.from([])) as Stream<unknown>);

  // Mistakes the compiler must refuse.
  // @ts-expect-error map's callback gets a number, not a string
  numbers.map((s: string) => s.length);
  // @ts-expect-error a channel of strings cannot take numbers
  void numbers.pipeTo(new Channel<string>(1));
  // @ts-expect-error reduce's accumulator type comes from the seed
  void numbers.reduce((a: string, n) => a + n, 0);

  assert.deepEqual(all, ['#1', '#2', '#3', '#4']);
  ch.close();
});
