import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Channel, ChannelClosedError, isWeirError } from '../../src/channel/index.js';
import { flush } from '../../src/internal/clock.js';

const closedCode = (e: unknown) => isWeirError(e, 'ERR_CHANNEL_CLOSED');

describe('Channel construction', () => {
  test('defaults to a rendezvous channel', () => {
    const ch = new Channel<number>();
    assert.equal(ch.capacity, 0);
    assert.equal(ch.length, 0);
    assert.equal(ch.closed, false);
  });

  test('rejects a bad capacity, naming the option', () => {
    assert.throws(() => new Channel(-1), /`capacity`.*integer >= 0/);
    assert.throws(() => new Channel(1.5), RangeError);
    assert.throws(() => new Channel(Number.POSITIVE_INFINITY), RangeError);
    assert.throws(() => new Channel('3' as unknown as number), TypeError);
  });

  test('rejects a bad signal option', () => {
    const ch = new Channel<number>(1);
    assert.throws(() => ch.send(1, { signal: 'x' as unknown as AbortSignal }), /`signal`/);
    assert.throws(() => ch.receive(null as unknown as undefined), /`options`/);
  });
});

describe('rendezvous (capacity 0)', () => {
  test('a send completes only when a receiver takes the value', async () => {
    const ch = new Channel<string>();
    let sent = false;
    const p = ch.send('a').then(() => {
      sent = true;
    });
    await flush();
    assert.equal(sent, false);
    assert.deepEqual(ch.waiting, { senders: 1, receivers: 0 });
    assert.deepEqual(await ch.receive(), { done: false, value: 'a' });
    await p;
    assert.equal(sent, true);
  });

  test('a waiting receiver gets the value directly', async () => {
    const ch = new Channel<number>();
    const r = ch.receive();
    assert.equal(ch.trySend(7), true);
    assert.deepEqual(await r, { done: false, value: 7 });
  });

  test('trySend and tryReceive never wait', () => {
    const ch = new Channel<number>();
    assert.equal(ch.trySend(1), false);
    assert.equal(ch.tryReceive(), undefined);
    assert.deepEqual(ch.waiting, { senders: 0, receivers: 0 });
  });
});

describe('buffered channel', () => {
  test('buffers up to capacity, then send waits', async () => {
    const ch = new Channel<number>(2);
    await ch.send(1);
    await ch.send(2);
    assert.equal(ch.length, 2);
    assert.equal(ch.trySend(3), false);
    let third = false;
    const p = ch.send(3).then(() => {
      third = true;
    });
    await flush();
    assert.equal(third, false);
    assert.deepEqual(ch.tryReceive(), { done: false, value: 1 });
    await p;
    assert.equal(third, true);
    assert.equal(ch.length, 2);
    assert.deepEqual(await ch.receive(), { done: false, value: 2 });
    assert.deepEqual(await ch.receive(), { done: false, value: 3 });
  });

  test('an undefined value is a value, not the end', async () => {
    const ch = new Channel<undefined>(1);
    await ch.send(undefined);
    ch.close();
    assert.deepEqual(await ch.receive(), { done: false, value: undefined });
    assert.deepEqual(await ch.receive(), { done: true, value: undefined });
  });

  test('blocked senders are served FIFO', async () => {
    const ch = new Channel<number>(1);
    await ch.send(0);
    const order: number[] = [];
    const sends = [1, 2, 3, 4].map((v) => ch.send(v).then(() => order.push(v)));
    const got: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await ch.receive();
      assert.equal(r.done, false);
      got.push(r.value as number);
    }
    await Promise.all(sends);
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    assert.deepEqual(order, [1, 2, 3, 4]);
  });

  test('waiting receivers are served FIFO', async () => {
    const ch = new Channel<number>(4);
    const rs = [ch.receive(), ch.receive(), ch.receive()];
    await ch.send(10);
    await ch.send(20);
    await ch.send(30);
    assert.deepEqual(
      (await Promise.all(rs)).map((r) => r.value),
      [10, 20, 30],
    );
  });

  test('grows its ring buffer past 16 and keeps FIFO order across wrap-around', async () => {
    const ch = new Channel<number>(100);
    let next = 0;
    let expect = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 37; i++) assert.equal(ch.trySend(next++), true);
      for (let i = 0; i < 30; i++)
        assert.deepEqual(ch.tryReceive(), { done: false, value: expect++ });
    }
    while (ch.length > 0) assert.deepEqual(ch.tryReceive(), { done: false, value: expect++ });
    assert.equal(expect, next);
  });
});

describe('close', () => {
  test('receivers drain buffered values, then learn the channel is closed', async () => {
    const ch = new Channel<number>(3);
    await ch.send(1);
    await ch.send(2);
    ch.close();
    assert.equal(ch.closed, true);
    assert.deepEqual(await ch.receive(), { done: false, value: 1 });
    assert.deepEqual(ch.tryReceive(), { done: false, value: 2 });
    assert.deepEqual(await ch.receive(), { done: true, value: undefined });
    assert.deepEqual(ch.tryReceive(), { done: true, value: undefined });
  });

  test('pending receivers are told the channel is closed', async () => {
    const ch = new Channel<number>();
    const rs = [ch.receive(), ch.receive()];
    ch.close();
    for (const r of await Promise.all(rs)) assert.equal(r.done, true);
  });

  test('a send on a closed channel fails with ERR_CHANNEL_CLOSED', async () => {
    const ch = new Channel<number>(1);
    ch.close();
    await assert.rejects(ch.send(1), closedCode);
    assert.throws(() => ch.trySend(1), ChannelClosedError);
  });

  test('a send pending when the channel closes fails and its value is not delivered', async () => {
    const ch = new Channel<number>(1);
    await ch.send(1);
    const p = ch.send(2);
    ch.close();
    await assert.rejects(
      p,
      (e) => closedCode(e) && /closed while this send waited/.test(String(e)),
    );
    assert.deepEqual(await ch.receive(), { done: false, value: 1 });
    assert.deepEqual(await ch.receive(), { done: true, value: undefined });
  });

  test('closing twice is an error; dispose is idempotent', () => {
    const ch = new Channel<number>();
    ch.close();
    assert.throws(() => ch.close(), closedCode);
    ch[Symbol.dispose]();
    const other = new Channel<number>();
    {
      using c = other;
      assert.equal(c.closed, false);
    }
    assert.equal(other.closed, true);
  });
});

describe('cancellation', () => {
  test('an aborted send rejects with the reason and leaves no waiter', async () => {
    const ch = new Channel<number>();
    const ac = new AbortController();
    const p = ch.send(1, { signal: ac.signal });
    assert.equal(ch.waiting.senders, 1);
    const reason = new Error('stop');
    ac.abort(reason);
    await assert.rejects(p, (e) => e === reason);
    assert.deepEqual(ch.waiting, { senders: 0, receivers: 0 });
    assert.equal(ch.tryReceive(), undefined);
  });

  test('an aborted receive rejects with the reason and takes nothing', async () => {
    const ch = new Channel<number>(1);
    const ac = new AbortController();
    const p = ch.receive({ signal: ac.signal });
    ac.abort();
    await assert.rejects(p, { name: 'AbortError' });
    assert.equal(ch.waiting.receivers, 0);
    await ch.send(5);
    assert.deepEqual(ch.tryReceive(), { done: false, value: 5 });
  });

  test('an already aborted signal rejects at once, even when the channel is ready', async () => {
    const ch = new Channel<number>(1);
    await ch.send(1);
    const signal = AbortSignal.abort('gone');
    await assert.rejects(ch.receive({ signal }), (e) => e === 'gone');
    await assert.rejects(ch.send(2, { signal }), (e) => e === 'gone');
    assert.equal(ch.length, 1);
  });

  test('a completed wait removes its abort listener', async () => {
    const ch = new Channel<number>();
    const ac = new AbortController();
    let added = 0;
    let removed = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    const remove = ac.signal.removeEventListener.bind(ac.signal);
    ac.signal.addEventListener = ((...a: Parameters<typeof add>) => {
      added++;
      add(...a);
    }) as typeof add;
    ac.signal.removeEventListener = ((...a: Parameters<typeof remove>) => {
      removed++;
      remove(...a);
    }) as typeof remove;
    const r = ch.receive({ signal: ac.signal });
    await ch.send(1);
    await r;
    const s = ch.send(2, { signal: ac.signal });
    await ch.receive();
    await s;
    assert.equal(added, 2);
    assert.equal(removed, 2);
  });
});

describe('async iteration', () => {
  test('for await ends when closed and drained', async () => {
    const ch = new Channel<number>(2);
    void (async () => {
      for (let i = 0; i < 5; i++) await ch.send(i);
      ch.close();
    })();
    const got: number[] = [];
    for await (const v of ch) got.push(v);
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
  });

  test('breaking out of the loop does not close the channel', async () => {
    const ch = new Channel<number>(3);
    await ch.send(1);
    await ch.send(2);
    for await (const v of ch) {
      assert.equal(v, 1);
      break;
    }
    assert.equal(ch.closed, false);
    assert.deepEqual(ch.tryReceive(), { done: false, value: 2 });
  });

  test('values({ signal }) rejects next() on abort and leaves no waiter', async () => {
    const ch = new Channel<number>();
    const ac = new AbortController();
    const it = ch.values({ signal: ac.signal });
    const p = it.next();
    ac.abort(new Error('bye'));
    await assert.rejects(p, /bye/);
    assert.equal(ch.waiting.receivers, 0);
  });
});

describe('the waiting receiver without a signal, and who resumes first', () => {
  test('a lone receiver counts as blocked, takes the next send, and close wakes it', async () => {
    const ch = new Channel<number>();
    const first = ch.receive();
    assert.equal(ch.blockedReceivers, 1);
    assert.deepEqual(ch.waiting, { senders: 0, receivers: 1 });
    assert.equal(ch.trySend(7), true);
    assert.equal(ch.blockedReceivers, 0);
    assert.deepEqual(await first, { done: false, value: 7 });
    const second = ch.receive();
    ch.close();
    assert.deepEqual(await second, { done: true, value: undefined });
    assert.equal(ch.blockedReceivers, 0);
  });

  test('receivers are served in arrival order, with and without signals', async () => {
    const ch = new Channel<number>();
    const ac = new AbortController();
    const a = ch.receive();
    const b = ch.receive({ signal: ac.signal });
    const c = ch.receive();
    assert.equal(ch.blockedReceivers, 3);
    for (const v of [1, 2, 3]) await ch.send(v);
    assert.deepEqual(
      (await Promise.all([a, b, c])).map((r) => r.value),
      [1, 2, 3],
    );
  });

  test('close wakes the lone receiver and the queued ones', async () => {
    const ch = new Channel<number>();
    const a = ch.receive();
    const b = ch.receive();
    ch.close();
    assert.deepEqual(
      (await Promise.all([a, b])).map((r) => r.done),
      [true, true],
    );
  });

  test('a receiver that takes from a waiting sender resumes before that sender', async () => {
    const ch = new Channel<number>();
    const order: string[] = [];
    const sent = ch.send(1).then(() => order.push('sender'));
    const got = ch.receive().then(() => order.push('receiver'));
    await Promise.all([sent, got]);
    assert.deepEqual(order, ['receiver', 'sender']);
  });

  test('a received value is an iterator result with exactly done and value', async () => {
    const ch = new Channel<number>();
    const r = ch.receive();
    await ch.send(5);
    const got = await r;
    assert.deepEqual(Object.keys(got).sort(), ['done', 'value']);
    assert.equal(Object.getPrototypeOf(got), Object.prototype);
  });
});
