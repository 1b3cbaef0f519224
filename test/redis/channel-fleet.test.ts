// RedisChannel across processes: 3 consumer processes, one killed with SIGKILL mid-run
// while it holds messages it received and never acknowledged. Every message is
// acknowledged exactly once or dead-lettered, none is lost, and SCRIPT FLUSH during the
// run costs no failure.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisChannel } from '../../src/redis/index.js';
import { until } from '../helpers/services.js';
import { cleanup, client, skip, uniquePrefix, type Worker, worker } from './helpers.js';

describe('RedisChannel across processes', { skip }, () => {
  let redis: Redis;
  const prefix = uniquePrefix();
  const workers: Worker[] = [];

  before(() => {
    redis = client();
  });
  after(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await cleanup(redis, prefix);
    redis.disconnect();
  });

  test('3 consumers, one killed mid-run: each message acked exactly once or dead-lettered', async () => {
    const total = 600;
    const capacity = 40;
    // Idle time is measured by the server: a short claimAfterMs only makes the reclaim of
    // the killed consumer's messages (and of the poison ones) come sooner.
    const shared = { key: 'fleet', capacity, claimAfterMs: 300, maxDeliveries: 3 };
    const ws = [
      worker({ prefix, mode: 'consume', ...shared, stallAfter: 30 }),
      worker({ prefix, mode: 'consume', ...shared }),
      worker({ prefix, mode: 'consume', ...shared }),
    ];
    workers.push(...ws);
    await Promise.all(ws.map((w) => w.next('ready')));
    const ch = new RedisChannel<{ i: number; poison?: boolean }>({ redis, prefix, ...shared });
    const poison = new Set([7, 250, 512]);
    const sent = new Map<string, number>();
    let flushes = 0;
    const killed = (async () => {
      await ws[0]!.next('stalled');
      ws[0]!.child.kill('SIGKILL');
      return ws[0]!.exited;
    })();
    for (let i = 0; i < total; i++) {
      // Waits whenever 40 are unacknowledged: backpressure across the processes.
      const id = await ch.send(poison.has(i) ? { i, poison: true } : { i });
      sent.set(id, i);
      if (i % 150 === 75) {
        await redis.call('SCRIPT', 'FLUSH');
        flushes++;
      }
    }
    assert.equal(await killed, 'SIGKILL');
    assert.equal(flushes, 4);
    await until(async () => (await ch.count()).length === 0, 'every message to leave the stream');
    const dead = await ch.deadLetters(1000);
    const acked = (): Record<string, unknown>[] =>
      ws.flatMap((w) => w.lines.filter((l) => l.event === 'ack' && l.ok === true));
    // Lines follow their acks closely: wait until every ack that happened was reported.
    await until(() => acked().length + dead.length >= total, 'the acks to be reported');
    const ackedIds = acked().map((l) => String(l.id));
    const counts = new Map<string, number>();
    for (const id of ackedIds) counts.set(id, (counts.get(id) ?? 0) + 1);
    assert.deepEqual(
      [...counts].filter(([, n]) => n > 1),
      [],
      'no message acknowledged twice',
    );
    const deadIds = new Set(dead.map((d) => d.originalId));
    for (const id of deadIds) assert.ok(!counts.has(id), `${id} both acknowledged and dead`);
    assert.deepEqual(
      [...sent.keys()].filter((id) => !counts.has(id) && !deadIds.has(id)),
      [],
      'no message lost',
    );
    assert.equal(counts.size + deadIds.size, total);
    // The poison messages are exactly the dead ones, each delivered maxDeliveries times.
    assert.deepEqual(
      [...deadIds].map((id) => sent.get(id)).sort((a, b) => a! - b!),
      [...poison],
    );
    for (const d of dead) {
      assert.equal(d.reason, 'maxDeliveries');
      assert.equal(d.deliveries, 3);
      assert.equal(d.value?.poison, true);
    }
    // The killed consumer's messages were delivered again, to the others.
    const redelivered = acked().filter((l) => Number(l.deliveries) > 1);
    assert.ok(redelivered.length >= 1, 'the killed consumer held messages that were reclaimed');
    for (const w of ws) assert.equal(w.lines.filter((l) => l.event === 'error').length, 0);
    assert.deepEqual(await ch.count(), { length: 0, pending: 0, deadLetters: 3 });
    await ch.close();
  });
});
