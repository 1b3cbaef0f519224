// A balanced pool against undici's `BalancedPool` on the same four local upstreams, one of
// which answers SLOW ms late (the others at once): GETs at concurrency 50, each client in
// its own process, in interleaved passes. Reports requests per second and the share of
// requests that went to the slowed endpoint (each response names its endpoint). On this
// loaded machine a child process was seen to end with exit code 13 (a top-level await left
// pending) before its first line ran, while the TypeScript loader loaded the package; such
// a child is started again, at most twice.
//
//   node --import tsx bench/http-balanced.ts                         (all)
//   node --import tsx bench/http-balanced.ts client KIND SLOW URLS   (one client; used by the above)
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { BalancedPool } from 'undici';
import { createBalancedHttpPool } from 'weir/http';
import { rate, table } from './lib.js';

const N = 4_000;
const CONCURRENCY = 50;
const PASSES = 3;
const SLOWS = [5, 20];
const ENDPOINTS = 4;
const self = fileURLToPath(import.meta.url);

/** The upstreams: endpoint 0 is the slowed one; the delay comes with each request's path. */
async function servers(): Promise<void> {
  const urls: string[] = [];
  for (let i = 0; i < ENDPOINTS; i++) {
    const name = `e${i}`;
    const server = http.createServer({ keepAlive: true }, (req, res) => {
      const slow = i === 0 ? Number(req.url?.slice(1) ?? 0) : 0;
      const answer = () => res.end(name);
      if (slow > 0) setTimeout(answer, slow);
      else answer();
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }
  console.log(JSON.stringify(urls));
}

async function drive(one: () => Promise<string>, n: number, hits: Map<string, number>) {
  let left = n;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (left-- > 0) {
        const who = await one();
        hits.set(who, (hits.get(who) ?? 0) + 1);
      }
    }),
  );
  return (n / (performance.now() - t0)) * 1000;
}

async function client(kind: string, slow: number, urls: string[]): Promise<void> {
  const path = `/${slow}`;
  let one: () => Promise<string>;
  let close: () => Promise<void>;
  if (kind.startsWith('weir')) {
    const routing = kind === 'weir-round-robin' ? 'round-robin' : 'peak-ewma';
    // One region: undici's pool has no regions, so both choose among the same four.
    const pool = createBalancedHttpPool({
      upstreams: { local: urls },
      routing,
      connections: CONCURRENCY,
    });
    one = async () => (await pool.request(path)).body.text();
    close = () => pool.close();
  } else {
    const pool = new BalancedPool(urls, { connections: CONCURRENCY });
    one = async () => (await pool.request({ path, method: 'GET' })).body.text();
    close = () => pool.close();
  }
  const warm = new Map<string, number>();
  await drive(one, 500, warm);
  const hits = new Map<string, number>();
  const rps = await drive(one, N, hits);
  await close();
  console.log(JSON.stringify({ rps, slowShare: (hits.get('e0') ?? 0) / N }));
}

async function runChild(args: string[]): Promise<{ rps: number; slowShare: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runOnce(args);
    } catch (error) {
      // Exit code 13 before the client's first line ran: the loader stalled (see above).
      if ((error as { exitCode?: number }).exitCode !== 13 || attempt === 3) throw error;
      console.error(`(${args[1]} stalled while loading; started again)`);
    }
  }
}

function runOnce(args: string[]): Promise<{ rps: number; slowShare: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', self, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) => {
      if (code !== 0) {
        reject(
          Object.assign(new Error(`client ${args[1]} exited with ${code}`), { exitCode: code }),
        );
      } else resolve(JSON.parse(out.trim().split('\n').at(-1)!));
    });
  });
}

async function main(): Promise<void> {
  const srv = spawn(process.execPath, ['--import', 'tsx', self, 'servers'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const urls = await new Promise<string[]>((resolve) => {
    let out = '';
    srv.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out.trim()));
    });
  });
  const kinds = ['weir-peak-ewma', 'weir-round-robin', 'undici-balanced'];
  try {
    for (const slow of SLOWS) {
      const results = new Map<string, { rps: number; slowShare: number }[]>(
        kinds.map((k) => [k, []]),
      );
      for (let p = 0; p < PASSES; p++) {
        for (const kind of kinds) {
          results.get(kind)!.push(await runChild(['client', kind, String(slow), urls.join(',')]));
        }
      }
      console.log(
        `\n${ENDPOINTS} upstreams, one answering ${slow} ms late; ${N} GETs at concurrency ${CONCURRENCY}, ${PASSES} passes (median, range)\n`,
      );
      const rows = kinds.map((kind) => {
        const rs = results.get(kind)!;
        const rps = rs.map((r) => r.rps).sort((a, b) => a - b);
        const share = rs.map((r) => r.slowShare).sort((a, b) => a - b);
        const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
        return [
          kind,
          `${rate(rps[Math.floor(rps.length / 2)]!)}/s (${rate(rps[0]!)}–${rate(rps.at(-1)!)})`,
          `${pct(share[Math.floor(share.length / 2)]!)} (${pct(share[0]!)}–${pct(share.at(-1)!)})`,
        ];
      });
      table(['client', 'requests/s', 'share to the slowed endpoint'], rows);
    }
  } finally {
    srv.kill();
  }
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'servers') await servers();
else if (mode === 'client') await client(rest[0]!, Number(rest[1]), rest[2]!.split(','));
else await main();
