import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { after, Channel, fanOut, merge, recv, select, ticker } from '../../src/channel/index.js';
import { FakeClock, flush } from '../../src/internal/clock.js';

describe('after', () => {
  test('delivers the clock time once after ms, then closes', async () => {
    const clock = new FakeClock(1000);
    const ch = after(50, { clock });
    assert.equal(ch.tryReceive(), undefined);
    await clock.advance(49);
    assert.equal(ch.tryReceive(), undefined);
    await clock.advance(1);
    assert.deepEqual(ch.tryReceive(), { done: false, value: 1050 });
    assert.deepEqual(ch.tryReceive(), { done: true, value: undefined });
    assert.equal(clock.pendingTimers, 0);
  });

  test('works as a select timeout case', async () => {
    const clock = new FakeClock();
    const replies = new Channel<string>();
    const p = select([recv(replies), recv(after(100, { clock }))]);
    await clock.advance(100);
    assert.equal((await p).index, 1);
    assert.equal(replies.waiting.receivers, 0);
  });

  test('closing it early or aborting cancels the timer', async () => {
    const clock = new FakeClock();
    const ch = after(100, { clock });
    ch.close();
    assert.equal(clock.pendingTimers, 0);
    const ac = new AbortController();
    const ch2 = after(100, { clock, signal: ac.signal });
    ac.abort();
    assert.equal(ch2.closed, true);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(after(5, { clock, signal: AbortSignal.abort() }).closed, true);
  });

  test('rejects a bad duration', () => {
    assert.throws(() => after(-1), /`ms`/);
    assert.throws(() => ticker(0), /`ms`/);
    assert.throws(() => after(Number.NaN), TypeError);
  });
});

describe('ticker', () => {
  test('ticks every ms on the clock and drops ticks a slow receiver misses', async () => {
    const clock = new FakeClock();
    const t = ticker(10, { clock });
    await clock.advance(10);
    assert.deepEqual(t.tryReceive(), { done: false, value: 10 });
    await clock.advance(35);
    // Ticks at 20, 30 and 40: one is buffered, the rest were dropped.
    assert.deepEqual(t.tryReceive(), { done: false, value: 20 });
    assert.equal(t.tryReceive(), undefined);
    await clock.advance(5);
    assert.deepEqual(t.tryReceive(), { done: false, value: 50 });
    t.close();
    assert.equal(clock.pendingTimers, 0);
  });

  test('for await over a ticker, stopped with a signal', async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    const t = ticker(100, { clock, signal: ac.signal });
    const seen: number[] = [];
    const loop = (async () => {
      for await (const now of t) {
        seen.push(now);
        if (seen.length === 3) ac.abort();
      }
    })();
    await clock.advance(300);
    await loop;
    assert.deepEqual(seen, [100, 200, 300]);
    assert.equal(clock.pendingTimers, 0);
  });
});

describe('merge', () => {
  test('receives every value of every input and closes when all close', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const m = merge(a, b);
    void (async () => {
      for (let i = 0; i < 5; i++) await a.send(i);
      a.close();
    })();
    void (async () => {
      for (let i = 100; i < 105; i++) await b.send(i);
      b.close();
    })();
    const got: number[] = [];
    for await (const v of m) got.push(v);
    assert.deepEqual(
      got.filter((v) => v < 100),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(
      got.filter((v) => v >= 100),
      [100, 101, 102, 103, 104],
    );
  });

  test('merge() of nothing is closed; closing the output stops receiving', async () => {
    assert.equal(merge().closed, true);
    const a = new Channel<number>();
    const m = merge(a);
    await flush();
    assert.equal(a.waiting.receivers, 1);
    m.close();
    await flush();
    assert.equal(a.waiting.receivers, 0);
    assert.equal(a.closed, false);
  });
});

describe('fanOut', () => {
  test('round-robins values to n outputs and closes them when the input closes', async () => {
    const input = new Channel<number>(10);
    for (let i = 0; i < 6; i++) input.trySend(i);
    input.close();
    const [x, y, z] = fanOut(input, 3, { capacity: 2 }) as [
      Channel<number>,
      Channel<number>,
      Channel<number>,
    ];
    const drain = async (c: Channel<number>) => {
      const out: number[] = [];
      for await (const v of c) out.push(v);
      return out;
    };
    assert.deepEqual(await Promise.all([drain(x), drain(y), drain(z)]), [
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
  });

  test('skips outputs closed by their consumer and stops when all are closed', async () => {
    const input = new Channel<number>();
    const [x, y] = fanOut(input, 2) as [Channel<number>, Channel<number>];
    x.close();
    const got = y.receive();
    await input.send(1);
    assert.deepEqual(await got, { done: false, value: 1 });
    y.close();
    await flush();
    assert.equal(input.waiting.receivers, 0);
  });

  test('rejects bad arguments', () => {
    assert.throws(() => fanOut(new Channel(), 0), /`n`/);
    assert.throws(() => fanOut({} as never, 1), TypeError);
    assert.throws(() => fanOut(new Channel(), 1, { capacity: -1 }), /`capacity`/);
  });
});
