// What rejecting invalid UTF-8 costs parseJsonArray and parseNdjson: the same body parsed
// with `invalidUtf8: 'error'` (the default: the native validator over each chunk) and
// `'replace'` (no check, the parser as it was), in alternating rounds in one process. Each
// round is timed in CPU time of this process (less disturbed than wall time by other
// processes on a shared machine), and the fastest round of each mode is reported, since
// interference only ever slows a round down. Bounded: ROUNDS rounds of one body each.
//   npm run build --silent && TSX_TSCONFIG_PATH=tsconfig.build.json node --import tsx bench/faults/json-parse-utf8.ts
import { parseJsonArray, parseNdjson } from 'weir/json';

const N = 200_000;
const ROUNDS = 15;
const CHUNK = 64 * 1024;

const row = (i: number, s: string) => ({
  id: i,
  name: `user-${i}${s}`,
  email: `user${i}@example.com`,
  active: i % 2 === 0,
  score: i / 7,
  tags: ['a', 'b'],
});

function chunks(text: string): Buffer[] {
  const bytes = Buffer.from(text);
  const out: Buffer[] = [];
  for (let o = 0; o < bytes.length; o += CHUNK) out.push(bytes.subarray(o, o + CHUNK));
  return out;
}

const bodies = {
  ascii: Array.from({ length: N }, (_, i) => row(i, '')),
  'non-ASCII': Array.from({ length: N }, (_, i) => row(i, ' é✓')),
};
const best = (xs: number[]) => Math.max(...xs);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

for (const [name, rows] of Object.entries(bodies)) {
  for (const [format, body, parse] of [
    ['array', chunks(JSON.stringify(rows)), parseJsonArray],
    ['ndjson', chunks(`${rows.map((r) => JSON.stringify(r)).join('\n')}\n`), parseNdjson],
  ] as const) {
    const rates: Record<'error' | 'replace', number[]> = { error: [], replace: [] };
    for (let r = 0; r < ROUNDS + 1; r++) {
      for (const mode of r % 2 === 0
        ? (['error', 'replace'] as const)
        : (['replace', 'error'] as const)) {
        const t0 = cpuMs();
        const n = await parse(body, { invalidUtf8: mode }).reduce((k) => k + 1, 0);
        const dt = cpuMs() - t0;
        if (n !== N) throw new Error(`parsed ${n} items, not ${N}`);
        if (r > 0) rates[mode].push((N / dt) * 1000); // round 0 warms up
      }
    }
    const e = best(rates.error);
    const p = best(rates.replace);
    console.log(
      `${format.padEnd(6)} ${name.padEnd(9)} error ${(e / 1e3).toFixed(0)}k items/s, replace ${(p / 1e3).toFixed(0)}k items/s: check costs ${(((p - e) / p) * 100).toFixed(1)}%`,
    );
  }
}
