// Random concurrent senders, receivers, selects, aborts, timeouts and a close against one
// channel: the multiset of received values must equal the multiset of successful sends,
// each sender's values must arrive in the order sent, and nothing may wait forever.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Channel, isWeirError, recv, select, send } from '../../src/channel/index.js';
import { FakeClock } from '../../src/internal/clock.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Scenario {
  capacity: number;
  senders: number[];
  receivers: number;
  rng: number[];
  steps: number;
  closeAt: number;
}

async function run(s: Scenario): Promise<void> {
  let r = 0;
  const rand = (n: number) => s.rng[r++ % s.rng.length]! % n;
  const clock = new FakeClock();
  const ch = new Channel<string>(s.capacity);
  const idle = new Channel<string>();
  const aborts = new Set<AbortController>();
  const abortable = () => {
    const ac = new AbortController();
    aborts.add(ac);
    return ac;
  };
  const sent: string[] = [];
  const received: string[] = [];

  const sender = async (id: number, count: number) => {
    for (let seq = 0; seq < count; seq++) {
      const v = `${id}:${seq}`;
      const mode = rand(4);
      let ac: AbortController | undefined;
      try {
        if (mode === 0) await ch.send(v);
        else if (mode === 1) {
          ac = abortable();
          await ch.send(v, { signal: ac.signal });
        } else if (mode === 2) {
          ac = abortable();
          const res = await select([send(ch, v), recv(idle)], {
            signal: ac.signal,
            timeoutMs: 1 + rand(5),
            clock,
          });
          assert.equal(res.index, 0);
        } else if (!ch.trySend(v)) {
          await tick();
          continue;
        }
        sent.push(v);
      } catch (error) {
        if (isWeirError(error, 'ERR_CHANNEL_CLOSED')) return;
        if (!(isWeirError(error, 'ERR_TIMEOUT') || (ac?.signal.aborted ?? false))) throw error;
      } finally {
        if (ac !== undefined) aborts.delete(ac);
      }
    }
  };

  const receiver = async () => {
    for (;;) {
      const mode = rand(4);
      let ac: AbortController | undefined;
      try {
        let res: IteratorResult<string, undefined> | undefined;
        if (mode === 0) res = await ch.receive();
        else if (mode === 1) {
          ac = abortable();
          res = await ch.receive({ signal: ac.signal });
        } else if (mode === 2) {
          ac = abortable();
          const out = await select([recv(idle), recv(ch)], {
            signal: ac.signal,
            timeoutMs: 1 + rand(5),
            clock,
          });
          assert.equal(out.index, 1);
          res = out.done ? { done: true, value: undefined } : { done: false, value: out.value! };
        } else {
          // Awaited like the other modes, so that values are recorded in the order taken.
          res = await Promise.resolve(ch.tryReceive());
          if (res === undefined) await tick();
        }
        if (res === undefined) continue;
        if (res.done) return;
        received.push(res.value);
      } catch (error) {
        if (!(isWeirError(error, 'ERR_TIMEOUT') || (ac?.signal.aborted ?? false))) throw error;
      } finally {
        if (ac !== undefined) aborts.delete(ac);
      }
    }
  };

  let finished = 0;
  const loops = [
    ...s.senders.map((count, id) => sender(id, count)),
    ...Array.from({ length: s.receivers }, receiver),
  ].map((p) => p.finally(() => finished++));

  for (let step = 0; step < s.steps; step++) {
    if (step === s.closeAt) ch.close();
    const action = rand(3);
    if (action === 0 && aborts.size > 0) {
      const list = [...aborts];
      list[rand(list.length)]!.abort(new Error('random abort'));
    } else if (action === 1) await clock.advance(1 + rand(3));
    else await tick();
  }
  if (!ch.closed) ch.close();
  for (let i = 0; i < 1000 && finished < loops.length; i++) {
    await clock.advance(5);
    await tick();
  }
  assert.equal(finished, loops.length, 'a sender or receiver waited forever');
  await Promise.all(loops);

  assert.deepEqual([...received].sort(), [...sent].sort(), 'received multiset = sent multiset');
  const last = new Map<string, number>();
  for (const v of received) {
    const [id, seq] = v.split(':') as [string, string];
    const prev = last.get(id) ?? -1;
    assert.ok(Number(seq) > prev, `sender ${id} out of order: ${seq} after ${prev}`);
    last.set(id, Number(seq));
  }
  assert.deepEqual(ch.waiting, { senders: 0, receivers: 0 });
  assert.deepEqual(idle.waiting, { senders: 0, receivers: 0 });
  assert.equal(clock.pendingTimers, 0, 'no timer left behind');
}

test('channel property: nothing lost, duplicated, reordered per sender, or stuck', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        capacity: fc.integer({ min: 0, max: 3 }),
        senders: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 4 }),
        receivers: fc.integer({ min: 1, max: 3 }),
        rng: fc.array(fc.nat(1000), { minLength: 1, maxLength: 64 }),
        steps: fc.integer({ min: 0, max: 60 }),
        closeAt: fc.integer({ min: 0, max: 80 }),
      }),
      run,
    ),
    { numRuns: 150 },
  );
});
