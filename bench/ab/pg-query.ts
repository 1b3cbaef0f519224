// bench/pg.ts's indexed lookup, one client at a time, against any build of weir, for
// before/after runs and for the client-side cost of one query:
// `node --import tsx bench/ab/pg-query.ts <dist> <case> [n] [callers] [rounds]` prints each
// round's rate and the process's CPU time per query. Under `valgrind --tool=callgrind node --single-threaded ...` with rounds 1
// and two values of `n`, the difference of the two instruction totals divided by the
// difference of `n` is what the Node process spends on one query (the server's work is in
// its own process and not counted). Cases: weir (createPgPool, 10 connections), pg.Pool
// (10 connections), postgres.js (10 connections, prepared), client (one bare pg.Client
// running the text as a named statement: the floor of any pool on node-postgres), and
// client-unnamed (the same, parsed every time). `client*` ignore `callers`.
// Needs the table of bench/pg.ts (run that once first).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import postgres from 'postgres';

const [dist = 'dist', which = 'weir', nArg = '20000', cArg = '1', roundsArg = '1'] =
  process.argv.slice(2);
const url = process.env.WEIR_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const text = 'SELECT v FROM weir_bench_kv WHERE id = $1';
const n = Number(nArg);
const callers = Number(cArg);
const rounds = Number(roundsArg);

type Query = (values: unknown[]) => Promise<unknown>;
let query: Query;
let close: () => Promise<void>;
if (which === 'weir') {
  const { createPgPool } = (await import(pathToFileURL(resolve(dist, 'pg/index.js')).href)) as {
    createPgPool(o: object): {
      query(t: string, v?: unknown[]): Promise<unknown>;
      close(): Promise<void>;
    };
  };
  const db = createPgPool({ connection: url, min: 10, max: 10 });
  query = (v) => db.query(text, v);
  close = () => db.close();
} else if (which === 'pg.Pool') {
  const pool = new pg.Pool({ connectionString: url, min: 10, max: 10 });
  query = (v) => pool.query(text, v);
  close = () => pool.end();
} else if (which === 'postgres.js') {
  const sql = postgres(url, { max: 10, onnotice: () => {} });
  query = (v) => sql.unsafe(text, v as postgres.ParameterOrJSON<never>[], { prepare: true });
  close = () => sql.end();
} else if (which === 'client' || which === 'client-unnamed') {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  query =
    which === 'client'
      ? (v) => client.query({ name: 'lookup', text, values: v })
      : (v) => client.query(text, v);
  close = () => client.end();
} else {
  throw new Error(`unknown case ${which}`);
}

let id = 0;
async function run(count: number, c: number): Promise<void> {
  let left = count;
  const worker = async (): Promise<void> => {
    while (left-- > 0) await query([1 + (id++ % 10000)]);
  };
  await Promise.all(Array.from({ length: c }, worker));
}

// Warm-up: opens every connection, prepares the statement on each, and lets the JIT settle.
const serial = which.startsWith('client');
await run(2000, serial ? 1 : Math.max(callers, 10));
for (let r = 0; r < rounds; r++) {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await run(n, serial ? 1 : callers);
  const cpu = process.cpuUsage(cpu0);
  const dt = performance.now() - t0;
  // CPU time of this process (user and system: the socket calls are system time) per
  // query: unlike the rate, it does not count the time spent waiting for the server or
  // for a core, so it moves less with other load on the machine.
  const us = (x: number) => (x / n).toFixed(1);
  console.log(
    `${which} c=${callers} ${((n / dt) * 1000).toFixed(0)}/s cpu ${us(cpu.user + cpu.system)} µs/query (user ${us(cpu.user)}, system ${us(cpu.system)})`,
  );
}
await close();
