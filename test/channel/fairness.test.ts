// A flat-out exchange through channels must give the event loop a turn (timers, I/O,
// setImmediate) every `sliceMs` of its own time. Time here is a counter that each
// message advances by STEP_MS, so every figure below is a count of operations, the same
// on any machine.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { coop, resetBudget, yielding } from '../../src/channel/coop.js';
import { Channel, recv, select, send } from '../../src/channel/index.js';
import { stream } from '../../src/stream/index.js';

const STEP_MS = 0.001; // each message "costs" 1 µs
const MESSAGES = 20_000; // 20 ms of fake time
const realNow = coop.now;
const realSlice = coop.sliceMs;
let fakeNow = 0;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

beforeEach(async () => {
  await turn(); // a marker left pending by an earlier test fires first
  fakeNow = 0;
  coop.now = () => fakeNow;
  coop.sliceMs = 0.5;
  resetBudget();
});

afterEach(async () => {
  await turn();
  coop.now = realNow;
  coop.sliceMs = realSlice;
});

type Exchange = (capacity: number, n: number, onMessage: (v: number) => void) => Promise<void>;

/**
 * Runs `exchange`, with a setImmediate chain re-armed for its whole length, and returns how
 * many messages passed before the first turn of the loop and at most between two turns.
 */
async function messagesPerTurn(exchange: Exchange, capacity: number) {
  let messages = 0;
  const turns: number[] = [];
  let running = true;
  const tick = (): void => {
    turns.push(messages);
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  let expected = 0;
  await exchange(capacity, MESSAGES, (v) => {
    assert.equal(v, expected++, 'values arrive in order, none lost');
    messages++;
    fakeNow += STEP_MS;
  });
  running = false;
  assert.equal(messages, MESSAGES);
  let most = turns[0] ?? messages;
  for (let i = 1; i < turns.length; i++) most = Math.max(most, turns[i]! - turns[i - 1]!);
  return { first: turns[0] ?? messages, most, turns: turns.length };
}

// One slice is 500 messages of fake time. The clock is read 16 transfers in, then half a
// slice on and again just past the slice's end (10 % past it, from the rate seen), so the
// loop turns after 500 to 600 messages, plus what a buffer lets trySend/tryReceive (which
// cannot be held back) move after that.
function assertTurnsEverySlice(
  r: { first: number; most: number; turns: number },
  capacity: number,
): void {
  const slice = coop.sliceMs / STEP_MS;
  const bound = slice * 1.2 + 2 * capacity;
  assert.ok(r.first >= slice && r.first <= bound, `first turn after ${r.first} messages`);
  assert.ok(r.most <= bound, `at most ${r.most} messages between two turns`);
  assert.ok(r.turns >= MESSAGES / bound, `${r.turns} turns`);
}

const sendReceive: Exchange = async (capacity, n, onMessage) => {
  const ch = new Channel<number>(capacity);
  const producer = async (): Promise<void> => {
    for (let i = 0; i < n; i++) await ch.send(i);
    ch.close();
  };
  const consumer = async (): Promise<void> => {
    for (let r = await ch.receive(); !r.done; r = await ch.receive()) onMessage(r.value);
  };
  await Promise.all([producer(), consumer()]);
};

const viaSelect: Exchange = async (capacity, n, onMessage) => {
  const ch = new Channel<number>(capacity);
  const idle = new Channel<number>();
  const producer = async (): Promise<void> => {
    for (let i = 0; i < n; i++) await select([send(ch, i), recv(idle)]);
    ch.close();
  };
  const consumer = async (): Promise<void> => {
    for (;;) {
      const r = await select([recv(ch), recv(idle)]);
      if (r.done) break;
      onMessage(r.value);
    }
  };
  await Promise.all([producer(), consumer()]);
};

const forAwait: Exchange = async (capacity, n, onMessage) => {
  const ch = new Channel<number>(capacity);
  const producer = async (): Promise<void> => {
    for (let i = 0; i < n; i++) await ch.send(i);
    ch.close();
  };
  const consumer = async (): Promise<void> => {
    for await (const v of ch) onMessage(v);
  };
  await Promise.all([producer(), consumer()]);
};

// Only trySend/tryReceive and waits that peers end: no operation completes at once, so
// only holding back the wakes can give the loop its turn.
const throughStreams: Exchange = async (capacity, n, onMessage) => {
  const ch = new Channel<number>(capacity);
  await Promise.all([
    stream(Array.from({ length: n }, (_, i) => i)).pipeTo(ch),
    stream(ch).forEach(onMessage),
  ]);
};

describe('a flat-out exchange gives the event loop a turn every slice', () => {
  for (const capacity of [0, 64]) {
    test(`send/receive, capacity ${capacity}`, async () => {
      assertTurnsEverySlice(await messagesPerTurn(sendReceive, capacity), capacity);
    });
    test(`select, capacity ${capacity}`, async () => {
      assertTurnsEverySlice(await messagesPerTurn(viaSelect, capacity), capacity);
    });
    test(`for await over the channel, capacity ${capacity}`, async () => {
      assertTurnsEverySlice(await messagesPerTurn(forAwait, capacity), capacity);
    });
    test(`pipeTo a channel and a stream of it, capacity ${capacity}`, async () => {
      assertTurnsEverySlice(await messagesPerTurn(throughStreams, capacity), capacity);
    });
  }

  test('a timer and an immediate armed at the start run within the first slice', async () => {
    coop.now = realNow;
    let done = false;
    let timerFiredBeforeEnd = false;
    let immediateFiredBeforeEnd = false;
    setImmediate(() => {
      immediateFiredBeforeEnd = !done;
    });
    // Real time here: the timer is due after 1 ms, and the exchange below gives the loop a
    // turn every slice (0.5 ms in these tests), so the timer fires long before the
    // exchange's bound of messages is reached.
    const started = performance.now();
    setTimeout(() => {
      timerFiredBeforeEnd = !done;
    }, 0);
    const ch = new Channel<number>();
    const producer = async (): Promise<void> => {
      // Bounded by count, and long enough (in real time) for the 1 ms timer to be due.
      for (let i = 0; i < 5_000_000 && !timerFiredBeforeEnd; i++) await ch.send(i);
      ch.close();
    };
    const consumer = async (): Promise<void> => {
      for await (const _ of ch);
    };
    await Promise.all([producer(), consumer()]);
    done = true;
    assert.equal(immediateFiredBeforeEnd, true);
    assert.equal(timerFiredBeforeEnd, true, `after ${performance.now() - started} ms`);
  });
});

describe('holding results for the loop', () => {
  // Spends the budget with fake time jumping, until the loop is owed a turn.
  function exhaust(): void {
    const ch = new Channel<number>(1);
    for (let i = 0; i < 10_000 && !yielding; i++) {
      fakeNow += 1;
      ch.trySend(i);
      ch.tryReceive();
    }
    assert.equal(yielding, true);
  }

  test('a result held back is still delivered when the signal aborts meanwhile', async () => {
    const ch = new Channel<string>(1);
    ch.trySend('kept');
    exhaust();
    const ac = new AbortController();
    const p = ch.receive({ signal: ac.signal });
    ac.abort(new Error('too late'));
    assert.deepEqual(await p, { done: false, value: 'kept' });
    assert.equal(ch.length, 0);
  });

  test('a woken receiver keeps its value when its signal aborts before it resumes', async () => {
    const ch = new Channel<string>();
    const ac = new AbortController();
    const p = ch.receive({ signal: ac.signal });
    exhaust();
    assert.equal(ch.trySend('handed over'), true);
    ac.abort(new Error('too late'));
    assert.deepEqual(await p, { done: false, value: 'handed over' });
    assert.deepEqual(ch.waiting, { senders: 0, receivers: 0 });
  });

  test('a select picked while the loop is owed a turn unregisters its other cases at once', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const p = select([recv(a), recv(b)], { timeoutMs: 10_000 });
    exhaust();
    assert.equal(b.trySend(2), true);
    assert.deepEqual(a.waiting, { senders: 0, receivers: 0 });
    assert.equal(a.trySend(1), false);
    assert.deepEqual(await p, { index: 1, done: false, value: 2 });
  });

  test('a program that lets the loop turn between operations is never held back', async () => {
    const ch = new Channel<number>(1);
    for (let i = 0; i < 2_000; i++) {
      fakeNow += 1; // far more than a slice between two operations
      await ch.send(i);
      assert.deepEqual(await ch.receive(), { done: false, value: i });
      assert.equal(yielding, false);
      await turn();
    }
  });
});

describe('polling', () => {
  test('a select polling with default lets a producer that waits for the loop run', async () => {
    const ch = new Channel<number>(1);
    let produced = 0;
    const feed = (): void => {
      ch.trySend(produced++);
      if (produced < 5) setImmediate(feed);
    };
    setImmediate(feed);
    const got: number[] = [];
    for (let polls = 0; got.length < 5 && polls < 1_000_000; polls++) {
      fakeNow += STEP_MS;
      const r = await select([recv(ch)], { default: true });
      if (r.index === 0 && !r.done) got.push(r.value);
    }
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
  });
});

describe('a new run after a quiet spell', () => {
  test('is judged afresh, not by the pace of an earlier fast run', async () => {
    // A fast run (1 µs a message) teaches the budget to read the clock rarely.
    await messagesPerTurn(sendReceive, 64);
    await turn();
    // A slow run (0.1 ms a message) must still give the loop its turn within a slice or so.
    const ch = new Channel<number>(64);
    let messages = 0;
    let atTurn = -1;
    setImmediate(() => {
      atTurn = messages;
    });
    const producer = async (): Promise<void> => {
      for (let i = 0; i < 200; i++) await ch.send(i);
      ch.close();
    };
    const consumer = async (): Promise<void> => {
      for await (const _ of ch) {
        messages++;
        fakeNow += 0.1;
      }
    };
    await Promise.all([producer(), consumer()]);
    const slice = coop.sliceMs / 0.1;
    // 16 transfers (8 messages) before the first read, 8 more before the next.
    assert.ok(atTurn >= 0 && atTurn <= slice + 16 + 1, `first turn after ${atTurn} messages`);
  });
});
