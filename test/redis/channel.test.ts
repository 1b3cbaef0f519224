import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { createClient } from 'redis';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import {
  fromIoredis,
  fromNodeRedis,
  RedisChannel,
  type RedisChannelOptions,
  type RedisCommands,
} from '../../src/redis/index.js';
import { stream } from '../../src/stream/index.js';
import { track } from '../helpers/resources.js';
import { until } from '../helpers/services.js';
import { cleanup, client, skip, uniquePrefix } from './helpers.js';

/**
 * Commands that count the connections the channel duplicates (open now, ever opened) and
 * know their client ids, so a test can ask the server whether a read is blocked.
 */
function tracked(base: RedisCommands) {
  const t = {
    open: 0,
    opened: 0,
    ids: [] as string[],
    commands: undefined as unknown as RedisCommands,
  };
  t.commands = {
    send: (args) => base.send(args),
    subscribe: (channel, listener) => base.subscribe(channel, listener),
    async duplicate() {
      const c = await base.duplicate();
      t.open++;
      t.opened++;
      let closed = false;
      return {
        async send(args) {
          const r = await c.send(args);
          if (args[0] === 'CLIENT' && args[1] === 'ID') t.ids.push(String(r));
          return r;
        },
        async close() {
          if (!closed) t.open--;
          closed = true;
          await c.close();
        },
      };
    },
  };
  return t;
}

describe('RedisChannel against a real Redis', { skip }, () => {
  let redis: Redis;
  const prefix = uniquePrefix();
  let n = 0;
  const open: RedisChannel<unknown>[] = [];
  const make = <T = number>(o: Partial<RedisChannelOptions<T>> = {}): RedisChannel<T> => {
    const ch = new RedisChannel<T>({ redis, prefix, key: `c${n++}`, capacity: 3, ...o });
    open.push(ch as RedisChannel<unknown>);
    return ch;
  };
  /** Whether the server has the client `id` blocked in XREADGROUP. */
  const blocked = async (id: string | undefined): Promise<boolean> => {
    if (id === undefined) return false;
    const line = String(await redis.call('CLIENT', 'LIST', 'ID', id));
    return /cmd=xreadgroup/.test(line) && /flags=\S*b/.test(line);
  };

  before(() => {
    redis = client();
  });
  after(async () => {
    for (const ch of open) await ch.close();
    await cleanup(redis, prefix);
    redis.disconnect();
  });

  test('send, receive, ack: an ack returns true once and makes room', async () => {
    const ch = make<{ n: number }>();
    const id = await ch.send({ n: 1 });
    assert.match(id, /^\d+-\d+$/);
    assert.deepEqual(await ch.count(), { length: 1, pending: 0, deadLetters: 0 });
    const m = await ch.receive();
    assert.deepEqual([m.id, m.value, m.deliveries], [id, { n: 1 }, 1]);
    assert.deepEqual(await ch.count(), { length: 1, pending: 1, deadLetters: 0 });
    assert.equal(await m.ack(), true);
    assert.equal(await m.ack(), false);
    assert.deepEqual(await ch.count(), { length: 0, pending: 0, deadLetters: 0 });
  });

  test('a full channel: trySend refuses, send waits and resumes when a consumer acks', async () => {
    const producer = make({ key: 'full' });
    const consumer = make({ key: 'full', prefetch: 1 });
    for (let i = 0; i < 3; i++) assert.equal(await producer.trySend(i), true);
    assert.equal(await producer.trySend(99), false);
    const sends = [3, 4].map((v) => track(producer.send(v)));
    await until(() => producer.waitingSends === 2, 'both sends to wait');
    const first = await consumer.receive();
    // Delivered, not acknowledged: it still takes room.
    await flush(10);
    assert.equal(sends[0]!.done, false);
    assert.equal((await producer.count()).length, 3);
    await first.ack();
    // Woken by the server's notification; the waiting sends go in order.
    await until(() => sends[0]!.done, 'the first waiting send to go');
    assert.equal(sends[1]!.done, false);
    const second = await consumer.receive();
    await second.ack();
    await until(() => sends[1]!.done, 'the second waiting send to go');
    const values: number[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await consumer.receive();
      values.push(m.value);
      await m.ack();
    }
    assert.deepEqual([first.value, second.value, ...values], [0, 1, 2, 3, 4]);
    assert.equal((await producer.count()).length, 0);
  });

  test('send timeoutMs gives up with ERR_REDIS_CHANNEL_FULL on the injected clock; nothing sent', async () => {
    const clock = new FakeClock();
    const ch = make({ capacity: 1, clock, connectTimeoutMs: 60_000 });
    await ch.send(1);
    const waiting = track(ch.send(2, { timeoutMs: 5000 }));
    await until(() => ch.waitingSends === 1, 'the send to wait');
    await clock.advance(4999);
    await flush(10);
    assert.equal(waiting.done, false);
    await clock.advance(1);
    await until(() => waiting.done, 'the timeout');
    assert.ok(isWeirError(waiting.error, 'ERR_REDIS_CHANNEL_FULL'));
    assert.equal(ch.waitingSends, 0);
    assert.equal((await ch.count()).length, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  test('a message not acked within claimAfterMs goes to another consumer (XAUTOCLAIM)', async () => {
    // The idle time is the server's: a short claimAfterMs is the only wait.
    const a = make({ key: 'claim', claimAfterMs: 150, prefetch: 1 });
    const b = make({ key: 'claim', claimAfterMs: 150, prefetch: 1 });
    await a.send(7);
    const stalled = await a.receive();
    const again = await b.receive();
    assert.deepEqual([again.id, again.value, again.deliveries], [stalled.id, 7, 2]);
    // Exactly one ack of the two counts.
    const acks = [await again.ack(), await stalled.ack()];
    assert.deepEqual(acks, [true, false]);
    assert.deepEqual(await a.count(), { length: 0, pending: 0, deadLetters: 0 });
  });

  test('dead-lettered after maxDeliveries, by deadLetter(), and when it does not decode', async () => {
    const ch = make<{ v: string }>({ key: 'dead', claimAfterMs: 100, maxDeliveries: 2 });
    const id = await ch.send({ v: 'poison' });
    const first = await ch.receive();
    const second = await ch.receive(); // reclaimed from this very consumer
    assert.deepEqual([first.deliveries, second.deliveries], [1, 2]);
    // Never acked: the next reclaim (a receiver looks for stale messages) dead-letters it
    // instead of delivering it a third time.
    const looking = new AbortController();
    const third = ch.receive({ signal: looking.signal });
    await until(async () => (await ch.count()).deadLetters === 1, 'the dead letter');
    looking.abort(new Error('done'));
    await assert.rejects(third, /done/);
    const [d] = await ch.deadLetters();
    assert.equal(d?.originalId, id);
    assert.deepEqual([d?.deliveries, d?.reason, d?.value], [2, 'maxDeliveries', { v: 'poison' }]);
    assert.equal(await second.ack(), false);

    await ch.send({ v: 'rejected' });
    const m = await ch.receive();
    assert.equal(await m.deadLetter('no handler'), true);
    await redis.call('XADD', `${prefix}chan:{dead}:stream`, '*', 'v', 'not json');
    await ch.send({ v: 'fine' });
    // The undecodable entry comes first: it is dead-lettered and the receive gets the next.
    const fine = await ch.receive();
    assert.deepEqual(fine.value, { v: 'fine' });
    await fine.ack();
    await until(async () => (await ch.count()).deadLetters === 3, 'the undecodable one');
    const reasons = (await ch.deadLetters()).map((x) => x.reason);
    assert.equal(reasons[1], 'no handler');
    assert.match(reasons[2]!, /^decode: /);
    assert.deepEqual(await ch.count(), { length: 0, pending: 0, deadLetters: 3 });
  });

  test('SCRIPT FLUSH mid-run: zero failures', async () => {
    const producer = make({ key: 'flush', capacity: 20 });
    const consumer = make({ key: 'flush', capacity: 20 });
    const total = 400;
    let failures = 0;
    let running = true;
    const flusher = client();
    const flushing = (async () => {
      while (running) {
        await flusher.call('SCRIPT', 'FLUSH');
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const seen = new Set<number>();
    const consuming = (async () => {
      while (seen.size < total) {
        try {
          const m = await consumer.receive();
          seen.add(m.value);
          if (!(await m.ack())) failures++;
        } catch {
          failures++;
        }
      }
    })();
    for (let i = 0; i < total; i++) {
      try {
        await producer.send(i);
      } catch {
        failures++;
      }
    }
    await consuming;
    running = false;
    await flushing;
    flusher.disconnect();
    assert.equal(failures, 0);
    assert.equal(seen.size, total);
  });

  test('a weir/stream source and a pipeTo target', async () => {
    const ch = make({ key: 'pipe', capacity: 5 });
    const values = Array.from({ length: 40 }, (_, i) => i);
    const piping = stream(values).pipeTo(ch.writable());
    const got = await ch
      .messages()
      .take(values.length)
      .map(async (m) => {
        await m.ack();
        return m.value;
      })
      .toArray();
    await piping;
    assert.deepEqual(got, values);
    assert.equal((await ch.count()).length, 0);
  });

  test('abort: before, while waiting for room, and with the script on the wire', async () => {
    const ch = make({ key: 'abort-send', capacity: 1 });
    const ac = new AbortController();
    ac.abort(new Error('early'));
    await assert.rejects(ch.send(1, { signal: ac.signal }), /early/);
    await assert.rejects(ch.receive({ signal: ac.signal }), /early/);
    assert.equal((await ch.count()).length, 0);

    // On the wire with room: it was appended, so it resolves.
    const c1 = new AbortController();
    const appended = ch.send(1, { signal: c1.signal });
    c1.abort(new Error('late'));
    assert.match(await appended, /-/);
    // On the wire without room: nothing appended, so it rejects.
    const c2 = new AbortController();
    const refused = ch.send(2, { signal: c2.signal });
    c2.abort(new Error('refused'));
    await assert.rejects(refused, /refused/);
    // Waiting for room.
    const c3 = new AbortController();
    const waiting = ch.send(3, { signal: c3.signal });
    await until(() => ch.waitingSends === 1, 'the send to wait');
    c3.abort(new Error('gave up'));
    await assert.rejects(waiting, /gave up/);
    assert.equal(ch.waitingSends, 0);
    const m = await ch.receive();
    await m.ack();
    assert.equal(m.value, 1);
    assert.deepEqual(await ch.count(), { length: 0, pending: 0, deadLetters: 0 });
  });

  test('abort of a receive: while connecting, while blocked (unblocked at once), iterator break', async () => {
    const t = tracked(fromIoredis(redis as never));
    const ch = make({ redis: t.commands, key: 'abort-recv', claimAfterMs: 60_000 });
    // At once: the loop is still creating the group and opening its connection.
    const c1 = new AbortController();
    const early = ch.receive({ signal: c1.signal });
    c1.abort(new Error('early'));
    await assert.rejects(early, /early/);
    // Blocked in XREADGROUP on the server (for up to claimAfterMs, a minute).
    const c2 = new AbortController();
    const parked = ch.receive({ signal: c2.signal });
    parked.catch(() => {});
    await until(() => blocked(t.ids[0]), 'the read to block on the server');
    c2.abort(new Error('left'));
    await assert.rejects(parked, /left/);
    await until(async () => !(await blocked(t.ids[0])), 'CLIENT UNBLOCK to end the block');
    // Nothing was lost: the next message reaches the next receiver.
    await ch.send(5);
    const m = await ch.receive();
    assert.equal(m.value, 5);
    await m.ack();
    // break out of an iteration while it waits.
    const it = ch[Symbol.asyncIterator]();
    const next = it.next();
    await until(() => blocked(t.ids[0]), 'the iterator to block');
    await it.return?.();
    assert.deepEqual(await next, { done: true, value: undefined });
    assert.equal(t.opened, 1);
  });

  test('close during a blocked receive: the waits end, no connection or timer stays', async () => {
    const clock = new FakeClock();
    const t = tracked(fromIoredis(redis as never));
    const ch = make({ redis: t.commands, key: 'close', clock, claimAfterMs: 60_000 });
    const receiving = ch.receive();
    receiving.catch(() => {});
    const it = ch[Symbol.asyncIterator]();
    const iterating = it.next();
    await until(() => blocked(t.ids[0]), 'the read to block');
    const full = make({ key: 'close-full', capacity: 1, clock });
    await full.send(1);
    const sending = full.send(2);
    sending.catch(() => {});
    await until(() => full.waitingSends === 1, 'the send to wait');
    await Promise.all([ch.close(), full.close()]);
    await assert.rejects(receiving, (e: unknown) => isWeirError(e, 'ERR_REDIS_CLOSED'));
    await assert.rejects(sending, (e: unknown) => isWeirError(e, 'ERR_REDIS_CLOSED'));
    assert.deepEqual(await iterating, { done: true, value: undefined });
    assert.equal(t.open, 0, 'the blocking connection is closed');
    assert.equal(clock.pendingTimers, 0, 'no timer left');
    await assert.rejects(ch.receive(), (e: unknown) => isWeirError(e, 'ERR_REDIS_CLOSED'));
    await assert.rejects(ch.send(1), (e: unknown) => isWeirError(e, 'ERR_REDIS_CLOSED'));
    // The consumer left the group: nothing was pending for it.
    const consumers = (await redis.call(
      'XINFO',
      'CONSUMERS',
      `${prefix}chan:{close}:stream`,
      'weir',
    )) as unknown[];
    assert.equal(consumers.length, 0);
  });

  test('works through a node-redis 5 client, blocking reads included', async () => {
    const nr = await createClient({ url: 'redis://127.0.0.1:6379' }).connect();
    try {
      const t = tracked(fromNodeRedis(nr as never));
      const ch = new RedisChannel<string>({ redis: t.commands, prefix, key: 'nr', capacity: 2 });
      const receiving = ch.receive();
      await until(() => blocked(t.ids[0]), 'the read to block');
      await ch.send('a');
      const m = await receiving;
      assert.equal(m.value, 'a');
      await ch.send('b'); // full now: 'a' is not acknowledged yet
      const waiting = track(ch.send('c'));
      await until(() => ch.waitingSends === 1, 'the send to wait');
      assert.equal(await m.ack(), true);
      await until(() => waiting.done, 'the send to resume');
      const parked = ch.receive();
      const b = await parked;
      assert.equal(b.value, 'b');
      await b.ack();
      const c = await ch.receive();
      await c.ack();
      const last = ch.receive();
      last.catch(() => {});
      await until(() => blocked(t.ids[0]), 'the read to block again');
      await ch.close();
      await assert.rejects(last, (e: unknown) => isWeirError(e, 'ERR_REDIS_CLOSED'));
      assert.equal(t.open, 0);
    } finally {
      await nr.close();
    }
  });

  test('options are checked, naming the option', () => {
    assert.throws(() => make({ capacity: 0 }), /capacity/);
    assert.throws(() => make({ claimAfterMs: -1 }), /claimAfterMs/);
    assert.throws(
      () => make({ whenUnavailable: 'fail-open' } as never),
      /Unknown option `whenUnavailable`/,
    );
    assert.throws(() => make({ capacit: 3 } as never), /did you mean `capacity`/);
  });
});
