// `npm start`: weir at work, live. A local upstream HTTP service (simulated: its latency,
// its errors and its outages are made up here) is called through a weir/http pool, behind
// a circuit breaker and a rate limiter; the calls run in a weir/stream pipeline whose
// batches cross a bounded channel into a database pool (libSQL on an embedded file, or
// PostgreSQL when WEIR_PG_URL is set); each stored batch is announced on an SSE feed that
// the demo also reads back. The dashboard shows all of it; the console prints a summary.
//
//   npm start                    runs until Ctrl-C
//   npm start -- --duration 10   runs 10 s, prints the summary and exits
//   npm start -- --port 9000     the dashboard's port (default 8377; a free one if taken)
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Channel } from 'weir/channel';
import { createDashboard } from 'weir/dashboard';
import { createHttpPool } from 'weir/http';
import { createLibsqlPool } from 'weir/libsql';
import { CircuitBreaker, isWeirError, RateLimiter } from 'weir/resilience';
import { connectSse, SseHub } from 'weir/sse';
import { stream } from 'weir/stream';

const { values: args } = parseArgs({
  options: { duration: { type: 'string' }, port: { type: 'string' } },
});
const durationSec = args.duration === undefined ? undefined : Number(args.duration);
if (durationSec !== undefined && !(durationSec > 0)) {
  console.error(`--duration takes a number of seconds above 0, got ${args.duration}`);
  process.exit(2);
}
const wantedPort = args.port === undefined ? 8377 : Number(args.port);

// ---- the upstream service (simulated) --------------------------------------------------
// Latency of 5-60 ms with a long tail, 2% errors, and every 30 s a 7 s incident (the first
// at 12 s): slow answers and mostly 503s, long enough for the breaker to open and probe
// its way back.
const started = Date.now();
const incident = (): boolean => {
  const t = (Date.now() - started) % 30_000;
  return t > 12_000 && t < 19_000;
};
const upstream = http.createServer((req, res) => {
  const bad = incident();
  const ms = (5 + Math.random() * 55) * (Math.random() < 0.05 ? 6 : 1) * (bad ? 4 : 1);
  setTimeout(() => {
    if (Math.random() < (bad ? 0.7 : 0.02)) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('simulated failure\n');
      return;
    }
    const id = Number(req.url?.split('/').pop());
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ id, total: Math.round((id % 97) * 3.7 * 100) / 100, ms: Math.round(ms) }),
    );
  }, ms);
});
await listen(upstream, 0);
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

// ---- the client side: pool, breaker, rate limiter -------------------------------------
const httpPool = createHttpPool({ connections: 8, headersTimeoutMs: 2_000 });
const stop = new AbortController();
const breaker = new CircuitBreaker({
  name: 'upstream',
  threshold: 8,
  halfOpenAfterMs: 3_000,
  // Calls cut short by the demo's own shutdown say nothing about the upstream.
  isFailure: () => !stop.signal.aborted,
});
const limiter = new RateLimiter({ name: 'upstream', ratePerSecond: 60, burst: 20 });

interface Order {
  id: number;
  ok: boolean;
  total: number;
  code: string;
}

const counts = { ok: 0, failed: 0, refused: 0, batches: 0, rows: 0, feed: 0 };

async function fetchOrder(id: number, signal: AbortSignal): Promise<Order> {
  try {
    await limiter.acquire(1, { signal });
    return await breaker.execute(async () => {
      const res = await httpPool.request(`${upstreamUrl}/orders/${id}`, { signal });
      if (res.status !== 200) {
        await res.body.dump();
        throw new Error(`upstream answered ${res.status}`);
      }
      const body = await res.body.json<{ total: number }>();
      counts.ok++;
      return { id, ok: true, total: body.total, code: 'ok' };
    });
  } catch (error) {
    if (signal.aborted) throw error;
    const code = isWeirError(error) ? error.code : 'HTTP_503';
    if (code === 'ERR_CIRCUIT_OPEN') counts.refused++;
    else counts.failed++;
    return { id, ok: false, total: 0, code };
  }
}

// ---- the database ----------------------------------------------------------------------
interface Db {
  name: string;
  pool: { stats(): unknown; drain(): Promise<void> };
  insert(rows: Order[]): Promise<void>;
  count(): Promise<number>;
  cleanup(): Promise<void>;
}

async function openDb(): Promise<Db> {
  const pgUrl = process.env.WEIR_PG_URL;
  if (pgUrl !== undefined && pgUrl !== '') {
    const { createPgPool } = await import('weir/pg');
    const pool = createPgPool({ name: 'postgres', connection: pgUrl, max: 4 });
    const table = `weir_demo_orders_${process.pid}`;
    await pool.query(`CREATE TABLE ${table} (id int, ok boolean, total numeric, code text)`);
    return {
      name: `PostgreSQL (${new URL(pgUrl).host})`,
      pool,
      async insert(rows) {
        const values = rows.map(
          (_, i) => `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4})`,
        );
        await pool.query(
          `INSERT INTO ${table} (id, ok, total, code) VALUES ${values.join(', ')}`,
          rows.flatMap((r) => [r.id, r.ok, r.total, r.code]),
        );
      },
      async count() {
        const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
        return Number(rows[0]?.n ?? 0);
      },
      async cleanup() {
        await pool.query(`DROP TABLE IF EXISTS ${table}`);
        await pool.drain();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'weir-demo-'));
  const pool = createLibsqlPool({ name: 'libsql', url: `file:${join(dir, 'demo.db')}` });
  await pool.query('CREATE TABLE orders (id INTEGER, ok INTEGER, total REAL, code TEXT)');
  return {
    name: `libSQL (embedded file in ${dir})`,
    pool,
    async insert(rows) {
      await pool.transaction(async (tx) => {
        for (const r of rows) {
          await tx.query('INSERT INTO orders (id, ok, total, code) VALUES (?, ?, ?, ?)', [
            r.id,
            r.ok ? 1 : 0,
            r.total,
            r.code,
          ]);
        }
      });
    },
    async count() {
      const { rows } = await pool.query('SELECT count(*) AS n FROM orders');
      return Number(rows[0]?.n ?? 0);
    },
    async cleanup() {
      await pool.drain();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
const db = await openDb();

// ---- the pipeline: ids -> map (concurrent calls) -> batch -> channel -> database --------
const batches = new Channel<Order[]>(8);
function* orderIds(): Generator<number> {
  for (let id = 1; !stop.signal.aborted; id++) yield id;
}
const pipeline = stream(orderIds())
  .map((id, _i, signal) => fetchOrder(id, signal), { concurrency: 12, ordered: false })
  .batch(25, { maxWaitMs: 500 })
  .pipeTo(batches, { signal: stop.signal })
  .catch((error: unknown) => {
    if (!stop.signal.aborted) throw error;
    batches.close();
  });

// ---- the SSE feed: every stored batch, announced; and read back by the demo -----------
const hub = new SseHub({ historySize: 100 });
const consumer = (async () => {
  for await (const batch of batches) {
    await db.insert(batch);
    counts.batches++;
    counts.rows += batch.length;
    hub.broadcast({
      event: 'batch',
      data: { rows: batch.length, ok: batch.filter((o) => o.ok).length },
    });
  }
})();

// ---- the dashboard ---------------------------------------------------------------------
const dashboard = createDashboard({
  title: 'weir demo (simulated upstream)',
  pools: { http: httpPool, db: db.pool },
  breakers: { 'upstream (simulated)': breaker },
  limiters: { 'upstream rate': limiter },
  channels: { batches },
});
const site = http.createServer((req, res) => {
  if (req.url === '/feed') hub.add(res, req);
  else dashboard(req, res);
});
const port = await listen(site, wantedPort).catch(async (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EADDRINUSE') throw error;
  console.log(`port ${wantedPort} is taken; using a free one`);
  return listen(site, 0);
});
const feed = connectSse(`http://127.0.0.1:${port}/feed`, { signal: stop.signal, pool: httpPool });
const reader = feed
  .forEach(() => {
    counts.feed++;
  })
  .catch(() => {});

console.log(`weir demo: upstream (simulated) at ${upstreamUrl}, database ${db.name}`);
console.log(`dashboard: http://127.0.0.1:${port}/`);
console.log(durationSec === undefined ? 'Ctrl-C to stop.' : `running for ${durationSec} s.`);

function summary(): string {
  const h = httpPool.stats();
  const sec = ((Date.now() - started) / 1000).toFixed(0).padStart(3);
  return (
    `[${sec} s] upstream (simulated): ${counts.ok} ok, ${counts.failed} failed, ${counts.refused} refused by the breaker (${breaker.state})` +
    ` · http ${h.active}/${h.connections} connections busy, ${h.queued} queued` +
    ` · ${counts.batches} batches, ${counts.rows} rows stored · channel ${batches.length}/${batches.capacity}` +
    ` · feed ${counts.feed} events · dashboard ${dashboard.clients} client(s)`
  );
}
const ticker = setInterval(() => console.log(summary()), 5_000);

let stopping = false;
async function shutdown(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(ticker);
  console.log(`\n${reason}: stopping`);
  stop.abort(new Error(reason));
  await pipeline;
  await consumer;
  await reader;
  const stored = await db.count();
  console.log(summary());
  console.log(`rows in the database: ${stored}`);
  hub.close();
  dashboard.close();
  site.closeAllConnections();
  await new Promise((r) => site.close(r));
  await httpPool.close();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
  await db.cleanup();
}

process.once('SIGINT', () => {
  process.once('SIGINT', () => process.exit(130));
  shutdown('Ctrl-C').then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
if (durationSec !== undefined) {
  setTimeout(() => {
    shutdown(`${durationSec} s are up`).catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
  }, durationSec * 1000);
}

function listen(server: http.Server, p: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
