// Items per second for a 1,000,000-item map → filter → reduce, over a synchronous source
// (an array) and over an async generator, against IxJS (its sync `ix/iterable` and async
// `ix/asynciterable` pipelines), streaming-iterables, Node's Readable.from().map().filter()
// and a floor: the hand-written loop (`for` over the array, `for await` over the generator).
import { Readable } from 'node:stream';
import { from as ixAsyncFrom, reduce as ixAsyncReduce } from 'ix/Ix.asynciterable';
import { filter as ixAsyncFilter, map as ixAsyncMap } from 'ix/Ix.asynciterable.operators';
import { from as ixFrom, reduce as ixReduce } from 'ix/Ix.iterable';
import { filter as ixFilter, map as ixMap } from 'ix/Ix.iterable.operators';
import * as si from 'streaming-iterables';
import { stream } from 'weir/stream';
import { rate, table } from './lib.js';

const N = 1_000_000;
const ROUNDS = 5;
const data = Array.from({ length: N }, (_, i) => i);
const double = (x: number) => x * 2;
const third = (x: number) => x % 3 === 0;
const add = (a: number, b: number) => a + b;
const EXPECTED = data.map(double).filter(third).reduce(add, 0);

async function* gen(): AsyncGenerator<number> {
  for (let i = 0; i < N; i++) yield i;
}

type Source = 'sync' | 'async';
const src = (kind: Source): Iterable<number> | AsyncIterable<number> =>
  kind === 'sync' ? data : gen();

const pipelines: Record<string, (kind: Source) => Promise<number> | number> = {
  weir: (kind) => stream(src(kind)).map(double).filter(third).reduce(add, 0),
  'ix (sync Iterable)': (kind) =>
    kind === 'sync'
      ? ixReduce(ixFrom(data).pipe(ixMap(double), ixFilter(third)), { callback: add, seed: 0 })
      : Number.NaN,
  'ix (AsyncIterable)': (kind) =>
    ixAsyncReduce(ixAsyncFrom(src(kind)).pipe(ixAsyncMap(double), ixAsyncFilter(third)), {
      callback: add,
      seed: 0,
    }),
  'streaming-iterables': (kind) => si.reduce(add, 0, si.filter(third, si.map(double, src(kind)))),
  'Readable.from().map().filter()': async (kind) =>
    Readable.from(src(kind)).map(double).filter(third).reduce(add, 0),
  'floor (hand-written loop)': async (kind) => {
    let sum = 0;
    if (kind === 'sync') {
      for (const x of data) {
        const y = double(x);
        if (third(y)) sum = add(sum, y);
      }
      return sum;
    }
    for await (const x of gen()) {
      const y = double(x);
      if (third(y)) sum = add(sum, y);
    }
    return sum;
  },
};

async function rows(kind: Source): Promise<(string | number)[][]> {
  const names = Object.keys(pipelines).filter(
    (n) => !(kind === 'async' && n.includes('sync Iterable')),
  );
  for (const name of names) {
    const got = await pipelines[name]!(kind);
    if (got !== EXPECTED)
      throw new Error(`${name} (${kind}) computed ${got}, expected ${EXPECTED}`);
  }
  // Each measurement is one whole pipeline over N items; the cases alternate round by
  // round, and the median round is kept. (lib.compare sizes runs in single operations,
  // which does not fit a million-item pipeline.)
  const times = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) {
      const t0 = performance.now();
      await pipelines[name]!(kind);
      times.get(name)!.push(performance.now() - t0);
    }
  }
  const results = names.map((name) => {
    const sorted = times.get(name)!.sort((a, b) => a - b);
    return { name, opsPerSec: (N / sorted[Math.floor(sorted.length / 2)]!) * 1000 };
  });
  const weir = results[0]!.opsPerSec;
  const peers = results.filter((r) => r.name !== 'weir' && !r.name.startsWith('floor'));
  const best = Math.max(...peers.map((r) => r.opsPerSec));
  return results.map((r) => [
    kind === 'sync' ? 'array' : 'async generator',
    r.name,
    rate(r.opsPerSec),
    r.name === 'weir'
      ? `${(weir / best).toFixed(2)}x fastest peer`
      : (weir / r.opsPerSec).toFixed(2),
  ]);
}

const all = [...(await rows('sync')), ...(await rows('async'))];
console.log(
  `\nNode ${process.version}, items per second for map → filter → reduce over ${N} items (median of ${ROUNDS} rounds, after one warm-up run)\n`,
);
table(['source', 'library', 'items/s', 'weir ÷ this'], all);
