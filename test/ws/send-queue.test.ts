// The send queue in isolation, with a fake socket: a closing socket (readyState 2, which
// `ws` reports between the peer's close frame and the TCP close) takes no message; they
// wait in weir's queue for the next socket instead of vanishing into the dead one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import { SendQueue, type Sink } from '../../src/ws/send-queue.js';

function fakeSink(readyState: number) {
  const sent: unknown[] = [];
  const sink: Sink & { readyState: number } = {
    bufferedAmount: 0,
    readyState,
    send: (data) => void sent.push(data),
  };
  return { sink, sent };
}

test('a closing socket takes no message: sends queue for the next socket, in order', async () => {
  const q = new SendQueue(1024, new FakeClock(), Number.POSITIVE_INFINITY);
  const closing = fakeSink(2);
  q.attach(closing.sink);
  await q.send('a', undefined);
  await q.send('b', undefined);
  assert.deepEqual(closing.sent, [], 'nothing went into the closing socket');
  assert.equal(q.queuedBytes, 2);
  const next = fakeSink(1);
  q.attach(next.sink);
  await q.send('c', undefined);
  assert.deepEqual(next.sent, ['a', 'b', 'c']);
  assert.equal(q.written, 3);
});

test('an open socket under the bound takes a message at once', async () => {
  const q = new SendQueue(4, new FakeClock(), Number.POSITIVE_INFINITY);
  const open = fakeSink(1);
  q.attach(open.sink);
  await q.send('1234', undefined);
  assert.deepEqual(open.sent, ['1234']);
  assert.equal(q.queuedBytes, 0);
});
