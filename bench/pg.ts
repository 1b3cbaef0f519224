// Queries per second and p99 latency through weir's PostgreSQL pool, node-postgres's own
// pool (pg.Pool) and postgres.js 3, each with 10 connections, at 1, 10 and 100 concurrent
// callers, against the local server. Skips with a message if it is down.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import postgres from 'postgres';
import { createPgPool } from 'weir/pg';
import { percentile, rate, table } from './lib.js';

const url = process.env.WEIR_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Client({ connectionString: url });
try {
  await admin.connect();
} catch (error) {
  console.log(`bench/pg: PostgreSQL is not reachable at ${url} (${String(error)}); skipped`);
  process.exit(0);
}
await admin.query('CREATE TABLE IF NOT EXISTS weir_bench_kv (id int PRIMARY KEY, v text)');
await admin.query(
  'INSERT INTO weir_bench_kv SELECT g, md5(g::text) FROM generate_series(1, 10000) g ON CONFLICT DO NOTHING',
);

type Query = (text: string, values?: unknown[]) => Promise<unknown>;
const weir = createPgPool({ connection: url, min: 10, max: 10 });
const pgPool = new pg.Pool({ connectionString: url, min: 10, max: 10 });
// postgres.js prepares every statement by default (what its tagged template does);
// `unsafe` with `prepare: true` sends the same messages for a text given as a string.
// Its connections open lazily: the warm-up round of each workload opens all 10.
const sql = postgres(url, { max: 10, onnotice: () => {} });
const peers: { name: string; query: Query }[] = [
  { name: 'weir', query: (t, v) => weir.query(t, v) },
  { name: 'pg.Pool', query: (t, v) => pgPool.query(t, v) },
  {
    name: 'postgres.js',
    query: (t, v) =>
      sql.unsafe(t, (v ?? []) as postgres.ParameterOrJSON<never>[], { prepare: true }),
  },
];
// WEIR_PG_BASE=<another build's dist> adds that build's pool as a peer, for before/after
// figures measured in the same rounds.
let base: { close(): Promise<void> } | undefined;
if (process.env.WEIR_PG_BASE !== undefined) {
  const entry = pathToFileURL(resolve(process.env.WEIR_PG_BASE, 'pg/index.js')).href;
  const { createPgPool: createBase } = (await import(entry)) as typeof import('weir/pg');
  const pool = createBase({ connection: url, min: 10, max: 10 });
  base = pool;
  peers.push({ name: 'weir (base)', query: (t, v) => pool.query(t, v) });
}

const workloads: { name: string; text: string; values: () => unknown[] | undefined }[] = [
  { name: 'SELECT 1', text: 'SELECT 1', values: () => undefined },
  {
    name: 'indexed lookup',
    text: 'SELECT v FROM weir_bench_kv WHERE id = $1',
    values: () => [1 + Math.floor(Math.random() * 10000)],
  },
];

async function round(query: Query, w: (typeof workloads)[number], concurrency: number, ms: number) {
  const latencies: number[] = [];
  const end = performance.now() + ms;
  let n = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await query(w.text, w.values());
      latencies.push(performance.now() - t0);
      n++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { qps: (n / (performance.now() - t0)) * 1000, p99: percentile(latencies, 99) };
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// WEIR_PG_ROUNDS one-second rounds per case (5 by default; more on a shared machine), and
// WEIR_PG_ONLY=lookup to measure only the indexed lookup.
const rounds = Number(process.env.WEIR_PG_ROUNDS ?? 5);
const only = process.env.WEIR_PG_ONLY;
const rows: string[][] = [];
for (const w of workloads) {
  if (only !== undefined && !w.name.includes(only)) continue;
  for (const c of [1, 10, 100]) {
    const results = new Map<string, { qps: number[]; p99: number[] }>();
    for (const p of peers) {
      results.set(p.name, { qps: [], p99: [] });
      await round(p.query, w, c, 300); // warm-up
    }
    // Peers take turns, the order reversed every other round, so that a slow patch of the
    // machine falls on all of them; each round's weir/x is taken within that round.
    for (let r = 0; r < rounds; r++) {
      for (const p of r % 2 === 0 ? peers : [...peers].reverse()) {
        const res = await round(p.query, w, c, 1000);
        results.get(p.name)!.qps.push(res.qps);
        results.get(p.name)!.p99.push(res.p99);
      }
    }
    const weirQps = results.get('weir')!.qps;
    for (const [name, r] of results) {
      const ratios = weirQps.map((q, i) => q / r.qps[i]!);
      rows.push([
        w.name,
        String(c),
        name,
        `${rate(med(r.qps))}/s`,
        `${med(r.p99).toFixed(2)} ms`,
        name === 'weir' ? '1.00' : med(ratios).toFixed(2),
        name === 'weir'
          ? ''
          : `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`,
      ]);
    }
  }
}
console.log(
  `queries per second and p99 latency, pool of 10 connections (median of ${rounds} one-second rounds; weir/x is the median of the rounds' ratios, and their range)\n`,
);
table(['query', 'callers', 'pool', 'rate', 'p99', 'weir/x', 'range'], rows);

// What each pool costs on its own: borrowing and returning a connected client with no
// query, 10 callers. This is the part of a query's time a pool can change.
const borrow: { name: string; once: () => Promise<void> }[] = [
  {
    name: 'weir',
    once: async () => {
      const lease = await weir.connect();
      lease.release();
    },
  },
  {
    name: 'pg.Pool',
    once: async () => {
      const client = await pgPool.connect();
      client.release();
    },
  },
];
const borrowRates = new Map<string, number[]>();
for (let r = 0; r < 5; r++) {
  for (const b of r % 2 === 0 ? borrow : [...borrow].reverse()) {
    const end = performance.now() + 500;
    let n = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (performance.now() < end) {
          for (let i = 0; i < 100; i++) await b.once();
          n += 100;
        }
      }),
    );
    const list = borrowRates.get(b.name) ?? [];
    list.push((n / (performance.now() - t0)) * 1000);
    borrowRates.set(b.name, list);
  }
}
const medRate = (name: string) => med(borrowRates.get(name)!);
console.log('\nborrow and return a connection, no query, 10 callers (median of 5 rounds)\n');
table(
  ['pool', 'rate', 'cost per borrow', 'weir/x'],
  borrow.map((b) => [
    b.name,
    `${rate(medRate(b.name))}/s`,
    `${(1e6 / medRate(b.name)).toFixed(2)} µs`,
    (medRate('weir') / medRate(b.name)).toFixed(2),
  ]),
);
await weir.close();
await pgPool.end();
await sql.end();
await base?.close();
await admin.end();
