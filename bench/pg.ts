// Queries per second and p99 latency through weir's PostgreSQL pool and through
// node-postgres's own pool (pg.Pool), both with 10 connections, at 1, 10 and 100
// concurrent callers, against the local server. Skips with a message if it is down.
import pg from 'pg';
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
const peers: { name: string; query: Query }[] = [
  { name: 'weir', query: (t, v) => weir.query(t, v) },
  { name: 'pg.Pool', query: (t, v) => pgPool.query(t, v) },
];

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
const rows: string[][] = [];
for (const w of workloads) {
  for (const c of [1, 10, 100]) {
    const results = new Map<string, { qps: number[]; p99: number[] }>();
    for (const p of peers) {
      results.set(p.name, { qps: [], p99: [] });
      await round(p.query, w, c, 300); // warm-up
    }
    for (let r = 0; r < 5; r++) {
      for (const p of r % 2 === 0 ? peers : [...peers].reverse()) {
        const res = await round(p.query, w, c, 1000);
        results.get(p.name)!.qps.push(res.qps);
        results.get(p.name)!.p99.push(res.p99);
      }
    }
    const weirQps = med(results.get('weir')!.qps);
    for (const [name, r] of results) {
      rows.push([
        w.name,
        String(c),
        name,
        `${rate(med(r.qps))}/s`,
        `${med(r.p99).toFixed(2)} ms`,
        name === 'weir' ? '1.00' : (weirQps / med(r.qps)).toFixed(2),
      ]);
    }
  }
}
console.log(
  'queries per second and p99 latency, pool of 10 connections (median of 5 one-second rounds)\n',
);
table(['query', 'callers', 'pool', 'rate', 'p99', 'weir/x'], rows);

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
await admin.end();
