// 1,000,000 rows of about 100 bytes streamed as one JSON array into a discarding response:
// weir's jsonArray (through writeTo, which gives chunks back to the pool) against
// JSON.stringify of the whole array and the streaming packages people use
// (json-stream-stringify, JSONStream.stringify). Throughput is the median of alternating
// rounds in one process; peak RSS is measured in a fresh process per (library, row count)
// over a lazily generated source, so that only the streamer's own memory is measured.

// @ts-expect-error: JSONStream ships no types
import JSONStream from 'JSONStream';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { JsonStreamStringify } from 'json-stream-stringify';
import { jsonArray, writeTo } from 'weir/json';
import { rate, table } from './lib.js';

const N = 1_000_000;
const ROUNDS = 5;

const row = (i: number) => ({
  id: i,
  name: `user-${i}`,
  email: `user${i}@example.com`,
  active: i % 2 === 0,
  score: i / 7,
  tags: ['a', 'b'],
});

function* lazyRows(n: number) {
  for (let i = 0; i < n; i++) yield row(i);
}

// A response that throws the bytes away, calling back after a tick as a socket would.
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

type Runner = (rows: Iterable<unknown>) => Promise<number>;

const runners: Record<string, Runner> = {
  'weir jsonArray + writeTo': async (rows) => {
    const out = new Discard();
    await writeTo(out as unknown as ServerResponse, jsonArray(rows));
    return out.bytes;
  },
  'JSON.stringify (whole array)': async (rows) => {
    const out = new Discard();
    const all = Array.isArray(rows) ? rows : [...rows];
    out.end(Buffer.from(JSON.stringify(all)));
    await once(out, 'finish');
    return out.bytes;
  },
  'json-stream-stringify': async (rows) => {
    const out = new Discard();
    new JsonStreamStringify(rows).pipe(out);
    await once(out, 'finish');
    return out.bytes;
  },
  'JSONStream.stringify': async (rows) => {
    const out = new Discard();
    Readable.from(rows as Iterable<unknown>)
      .pipe(JSONStream.stringify('[', ',', ']'))
      .pipe(out);
    await once(out, 'finish');
    return out.bytes;
  },
};

async function memoryChild(name: string, n: number): Promise<void> {
  const runner = runners[name]!;
  await runner(lazyRows(n));
  process.stdout.write(`${process.resourceUsage().maxRSS * 1024}\n`);
}

async function main(): Promise<void> {
  const data = Array.from({ length: N }, (_, i) => row(i));
  const bytes = Buffer.byteLength(JSON.stringify(data));
  console.log(`${N} rows, ${(bytes / N).toFixed(0)} bytes per row on average\n`);
  const names = Object.keys(runners);
  const rates = new Map<string, number[]>(names.map((n) => [n, []]));
  for (const name of names) await runners[name]!(data.slice(0, 50_000)); // warm up
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of names) {
      const t0 = performance.now();
      const out = await runners[name]!(data);
      const dt = performance.now() - t0;
      if (Math.abs(out - bytes) > N * 2)
        throw new Error(`${name} wrote ${out} bytes, not ${bytes}`);
      rates.get(name)!.push((N / dt) * 1000);
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const weir = median(rates.get(names[0]!)!);
  const streamingPeers = names.slice(2).map((n) => median(rates.get(n)!));
  const rss = (name: string, n: number): number => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--memory', name, String(n)],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(r.stderr);
    return Number(r.stdout.trim()) / 2 ** 20;
  };
  const rows: (string | number)[][] = [];
  for (const name of names) {
    const own = median(rates.get(name)!);
    const small = rss(name, 100_000);
    const large = rss(name, N);
    rows.push([
      name,
      rate(own),
      name === names[0]
        ? `${(weir / Math.max(...streamingPeers)).toFixed(2)}x fastest streaming peer`
        : (weir / own).toFixed(2),
      `${((own * bytes) / N / 2 ** 20).toFixed(0)}`,
      small.toFixed(0),
      large.toFixed(0),
      (large / small).toFixed(2),
    ]);
  }
  table(
    [
      'library',
      'rows/s',
      'weir ÷ this',
      'MiB/s',
      'peak RSS 100k rows (MiB)',
      'peak RSS 1M rows (MiB)',
      '1M ÷ 100k',
    ],
    rows,
  );
}

if (process.argv[2] === '--memory') await memoryChild(process.argv[3]!, Number(process.argv[4]));
else await main();
