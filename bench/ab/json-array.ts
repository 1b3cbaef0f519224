// bench/json.ts's weir row against any builds of weir, for before/after runs of two trees:
//   node --import tsx bench/ab/json-array.ts time <n> <dist>...   alternating rounds in one
//     process (JSON.stringify of the whole array, then each build), median rows/s and the
//     ratio to JSON.stringify
//   node --import tsx bench/ab/json-array.ts rss <n> <dist|stringify>   peak RSS in MiB over
//     a lazily generated source of n rows (run it in a fresh process per figure); `floor`
//     encodes each row and drops it, with no stream at all
//   node --import tsx bench/ab/json-array.ts once <n> <dist|stringify>   one pass over n rows, for
//     `valgrind --tool=callgrind node --single-threaded ...` at two values of n: the
//     difference of the totals over the difference of n is the cost of one row.
// The rows and the discarding response are bench/json.ts's.
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

interface Json {
  jsonArray(rows: Iterable<unknown>): unknown;
  writeTo(res: ServerResponse, body: unknown): Promise<string>;
}

const [mode = 'time', nArg = '1000000', ...dists] = process.argv.slice(2);
const n = Number(nArg);

const row = (i: number) => ({
  id: i,
  name: `user-${i}`,
  email: `user${i}@example.com`,
  active: i % 2 === 0,
  score: i / 7,
  tags: ['a', 'b'],
});

function* lazyRows(count: number) {
  for (let i = 0; i < count; i++) yield row(i);
}

class Discard extends Writable {
  headersSent = false;
  statusCode = 200;
  bytes = 0;
  setHeader() {}
  override _write(chunk: Buffer | string, _enc: string, cb: () => void) {
    this.bytes += chunk.length;
    cb();
  }
}

const load = async (dist: string): Promise<Json> =>
  (await import(pathToFileURL(resolve(dist, 'json/index.js')).href)) as Json;

async function viaWeir(json: Json, rows: Iterable<unknown>): Promise<number> {
  const out = new Discard();
  await json.writeTo(out as unknown as ServerResponse, json.jsonArray(rows));
  return out.bytes;
}

async function viaStringify(rows: Iterable<unknown>): Promise<number> {
  const out = new Discard();
  const all = Array.isArray(rows) ? rows : [...rows];
  out.end(Buffer.from(JSON.stringify(all)));
  await once(out, 'finish');
  return out.bytes;
}

if (mode === 'rss') {
  const which = dists[0]!;
  if (which === 'stringify') await viaStringify(lazyRows(n));
  else if (which === 'floor') {
    // No stream at all: each row encoded and dropped, the least a streamer can allocate.
    let bytes = 0;
    for (const r of lazyRows(n)) bytes += JSON.stringify(r).length;
    if (bytes === 0) throw new Error('nothing encoded');
  } else await viaWeir(await load(which), lazyRows(n));
  console.log((process.resourceUsage().maxRSS / 1024).toFixed(1));
} else if (mode === 'once') {
  const data = Array.from({ length: n }, (_, i) => row(i));
  if (dists[0] === 'stringify') console.log(await viaStringify(data));
  else console.log(await viaWeir(await load(dists[0]!), data));
} else {
  const builds = await Promise.all(dists.map(load));
  const data = Array.from({ length: n }, (_, i) => row(i));
  const bytes = Buffer.byteLength(JSON.stringify(data));
  const names = ['JSON.stringify', ...dists];
  const run = (k: number) => (k === 0 ? viaStringify(data) : viaWeir(builds[k - 1]!, data));
  const rates: number[][] = names.map(() => []);
  for (let k = 0; k < names.length; k++) await run(k); // warm up
  const rounds = Number(process.env.ROUNDS ?? 7);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const t0 = performance.now();
      const out = await run(k);
      const dt = performance.now() - t0;
      if (out !== bytes) throw new Error(`${names[k]} wrote ${out} bytes, not ${bytes}`);
      rates[k]!.push((n / dt) * 1000);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(rates[0]!);
  for (let k = 0; k < names.length; k++) {
    const m = median(rates[k]!);
    const all = rates[k]!.map((x) => (x / 1e6).toFixed(2)).join(' ');
    console.log(
      `${names[k]}: median ${(m / 1e6).toFixed(2)}M rows/s, ${(m / base).toFixed(2)}x stringify [${all}]`,
    );
  }
}
