import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { createPool, type Lease } from '../../src/pool/index.js';
import { factory, type Res, track } from '../helpers/resources.js';

type Cmd =
  | { kind: 'acquire'; timeoutMs: number; abortAfter: number | null; priority: number }
  | { kind: 'release'; pick: number }
  | { kind: 'destroy'; pick: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'resize'; max: number }
  | { kind: 'flaky'; failing: boolean };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({
    kind: fc.constant('acquire' as const),
    timeoutMs: fc.integer({ min: 1, max: 500 }),
    abortAfter: fc.option(fc.integer({ min: 0, max: 300 })),
    priority: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('destroy' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 400 }) }),
  fc.record({ kind: fc.constant('resize' as const), max: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('flaky' as const), failing: fc.boolean() }),
);

test('random acquire/release/destroy/abort/timeout/resize sequences keep the pool consistent', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(cmd, { minLength: 1, maxLength: 60 }),
      fc.integer({ min: 1, max: 3 }),
      fc.boolean(),
      async (cmds, perResource, withMin) => {
        const clock = new FakeClock();
        let failing = false;
        const f = factory({ failWith: () => (failing ? new Error('flaky') : undefined) });
        const pool = createPool<Res>({
          create: f.create,
          destroy: f.destroy,
          min: withMin ? 1 : 0,
          max: 3,
          maxLeasesPerResource: perResource,
          createRetry: { initialDelayMs: 5, maxDelayMs: 50 },
          breaker: { threshold: 3, halfOpenAfterMs: 200 },
          idleTimeoutMs: 300,
          maxLifetimeMs: 1000,
          clock,
        });
        const held: Lease<Res>[] = [];
        const pending: ReturnType<typeof track<Lease<Res>>>[] = [];
        const shares = new Map<Res, number>();
        let max = 3;

        const collect = (): void => {
          for (let i = pending.length - 1; i >= 0; i--) {
            const p = pending[i]!;
            if (!p.done) continue;
            pending.splice(i, 1);
            if (p.value !== undefined) {
              held.push(p.value);
              shares.set(p.value.value, (shares.get(p.value.value) ?? 0) + 1);
            }
          }
        };
        const check = (sizeBefore: number): void => {
          const s = pool.stats();
          assert.ok(s.size <= Math.max(max, sizeBefore), `size ${s.size} grew above max ${max}`);
          assert.equal(s.leased, held.length, 'leases counted by the pool match the leases out');
          for (const [res, n] of shares) {
            assert.ok(n <= perResource, `resource ${res.id} leased ${n} times at once`);
            assert.equal(
              res.destroyed,
              0,
              'a leased resource is never destroyed under its borrower',
            );
          }
          assert.equal(s.idle + s.active + s.creating, s.size);
        };

        for (const c of cmds) {
          const sizeBefore = pool.stats().size;
          switch (c.kind) {
            case 'acquire': {
              const ac = new AbortController();
              if (c.abortAfter !== null)
                clock.setTimeout(() => ac.abort(new Error('abort')), c.abortAfter);
              pending.push(
                track(
                  pool.acquire({ timeoutMs: c.timeoutMs, signal: ac.signal, priority: c.priority }),
                ),
              );
              break;
            }
            case 'release':
            case 'destroy': {
              if (held.length === 0) break;
              const lease = held.splice(c.pick % held.length, 1)[0]!;
              const n = shares.get(lease.value)! - 1;
              if (n === 0) shares.delete(lease.value);
              else shares.set(lease.value, n);
              if (c.kind === 'release') lease.release();
              else lease.destroy();
              break;
            }
            case 'advance':
              await clock.advance(c.ms);
              break;
            case 'resize':
              max = c.max;
              pool.resize({ max: c.max, min: Math.min(withMin ? 1 : 0, c.max) });
              break;
            case 'flaky':
              failing = c.failing;
              break;
          }
          await flush(1);
          collect();
          check(sizeBefore);
        }

        // No waiter waits forever: every acquire settles within its timeout.
        await clock.advance(600);
        collect();
        assert.equal(pending.length, 0, 'a waiter outlived its timeout');

        await pool.close();
        await flush();
        for (const lease of held) lease.release();
        for (const r of f.all)
          assert.equal(r.destroyed, 1, `resource ${r.id} destroyed ${r.destroyed} times`);
        // The test's own abort timers all fired during the final advance.
        assert.equal(clock.pendingTimers, 0, 'the pool left a timer behind');
      },
    ),
    { numRuns: 300 },
  );
});
