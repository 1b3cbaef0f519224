// Shared helpers for the benchmarks: every peer is measured in the same process,
// in alternating rounds, and the median round is reported.

export interface Case {
  name: string;
  /** Runs `n` operations; resolves when they are all done. */
  run: (n: number) => Promise<void> | void;
}

export interface Result {
  name: string;
  opsPerSec: number;
}

/** Measures each case in `rounds` alternating rounds of about `roundMs`; returns the median rate. */
export async function compare(
  cases: Case[],
  opts: { rounds?: number; roundMs?: number } = {},
): Promise<Result[]> {
  const rounds = opts.rounds ?? 5;
  const roundMs = opts.roundMs ?? 400;
  const sizes = new Map<string, number>();
  // Warm up and size each case so that one round lasts about roundMs.
  for (const c of cases) {
    let n = 1_000;
    for (;;) {
      const t0 = performance.now();
      await c.run(n);
      const dt = performance.now() - t0;
      if (dt > roundMs / 4) {
        sizes.set(c.name, Math.max(1, Math.round((n * roundMs) / dt)));
        break;
      }
      n *= 4;
    }
  }
  const rates = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      const n = sizes.get(c.name)!;
      const t0 = performance.now();
      await c.run(n);
      const dt = performance.now() - t0;
      rates.get(c.name)!.push((n / dt) * 1000);
    }
  }
  return cases.map((c) => {
    const sorted = rates.get(c.name)!.sort((a, b) => a - b);
    return { name: c.name, opsPerSec: sorted[Math.floor(sorted.length / 2)]! };
  });
}

/** Formats a rate: 1234567 → "1.23M". */
export function rate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

/** Prints a Markdown table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const lines = [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
  const text = lines.join('\n');
  console.log(text);
  return text;
}

/** p-th percentile (0..100) of a sample. */
export function percentile(sample: number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
