import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Channel, isWeirError, recv, select, send } from '../../src/channel/index.js';
import { FakeClock, flush } from '../../src/internal/clock.js';

describe('select', () => {
  test('performs the one ready receive', async () => {
    const a = new Channel<number>(1);
    const b = new Channel<string>(1);
    await b.send('x');
    const r = await select([recv(a), recv(b)]);
    assert.deepEqual(r, { index: 1, done: false, value: 'x' });
  });

  test('performs a ready send and reports done for a closed receive', async () => {
    const out = new Channel<number>(1);
    const r = await select([send(out, 3)]);
    assert.deepEqual(r, { index: 0, done: false, value: undefined });
    assert.deepEqual(out.tryReceive(), { done: false, value: 3 });
    const closed = new Channel<number>();
    closed.close();
    assert.deepEqual(await select([recv(closed)]), { index: 0, done: true, value: undefined });
  });

  test('waits until a case becomes ready and unregisters the others', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const c = new Channel<number>();
    const p = select([recv(a), recv(b), send(c, 9)]);
    assert.equal(a.waiting.receivers, 1);
    assert.equal(c.waiting.senders, 1);
    await b.send(5);
    assert.deepEqual(await p, { index: 1, done: false, value: 5 });
    assert.deepEqual(a.waiting, { senders: 0, receivers: 0 });
    assert.deepEqual(c.waiting, { senders: 0, receivers: 0 });
    assert.equal(c.tryReceive(), undefined, 'the send case that lost never delivers');
  });

  test('a waiting send case is completed by a receiver', async () => {
    const a = new Channel<number>();
    const quit = new Channel<void>();
    const p = select([send(a, 1), recv(quit)]);
    assert.deepEqual(await a.receive(), { done: false, value: 1 });
    assert.equal((await p).index, 0);
    assert.equal(quit.waiting.receivers, 0);
  });

  test('default never waits', async () => {
    const a = new Channel<number>();
    const r = await select([recv(a), send(a, 1)], { default: true });
    assert.equal(r.index, -1);
    assert.deepEqual(a.waiting, { senders: 0, receivers: 0 });
  });

  test('a timeout rejects with ERR_TIMEOUT and leaves no registration or timer', async () => {
    const clock = new FakeClock();
    const a = new Channel<number>();
    const b = new Channel<number>();
    const p = select([recv(a), send(b, 1)], { timeoutMs: 100, clock });
    let settled = false;
    p.catch(() => {}).finally(() => {
      settled = true;
    });
    await clock.advance(99);
    assert.equal(settled, false);
    await clock.advance(1);
    await assert.rejects(p, (e) => isWeirError(e, 'ERR_TIMEOUT'));
    assert.deepEqual(a.waiting, { senders: 0, receivers: 0 });
    assert.deepEqual(b.waiting, { senders: 0, receivers: 0 });
    assert.equal(clock.pendingTimers, 0);
    assert.equal(b.trySend(2), false, 'no receiver was left behind');
  });

  test('a select that completes clears its timer', async () => {
    const clock = new FakeClock();
    const a = new Channel<number>();
    const p = select([recv(a)], { timeoutMs: 100, clock });
    assert.equal(clock.pendingTimers, 1);
    a.trySend(1);
    assert.equal((await p).value, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  test('an abort rejects with the reason and unregisters every case', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>(0);
    const ac = new AbortController();
    const p = select([recv(a), send(b, 1)], { signal: ac.signal });
    ac.abort('stop');
    await assert.rejects(p, (e) => e === 'stop');
    assert.deepEqual(a.waiting, { senders: 0, receivers: 0 });
    assert.deepEqual(b.waiting, { senders: 0, receivers: 0 });
    await assert.rejects(select([recv(a)], { signal: ac.signal }), (e) => e === 'stop');
  });

  test('a send case fails with ERR_CHANNEL_CLOSED when picked on a closed channel', async () => {
    const a = new Channel<number>();
    a.close();
    await assert.rejects(select([send(a, 1)]), (e) => isWeirError(e, 'ERR_CHANNEL_CLOSED'));
    const b = new Channel<number>();
    const other = new Channel<number>();
    const p = select([send(b, 1), recv(other)]);
    b.close();
    await assert.rejects(p, (e) => isWeirError(e, 'ERR_CHANNEL_CLOSED'));
    assert.equal(other.waiting.receivers, 0);
  });

  test('a closing channel wakes a waiting receive case with done', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const p = select([recv(a), recv(b)]);
    a.close();
    assert.deepEqual(await p, { index: 0, done: true, value: undefined });
    assert.equal(b.waiting.receivers, 0);
  });

  test('send and receive cases on the same channel do not meet each other', async () => {
    const a = new Channel<number>();
    const p = select([send(a, 1), recv(a)], { default: true });
    assert.equal((await p).index, -1);
    const q = select([send(a, 1), recv(a)]);
    await flush();
    assert.deepEqual(a.waiting, { senders: 1, receivers: 1 });
    assert.deepEqual(await a.receive(), { done: false, value: 1 });
    assert.equal((await q).index, 0);
    assert.deepEqual(a.waiting, { senders: 0, receivers: 0 });
  });

  test('rejects bad cases and options at once', () => {
    const a = new Channel<number>();
    assert.throws(() => select([{ op: 'receive', channel: {} } as never]), TypeError);
    assert.throws(() => select('x' as never), TypeError);
    assert.throws(() => select([recv(a)], { timeoutMs: -1 }), /`timeoutMs`/);
    assert.throws(() => select([recv(a)], { signal: 1 as never }), /`signal`/);
    assert.throws(() => recv({} as never), TypeError);
  });

  test('result types follow the cases (compile-time check)', async () => {
    const a = new Channel<number>(1);
    const b = new Channel<string>(1);
    await b.send('s');
    const r = await select([recv(a), recv(b), send(a, 2)]);
    if (r.index === 1 && !r.done) {
      const s: string = r.value;
      assert.equal(s, 's');
    } else if (r.index === 0 && !r.done) {
      const n: number = r.value;
      assert.equal(typeof n, 'number');
    }
    const d = await select([recv(a)], { default: true });
    const idx: -1 | 0 = d.index;
    assert.ok(idx === -1 || idx === 0);
  });
});

test('a send case is ready for a lone waiting receiver and hands it the value', async () => {
  const ch = new Channel<number>();
  const r = ch.receive();
  assert.deepEqual(await select([send(ch, 9)], { default: true }), {
    index: 0,
    done: false,
    value: undefined,
  });
  assert.deepEqual(await r, { done: false, value: 9 });
});
