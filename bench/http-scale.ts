// What a production client needs, measured: TLS handshakes of new connections with and
// without a resumed session, and 10,000 concurrent connections from one pool.
//
// tls: a local HTTPS server (its own process) closes every connection after one response,
// so that each request opens a new connection. weir with `tls.resumeSessions` on and off
// in alternating rounds; the server times each handshake (TCP accept to `secureConnection`)
// and reports whether it resumed; the client times the whole request on a new connection.
//
// scale: a local HTTP server (its own process) holds every response until N requests are
// in, so the pool must hold N connections at once; then answers them all. The client (its
// own process, file limit raised to the hard limit) reports the time, the memory the N
// idle connections hold, and the time to take a free connection from the pool.
//
//   node --expose-gc --import tsx bench/http-scale.ts            (both)
//   node --expose-gc --import tsx bench/http-scale.ts tls|scale [N]
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import selfsigned from 'selfsigned';
import { table } from './lib.js';

const self = fileURLToPath(import.meta.url);
const SCALE_N = 10_000;
const TLS_ROUNDS = 6;
const TLS_PER_ROUND = 50;

function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

const fileLimit = (): { soft: number; hard: number } => {
  const r = spawnSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' });
  const [soft, hard] = r.stdout.trim().split('\n').map(Number);
  return { soft: soft ?? 0, hard: hard ?? 0 };
};

/** Runs this file with `args` in a child whose file limit is raised to the hard limit. */
function child(args: string[], onLine: (line: string) => void): Promise<number> {
  const script = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';
  const p = spawn(
    'sh',
    ['-c', script, 'sh', process.execPath, '--expose-gc', '--import', 'tsx', self, ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let buf = '';
  p.stdout.on('data', (c: Buffer) => {
    buf += c.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  return new Promise((resolve) => p.on('exit', (code) => resolve(code ?? 1)));
}

// ---- TLS --------------------------------------------------------------------------

async function tlsServer(): Promise<void> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
  });
  const accepted = new WeakMap<object, { t: number; cpu: NodeJS.CpuUsage }>();
  const handshakes: { ms: number; cpuMs: number; resumed: boolean }[] = [];
  const server = https.createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    req.resume();
    res.setHeader('connection', 'close');
    res.end('ok');
  });
  // The client opens one connection at a time: the server's CPU between accept and the
  // end of the handshake is that handshake's.
  server.on('connection', (s) =>
    accepted.set(s, { t: performance.now(), cpu: process.cpuUsage() }),
  );
  server.on('secureConnection', (s: TLSSocket) => {
    const a = accepted.get((s as unknown as { _parent?: object })._parent ?? s);
    if (a === undefined) return;
    const c = process.cpuUsage(a.cpu);
    handshakes.push({
      ms: performance.now() - a.t,
      cpuMs: (c.user + c.system) / 1000,
      resumed: s.isSessionReused(),
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const port = (server.address() as AddressInfo).port;
    console.log(JSON.stringify({ port, cert: pems.cert }));
  });
  process.stdin.resume();
  process.on('SIGTERM', () => {
    process.stdout.write(`${JSON.stringify({ handshakes })}\n`, () => process.exit(0));
  });
}

async function tlsClient(port: number, cert: string): Promise<void> {
  const { createHttpPool } = await import('weir/http');
  const url = `https://127.0.0.1:${port}/`;
  const result: Record<string, number[]> = { resumed: [], full: [], rawResumed: [], rawFull: [] };
  const cpu: Record<string, number> = { resumed: 0, full: 0 };
  const stats: Record<string, { handshakes: number; resumed: number }> = {};
  // Node's own tls.connect, with and without the session of the previous one: the floor.
  let session: Buffer | undefined;
  const raw = (resume: boolean): Promise<number> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const s = tlsConnect({
        host: '127.0.0.1',
        port,
        ca: cert,
        servername: 'localhost',
        ...(resume && session !== undefined ? { session } : {}),
      });
      s.on('session', (x: Buffer) => {
        session = x;
      });
      s.once('secureConnect', () => {
        const dt = performance.now() - t0;
        s.end('GET / HTTP/1.1\r\nhost: localhost\r\n\r\n');
        s.resume();
        s.once('close', () => resolve(dt));
      });
      s.once('error', reject);
    });
  for (let round = 0; round < TLS_ROUNDS; round++) {
    for (let i = 0; i < TLS_PER_ROUND; i++) result.rawFull!.push(await raw(false));
    for (let i = 0; i < TLS_PER_ROUND; i++) result.rawResumed!.push(await raw(true));
    for (const kind of round % 2 === 0 ? ['resumed', 'full'] : ['full', 'resumed']) {
      const pool = createHttpPool({ tls: { ca: cert, resumeSessions: kind === 'resumed' } });
      // One request first, so that a session exists (and the code is warm).
      await (await pool.request(url)).body.text();
      const c0 = process.cpuUsage();
      for (let i = 0; i < TLS_PER_ROUND; i++) {
        const t0 = performance.now();
        await (await pool.request(url)).body.text();
        result[kind]!.push(performance.now() - t0);
      }
      const c = process.cpuUsage(c0);
      cpu[kind]! += (c.user + c.system) / 1000 / TLS_PER_ROUND / TLS_ROUNDS;
      const o = pool.stats().origins[0]!;
      const s = (stats[kind] ??= { handshakes: 0, resumed: 0 });
      s.handshakes += o.tlsHandshakes;
      s.resumed += o.tlsResumed;
      await pool.close();
    }
  }
  console.log(JSON.stringify({ result, stats, cpu }));
}

async function tls(): Promise<void> {
  let port = 0;
  let cert = '';
  let handshakes: { ms: number; cpuMs: number; resumed: boolean }[] = [];
  let ready!: () => void;
  const up = new Promise<void>((r) => {
    ready = r;
  });
  const server = spawn(process.execPath, ['--import', 'tsx', self, 'tls-server'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let buf = '';
  server.stdout.on('data', (c: Buffer) => {
    buf += c.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const msg = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      if (msg.port !== undefined) {
        port = msg.port;
        cert = msg.cert;
        ready();
      } else handshakes = msg.handshakes;
    }
  });
  await up;
  let out:
    | {
        result: Record<string, number[]>;
        stats: Record<string, { handshakes: number; resumed: number }>;
        cpu: Record<string, number>;
      }
    | undefined;
  const code = await child(
    ['tls-client', String(port), Buffer.from(cert).toString('base64')],
    (l) => {
      out = JSON.parse(l);
    },
  );
  const exited = new Promise((r) => server.on('exit', r));
  server.kill('SIGTERM');
  await exited;
  if (code !== 0 || out === undefined) throw new Error('tls client failed');
  // The server saw the raw handshakes too; weir's are told apart by the client's counts.
  const resumedHs = handshakes.filter((h) => h.resumed).map((h) => h.ms);
  const fullHs = handshakes.filter((h) => !h.resumed).map((h) => h.ms);
  const cpuOf = (resumed: boolean) => {
    const xs = handshakes.filter((h) => h.resumed === resumed).map((h) => h.cpuMs);
    return xs.length === 0 ? '' : `server ${percentile(xs, 50).toFixed(2)}`;
  };
  const ms = (xs: number[], p: number) => (xs.length === 0 ? '-' : percentile(xs, p).toFixed(2));
  const o = out;
  table(
    [
      'TLS 1.3 on loopback',
      'p50 ms',
      'p99 ms',
      'CPU ms a connection (server: median; client: mean)',
      'resumed',
    ],
    [
      [
        'server-side handshake, resumed (all clients)',
        ms(resumedHs, 50),
        ms(resumedHs, 99),
        cpuOf(true),
        String(resumedHs.length),
      ],
      [
        'server-side handshake, full (all clients)',
        ms(fullHs, 50),
        ms(fullHs, 99),
        cpuOf(false),
        '0',
      ],
      [
        'tls.connect to secureConnect, session given',
        ms(o.result.rawResumed!, 50),
        ms(o.result.rawResumed!, 99),
        '',
        '',
      ],
      [
        'tls.connect to secureConnect, no session',
        ms(o.result.rawFull!, 50),
        ms(o.result.rawFull!, 99),
        '',
        '',
      ],
      [
        'weir request on a new connection, resumed (default)',
        ms(o.result.resumed!, 50),
        ms(o.result.resumed!, 99),
        `client ${o.cpu.resumed!.toFixed(2)}`,
        `${o.stats.resumed!.resumed}/${o.stats.resumed!.handshakes}`,
      ],
      [
        'weir request on a new connection, resumeSessions: false',
        ms(o.result.full!, 50),
        ms(o.result.full!, 99),
        `client ${o.cpu.full!.toFixed(2)}`,
        `${o.stats.full!.resumed}/${o.stats.full!.handshakes}`,
      ],
    ],
  );
}

// ---- 10,000 connections --------------------------------------------------------------

function scaleServer(n: number): void {
  const held: http.ServerResponse[] = [];
  let released = false;
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    req.resume();
    // The first n wait for one another; later requests are answered at once.
    if (released) {
      res.end('ok');
      return;
    }
    held.push(res);
    if (held.length >= n) {
      released = true;
      for (const r of held.splice(0)) r.end('ok');
    }
  });
  server.keepAliveTimeout = 600_000;
  server.headersTimeout = 600_000;
  server.requestTimeout = 0;
  server.listen({ port: 0, host: '127.0.0.1', backlog: 65_535 }, () => {
    console.log(
      JSON.stringify({ port: (server.address() as AddressInfo).port, limit: fileLimit() }),
    );
  });
  setInterval(() => {}, 1 << 30);
}

async function scaleClient(port: number, n: number): Promise<void> {
  const { createHttpPool } = await import('weir/http');
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  const url = `http://127.0.0.1:${port}/`;
  const pool = createHttpPool({
    connections: n,
    maxWaiting: n,
    idleTimeoutMs: 600_000,
    acquireTimeoutMs: 120_000,
    connectTimeoutMs: 60_000,
  });
  const used = (): { heap: number; rss: number } => {
    gc();
    gc();
    const m = process.memoryUsage();
    return { heap: m.heapUsed + m.external + m.arrayBuffers, rss: m.rss };
  };
  // The first round trip on its own (it completes the server's barrier of 1 only if n is 1):
  // the baseline holds the code, the JIT and the pool's structures, and no connection.
  const before = used();
  const t0 = performance.now();
  const answers = await Promise.allSettled(
    Array.from({ length: n }, () => pool.request(url).then((r) => r.body.text())),
  );
  const ms = performance.now() - t0;
  const ok = answers.filter((a) => a.status === 'fulfilled' && a.value === 'ok').length;
  const failed = answers.filter((a) => a.status === 'rejected') as PromiseRejectedResult[];
  const st = pool.stats();
  const after = used();
  // A free connection taken and given back, n times, with n idle ones in the pool: the
  // pool's own acquire, timed one by one.
  const op = (
    pool as unknown as {
      originPool(u: string): {
        pool: { tryAcquire(): { release(): void } | null; acquire(): Promise<{ release(): void }> };
      };
    }
  ).originPool(url);
  const samples: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const t = performance.now();
    const lease = op.pool.tryAcquire() ?? (await op.pool.acquire());
    samples.push(performance.now() - t);
    lease.release();
  }
  const asyncSamples: number[] = [];
  for (let i = 0; i < 5_000; i++) {
    const t = performance.now();
    const lease = await op.pool.acquire();
    asyncSamples.push(performance.now() - t);
    lease.release();
  }
  // And real requests on the idle connections: the pool's own acquire-wait figure.
  for (let i = 0; i < 2_000; i++) await (await pool.request(url)).body.text();
  const waits = pool.stats().origins[0]!.pool.waitMs;
  console.log(
    JSON.stringify({
      n,
      ok,
      failed: failed.length,
      firstError: failed[0] ? String((failed[0].reason as Error).message) : undefined,
      ms,
      connections: st.connections,
      opened: st.opened,
      heapPerConn: (after.heap - before.heap) / st.connections,
      rssPerConn: (after.rss - before.rss) / st.connections,
      tryAcquireP99: percentile(samples, 99),
      tryAcquireP50: percentile(samples, 50),
      acquireP99: percentile(asyncSamples, 99),
      acquireP50: percentile(asyncSamples, 50),
      waitP99: waits.p99,
      limit: fileLimit(),
    }),
  );
  await pool.close();
}

async function scale(n: number): Promise<void> {
  let port = 0;
  let serverLimit = 0;
  let ready!: () => void;
  const up = new Promise<void>((r) => {
    ready = r;
  });
  const script = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';
  const server = spawn(
    'sh',
    ['-c', script, 'sh', process.execPath, '--import', 'tsx', self, 'scale-server', String(n)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  server.stdout.on('data', (c: Buffer) => {
    const msg = JSON.parse(c.toString().trim().split('\n')[0]!);
    port = msg.port;
    serverLimit = msg.limit.soft;
    ready();
  });
  await up;
  if (serverLimit < n + 100) {
    server.kill();
    console.log(`scale: skipped, the file limit (${serverLimit}) is below ${n + 100}`);
    return;
  }
  let r: Record<string, number | string | { soft: number }> | undefined;
  await child(['scale-client', String(port), String(n)], (l) => {
    r = JSON.parse(l);
  });
  server.kill();
  if (r === undefined) throw new Error('scale client failed');
  const kb = (b: unknown) => `${((b as number) / 1024).toFixed(1)} KB`;
  const us = (x: unknown) => `${((x as number) * 1000).toFixed(1)} µs`;
  table(
    [`${r.n} connections, one pool`, 'value'],
    [
      ['requests answered', `${r.ok} of ${r.n} (${r.failed} failed)`],
      ['connections open at once', String(r.connections)],
      [
        'time for all (connect + request, barrier at the server)',
        `${(r.ms as number).toFixed(0)} ms`,
      ],
      ['memory per idle connection (heap + external)', kb(r.heapPerConn)],
      ['memory per idle connection (RSS)', kb(r.rssPerConn)],
      [
        'take a free connection (tryAcquire) p50 / p99',
        `${us(r.tryAcquireP50)} / ${us(r.tryAcquireP99)}`,
      ],
      [
        'take a free connection (acquire, awaited) p50 / p99',
        `${us(r.acquireP50)} / ${us(r.acquireP99)}`,
      ],
      ["pool's acquire-wait p99 over 2,000 requests", `${(r.waitP99 as number).toFixed(3)} ms`],
      ['client file limit', String((r.limit as { soft: number }).soft)],
    ],
  );
  if (r.firstError !== undefined) console.log(`first error: ${r.firstError}`);
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'tls-server') await tlsServer();
else if (mode === 'tls-client') await tlsClient(Number(a), Buffer.from(b!, 'base64').toString());
else if (mode === 'scale-server') scaleServer(Number(a));
else if (mode === 'scale-client') await scaleClient(Number(a), Number(b));
else {
  if (mode === undefined || mode === 'tls') await tls();
  if (mode === undefined || mode === 'scale') await scale(Number(a ?? SCALE_N));
}
