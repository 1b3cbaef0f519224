// 10,000 GETs at concurrency 50 against one local keep-alive server answering a small
// body, each client library in its own process (so none shares a JIT, heap or event loop
// with another): weir (`pool.request` and as an undici Dispatcher), undici `Pool`, Node's
// `http.Agent` and agentkeepalive; then HTTP/2 (h2c) with 50 concurrent streams against a
// node:http2 server, weir against one node:http2 client session. Also: weir's reuse rate,
// p99 acquire wait and the memory of 100 idle pooled connections.
//
// The HTTP/1.1 clients run in PASSES interleaved passes (undici, weir, …, undici, weir, …)
// and each client's median pass is reported, so that load from elsewhere on the machine
// spreads over all of them instead of landing on one. Each client also reports its own
// CPU time per request, which such load disturbs less than requests per second.
//
//   node --import tsx bench/http.ts            (all)
//   node --import tsx bench/http.ts h2         (the HTTP/2 section alone)
//   node --import tsx bench/http.ts client X URL   (one client; used by the above)
import { spawn } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { rate, table } from './lib.js';

const N = 10_000;
const CONCURRENCY = 50;
const ROUNDS = 3;
const PASSES = 3;
const self = fileURLToPath(import.meta.url);
const BODY = 'hello world, this is a small body\n';

/** Runs `n` requests with `concurrency` workers; returns requests per second. */
async function drive(one: () => Promise<void>, n: number): Promise<number> {
  let left = n;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (left-- > 0) await one();
    }),
  );
  return (n / (performance.now() - t0)) * 1000;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function nodeGet(agent: http.Agent, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.on('data', () => {});
        res.on('end', resolve);
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function client(kind: string, url: string): Promise<void> {
  const extra: Record<string, number> = {};
  let one: () => Promise<void>;
  let after = async (): Promise<void> => {};
  if (kind === 'weir-memory') {
    await memory(url);
    return;
  }
  if (kind.startsWith('weir')) {
    const { createHttpPool } = await import('weir/http');
    const h2 = kind === 'weir-h2';
    const pool = createHttpPool({ connections: CONCURRENCY, h2c: h2 });
    if (kind === 'weir-dispatcher') {
      const origin = new URL(url).origin;
      one = async () => {
        const r = await pool.request({ origin, path: '/', method: 'GET' });
        await r.body.text();
      };
    } else {
      one = async () => {
        const r = await pool.request(url);
        await r.body.text();
      };
    }
    after = async () => {
      const st = pool.stats();
      extra.reuse = st.reuseRate;
      extra.opened = st.opened;
      extra.p99AcquireMs = st.origins[0]!.pool.waitMs.p99;
      await pool.close();
    };
  } else if (kind === 'undici-pool') {
    const { Pool } = await import('undici');
    const origin = new URL(url).origin;
    const pool = new Pool(origin, { connections: CONCURRENCY });
    one = async () => {
      const r = await pool.request({ path: '/', method: 'GET' });
      await r.body.text();
    };
    after = () => pool.close();
  } else if (kind === 'http-agent') {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    one = () => nodeGet(agent, url);
    after = async () => agent.destroy();
  } else if (kind === 'agentkeepalive') {
    const { default: Agent } = await import('agentkeepalive');
    const agent = new Agent({ maxSockets: CONCURRENCY });
    one = () => nodeGet(agent, url);
    after = async () => agent.destroy();
  } else if (kind === 'undici-h2') {
    // undici's own HTTP/2 client, one session by prior knowledge, as many streams at once
    // as the benchmark runs.
    const { Client } = await import('undici');
    // `useH2c` is in undici 7's Client, not yet in its type definitions.
    const c = new Client(new URL(url).origin, {
      allowH2: true,
      useH2c: true,
      pipelining: CONCURRENCY,
      maxConcurrentStreams: 100,
    } as ConstructorParameters<typeof Client>[1]);
    one = async () => {
      const r = await c.request({ path: '/', method: 'GET' });
      await r.body.text();
    };
    after = () => c.close();
  } else if (kind === 'node-http2') {
    const session = http2.connect(url);
    one = () =>
      new Promise<void>((resolve, reject) => {
        const req = session.request({ ':path': '/' });
        req.on('data', () => {});
        req.on('end', resolve);
        req.on('error', reject);
        req.end();
      });
    after = async () => {
      session.close();
    };
  } else {
    throw new Error(`unknown client ${kind}`);
  }
  await drive(one, 1_000); // warm-up: connections open, JIT warms
  const rates: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = process.cpuUsage();
    rates.push(await drive(one, N));
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / N);
  }
  await after();
  console.log(JSON.stringify({ rps: median(rates), cpuUs: median(cpu), ...extra }));
}

/** Memory held by 100 idle pooled connections: heap + external, after GC, minus the baseline. */
async function memory(url: string): Promise<void> {
  const { createHttpPool } = await import('weir/http');
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  const pool = createHttpPool({ connections: 100, idleTimeoutMs: 600_000 });
  // One connection first, so that code, JIT and the pool's structures are in the baseline.
  await (await pool.request(url)).body.text();
  const used = (): number => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.external + m.arrayBuffers;
  };
  const before = used();
  // 99 more at once: every request needs its own connection.
  await Promise.all(Array.from({ length: 99 }, () => pool.request(url).then((r) => r.body.text())));
  const st = pool.stats();
  const delta = used() - before;
  console.log(
    JSON.stringify({
      connections: st.connections,
      idle: st.idle,
      bytes: (delta * 100) / (st.connections - 1),
    }),
  );
  await pool.close();
}

function runClient(kind: string, url: string): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', self, 'client', kind, url],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`client ${kind} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>);
    });
  });
}

/** The servers run in their own process too, so clients are measured against the same one. */
async function server(): Promise<void> {
  const h1 = http.createServer({ keepAlive: true }, (_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(BODY);
  });
  h1.keepAliveTimeout = 60_000;
  h1.maxRequestsPerSocket = 0;
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: 1000 } }, (_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(BODY);
  });
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  console.log(
    JSON.stringify({
      h1: (h1.address() as AddressInfo).port,
      h2: (h2.address() as AddressInfo).port,
    }),
  );
}

const H2_KINDS = ['weir-h2', 'undici-h2', 'node-http2'];
const H2_NAMES: Record<string, string> = {
  'weir-h2': 'weir (h2c)',
  'undici-h2': 'undici Client (allowH2, useH2c)',
  'node-http2': 'node:http2, one session',
};

/**
 * HTTP/2: each client in PASSES interleaved passes; each pass's ratio to the node:http2
 * session of the same pass, then the median and the range of those ratios, so that load
 * from elsewhere lands on every client of a pass alike.
 */
async function http2Section(url: string): Promise<void> {
  const passes = new Map<string, Record<string, number>[]>(H2_KINDS.map((k) => [k, []]));
  for (let p = 0; p < PASSES; p++) {
    for (const k of H2_KINDS) passes.get(k)!.push(await runClient(k, url));
  }
  const bare = passes.get('node-http2')!;
  console.log(
    `\nHTTP/2 (h2c), ${N} GETs with ${CONCURRENCY} concurrent streams, median of ${ROUNDS} rounds, ${PASSES} interleaved passes\n`,
  );
  table(
    [
      'client',
      'req/s (median pass)',
      'req/s (each pass)',
      'x node:http2 (median)',
      'x node:http2 (each pass)',
      'client CPU µs/req',
      'sessions',
    ],
    H2_KINDS.map((k) => {
      const runs = passes.get(k)!;
      const ratios = runs.map((r, i) => r.rps! / bare[i]!.rps!);
      return [
        H2_NAMES[k]!,
        rate(median(runs.map((r) => r.rps!))),
        runs.map((r) => rate(r.rps!)).join(' / '),
        median(ratios).toFixed(2),
        ratios.map((x) => x.toFixed(2)).join(' / '),
        median(runs.map((r) => r.cpuUs!)).toFixed(1),
        k === 'weir-h2' ? String(runs[0]!.opened) : '1',
      ];
    }),
  );
}

async function main(): Promise<void> {
  const srv = spawn(process.execPath, ['--import', 'tsx', self, 'server'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ports = await new Promise<{ h1: number; h2: number }>((resolve) => {
    srv.stdout.once('data', (c: Buffer) => resolve(JSON.parse(c.toString())));
  });
  const h1 = `http://127.0.0.1:${ports.h1}/`;
  const h2 = `http://127.0.0.1:${ports.h2}/`;
  try {
    if (only === 'h2') {
      await http2Section(h2);
      return;
    }
    const kinds = ['undici-pool', 'weir', 'weir-dispatcher', 'http-agent', 'agentkeepalive'];
    const passes = new Map<string, Record<string, number>[]>(kinds.map((k) => [k, []]));
    for (let p = 0; p < PASSES; p++) {
      for (const k of kinds) passes.get(k)!.push(await runClient(k, h1));
    }
    // Each client's median pass by requests per second, and its median CPU per request.
    const results = new Map<string, Record<string, number>>();
    for (const [k, runs] of passes) {
      const rps = median(runs.map((r) => r.rps!));
      const mid = runs.find((r) => r.rps === rps)!;
      results.set(k, { ...mid, cpuUs: median(runs.map((r) => r.cpuUs!)) });
    }
    const undici = results.get('undici-pool')!.rps!;
    const agent = results.get('http-agent')!.rps!;
    const names: Record<string, string> = {
      'undici-pool': 'undici Pool({ connections: 50 })',
      weir: 'weir pool.request',
      'weir-dispatcher': 'weir as Dispatcher (request({ origin, path }))',
      'http-agent': 'http.Agent({ keepAlive, maxSockets: 50 })',
      agentkeepalive: 'agentkeepalive (maxSockets: 50)',
    };
    console.log(
      `\nHTTP/1.1, ${N} GETs at concurrency ${CONCURRENCY}, median of ${ROUNDS} rounds, median of ${PASSES} interleaved passes\n`,
    );
    const undiciCpu = results.get('undici-pool')!.cpuUs!;
    table(
      [
        'client',
        'req/s',
        'x undici Pool',
        'x http.Agent',
        'client CPU µs/req',
        'CPU x undici Pool',
      ],
      kinds.map((k) => {
        const r = results.get(k)!;
        return [
          names[k]!,
          rate(r.rps!),
          (r.rps! / undici).toFixed(2),
          (r.rps! / agent).toFixed(2),
          r.cpuUs!.toFixed(1),
          (r.cpuUs! / undiciCpu).toFixed(2),
        ];
      }),
    );
    const w = results.get('weir')!;
    console.log(
      `\nweir: reuse rate ${(w.reuse! * 100).toFixed(2)}%, connections opened ${w.opened}, p99 acquire wait ${w.p99AcquireMs!.toFixed(3)} ms`,
    );
    await http2Section(h2);
    const mem = await runClient('weir-memory', h1);
    console.log(
      `\nmemory of 100 idle pooled connections (heap + external, after GC): ${(mem.bytes! / 1024 / 1024).toFixed(2)} MB (${mem.idle} idle)`,
    );
  } finally {
    srv.kill();
  }
}

const [mode, kind, url] = process.argv.slice(2);
/** `bench/http.ts h2` runs the HTTP/2 section alone. */
const only = mode;
if (mode === 'server') await server();
else if (mode === 'client') await client(kind!, url!);
else await main();
