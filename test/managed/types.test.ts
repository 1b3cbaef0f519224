// Type tests: checked by `npm run typecheck` (an unused @ts-expect-error fails it). An
// integration whose options extend ManagedPoolOptions, as pg will, cannot be given a
// shared-lease option, whether as a literal or through a variable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createKeyedPool,
  createManagedPool,
  type ManagedPool,
  type ManagedPoolOptions,
  type Manager,
  type SharedManagedPool,
} from '../../src/managed/index.js';

interface Client {
  query(sql: string): Promise<unknown>;
}

/** Shaped like `PgPoolOptions` once pg is built on the managed layer. */
interface ClientPoolOptions extends ManagedPoolOptions {
  connection?: string;
}

declare const manager: Manager<Client>;
declare function createClientPool(options?: ClientPoolOptions): ManagedPool<Client>;

// Never called: only compiled.
export function typeOnly(): void {
  // @ts-expect-error a connection of an exclusive pool never serves two borrowers
  createClientPool({ maxLeasesPerResource: 2 });
  // @ts-expect-error nor through leaseLimit
  createClientPool({ leaseLimit: () => 2 });
  // @ts-expect-error nor by making it shared
  createClientPool({ shared: { maxLeases: 2 } });
  const fromElsewhere = { max: 4, maxLeasesPerResource: 2 };
  // @ts-expect-error not even from a variable, which excess-property checks would let through
  createClientPool(fromElsewhere);
  createClientPool({ max: 4, connectTimeoutMs: 1_000, createTimeoutMs: 1_000, connection: 'x' });

  const exclusive = createManagedPool(manager, { max: 2 });
  // @ts-expect-error only a shared pool has setLeaseLimit
  exclusive.setLeaseLimit;
  const shared: SharedManagedPool<Client> = createManagedPool(manager, {
    shared: { maxLeases: 100, leaseLimit: () => 1 },
  });
  shared.setLeaseLimit;
  // @ts-expect-error the shared variant takes its limits under `shared` only
  createManagedPool(manager, { shared: { maxLeases: 2 }, maxLeasesPerResource: 2 });

  // The connection type is inferred from the manager, and close's parameter typed by it.
  const inferred = createManagedPool({
    connect: async () => ({ id: 1 }),
    close: (c) => {
      const id: number = c.id;
      void id;
    },
  });
  const id: number = inferred.tryAcquire()!.value.id;
  void id;

  class RegionManager implements Manager<Client> {
    readonly region = 'eu';
    connect(): Client {
      return { query: async () => null };
    }
    close(): void {}
  }
  const keyed = createKeyedPool({ pool: (_key: string) => ({ manager: new RegionManager() }) });
  const region: string = keyed.get('eu').manager.region;
  const client: Client | undefined = keyed.tryAcquire('eu')?.value;
  void region;
  void client;
}

test('the type tests compile (see npm run typecheck)', () => {
  assert.equal(typeof typeOnly, 'function');
});
