// The pool's events on node:diagnostics_channel: what an APM tool that subscribes by name
// receives, and that nothing is published once it unsubscribes.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { createManagedPool } from '../../src/managed/index.js';
import { createPool, POOL_CHANNELS, type PoolChannelMessage } from '../../src/pool/index.js';
import { factory, track } from '../helpers/resources.js';
import { fakeManager } from '../managed/fake-manager.js';

type Name = keyof typeof POOL_CHANNELS;

function listen(): {
  seen: [Name, Record<string, unknown>][];
  stop: () => void;
} {
  const seen: [Name, Record<string, unknown>][] = [];
  const subs = (Object.keys(POOL_CHANNELS) as Name[]).map((event) => {
    const fn = (m: unknown): void => {
      seen.push([event, m as Record<string, unknown>]);
    };
    subscribe(POOL_CHANNELS[event], fn);
    return (): void => {
      unsubscribe(POOL_CHANNELS[event], fn);
    };
  });
  return {
    seen,
    stop: () => {
      for (const u of subs) u();
    },
  };
}

describe('diagnostics channels', () => {
  test('the names are documented ones', () => {
    assert.deepEqual(POOL_CHANNELS, {
      acquire: 'weir:pool:acquire',
      release: 'weir:pool:release',
      create: 'weir:pool:create',
      destroy: 'weir:pool:destroy',
      timeout: 'weir:pool:timeout',
      createError: 'weir:pool:createError',
    });
  });

  test('acquire, release, create, destroy, timeout and createError reach a subscriber', async () => {
    const clock = new FakeClock();
    let fail = false;
    const f = factory({ failWith: () => (fail ? new Error('refused') : undefined) });
    const l = listen();
    try {
      const pool = createPool({
        name: 'db',
        create: f.create,
        destroy: f.destroy,
        max: 1,
        acquireTimeoutMs: 50,
        clock,
      });
      const lease = await pool.acquire();
      const waiter = track(pool.acquire());
      await clock.advance(50);
      await flush();
      assert.ok(waiter.error);
      lease.destroy(new Error('broken'));
      await flush();
      fail = true;
      await pool.acquire().catch(() => undefined);
      await pool.close();
      const names = l.seen.map(([n]) => n);
      assert.deepEqual(names.slice(0, 6), [
        'create',
        'acquire',
        'timeout',
        'release',
        'destroy',
        'createError',
      ]);
      const by = (n: Name) => l.seen.find(([e]) => e === n)![1];
      for (const [, m] of l.seen) {
        assert.equal(m.pool, pool);
        assert.equal(m.name, 'db');
      }
      const acquire = by('acquire') as PoolChannelMessage<'acquire'>;
      assert.equal(acquire.waitedMs, 0);
      assert.equal(acquire.lease, lease);
      assert.equal(acquire.resource, lease.value);
      assert.equal((by('release') as PoolChannelMessage<'release'>).broken, true);
      assert.equal((by('timeout') as PoolChannelMessage<'timeout'>).waitedMs, 50);
      assert.equal(typeof (by('create') as PoolChannelMessage<'create'>).durationMs, 'number');
      assert.equal((by('destroy') as PoolChannelMessage<'destroy'>).reason, 'broken');
      assert.match(
        String((by('createError') as PoolChannelMessage<'createError'>).error),
        /refused/,
      );
    } finally {
      l.stop();
    }
  });

  test('a wait is measured for a subscriber even when the pool samples waits', async () => {
    const clock = new FakeClock();
    const l = listen();
    try {
      const pool = createPool({ create: () => ({}), max: 1, clock });
      const first = await pool.acquire();
      const second = track(pool.acquire());
      await clock.advance(40);
      first.release();
      await flush();
      const acquires = l.seen.filter(([n]) => n === 'acquire').map(([, m]) => m.waitedMs);
      assert.deepEqual(acquires, [0, 40]);
      (second.value as { release(): void }).release();
      await pool.close();
    } finally {
      l.stop();
    }
  });

  test('managed pools publish through their core pool, under their name', async () => {
    const l = listen();
    try {
      const pool = createManagedPool(fakeManager().manager, { name: 'kv', max: 1 });
      (await pool.acquire()).release();
      await pool.close();
      assert.ok(l.seen.some(([n, m]) => n === 'acquire' && m.name === 'kv'));
    } finally {
      l.stop();
    }
  });

  test('after unsubscribing nothing is published', async () => {
    const l = listen();
    l.stop();
    const pool = createPool({ create: () => ({}), max: 1, clock: new FakeClock() });
    (await pool.acquire()).release();
    await pool.close();
    assert.deepEqual(l.seen, []);
  });
});
