// A graceful HTTP/2 GOAWAY every 100 streams, under load: 10,000 GETs at 50 concurrent
// streams against node:http2 servers (h2c, and TLS with a self-signed certificate) that
// close each session gracefully (GOAWAY with the last stream they accepted) once it has
// received 100 streams, and answer each stream's headers at once and its body a few
// milliseconds later, so that GOAWAYs land while responses are half delivered. Prints the
// failed requests of weir's pool (`pool.request` and undici `request` with the pool as
// dispatcher) and, for comparison, of undici's own Agent.
//
//   npm run build && node --import tsx bench/faults/http2-goaway.ts
//
// Bounded: each run is 10,000 requests; every request has a 10 s headers/body timeout.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import selfsigned from 'selfsigned';
import { Agent, request as undiciRequest } from 'undici';

const N = 10_000;
const CONCURRENCY = 50;
const STREAMS_PER_SESSION = 100;
const BODY_DELAY_MS = [1, 2, 3, 5];

interface Server {
  url: string;
  sessions: number;
  goaways: number;
  close(): Promise<void>;
}

async function start(tls: { key: string; cert: string } | undefined): Promise<Server> {
  const server = tls === undefined ? http2.createServer() : http2.createSecureServer({ ...tls });
  const open = new Set<http2.ServerHttp2Session>();
  const state: Server = { url: '', sessions: 0, goaways: 0, close: async () => {} };
  server.on('session', (session) => {
    state.sessions++;
    open.add(session);
    session.on('close', () => open.delete(session));
    session.on('error', () => {});
    let streams = 0;
    session.on('stream', () => {
      streams++;
      if (streams === STREAMS_PER_SESSION) {
        // Graceful: GOAWAY names the last stream received; those finish, later ones are
        // refused, and the session closes when its streams are done. (Called on the next
        // turn: Node 20's server corrupts its heap when a session is closed from inside its
        // own 'stream' event under load.)
        state.goaways++;
        setImmediate(() => session.close());
      }
    });
  });
  let i = 0;
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    const delay = BODY_DELAY_MS[i++ % BODY_DELAY_MS.length]!;
    setTimeout(() => {
      if (!stream.destroyed) stream.end('ok');
    }, delay);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  state.url = `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

interface Outcome {
  ok: number;
  failed: number;
  codes: Map<string, number>;
  ms: number;
}

async function drive(one: () => Promise<void>): Promise<Outcome> {
  const out: Outcome = { ok: 0, failed: 0, codes: new Map(), ms: 0 };
  let left = N;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (left-- > 0) {
        try {
          await one();
          out.ok++;
        } catch (error) {
          out.failed++;
          const code = String((error as { code?: unknown }).code ?? (error as Error).name);
          out.codes.set(code, (out.codes.get(code) ?? 0) + 1);
        }
      }
    }),
  );
  out.ms = performance.now() - t0;
  return out;
}

function report(label: string, o: Outcome, server: Server, extra = ''): void {
  const codes = [...o.codes].map(([c, n]) => `${c}×${n}`).join(', ');
  console.log(
    `${label.padEnd(44)} ${String(o.failed).padStart(5)} failed / ${N}` +
      `  (${server.sessions} sessions, ${server.goaways} GOAWAYs, ${Math.round(o.ms)} ms${extra})` +
      (codes ? `  ${codes}` : ''),
  );
}

async function main(): Promise<void> {
  const { createHttpPool } = await import('weir/http');
  const pem = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
  });
  const tls = { key: pem.private, cert: pem.cert };
  console.log(
    `${N} GETs, ${CONCURRENCY} concurrent streams, a graceful GOAWAY every ${STREAMS_PER_SESSION} streams`,
  );
  for (const scheme of ['h2c', 'TLS'] as const) {
    for (const api of ['pool.request', 'undici.request (dispatcher)', 'undici Agent'] as const) {
      const server = await start(scheme === 'TLS' ? tls : undefined);
      const timeouts = { headersTimeout: 10_000, bodyTimeout: 10_000 };
      if (api === 'undici Agent') {
        const agent = new Agent({
          allowH2: true,
          // One session at a time, with all 50 requests on it as streams (undici's default
          // pipelining of 1 would send one stream at a time).
          connections: 1,
          pipelining: CONCURRENCY,
          ...timeouts,
          connect: scheme === 'TLS' ? { ca: tls.cert, servername: 'localhost' } : {},
          ...(scheme === 'h2c' ? ({ useH2c: true } as object) : {}),
        });
        const o = await drive(async () => {
          const r = await undiciRequest(`${server.url}/`, { dispatcher: agent });
          await r.body.text();
        });
        report(`${scheme} ${api}`, o, server);
        await agent.close();
      } else {
        const pool = createHttpPool({
          h2c: scheme === 'h2c',
          tls: { ca: tls.cert, servername: 'localhost' },
          headersTimeoutMs: 10_000,
          bodyTimeoutMs: 10_000,
        });
        const o = await drive(
          api === 'pool.request'
            ? async () => {
                const r = await pool.request(`${server.url}/`);
                await r.body.text();
              }
            : async () => {
                const r = await undiciRequest(`${server.url}/`, { dispatcher: pool });
                await r.body.text();
              },
        );
        const st = pool.stats();
        report(`${scheme} weir ${api}`, o, server, `, ${st.retries} retried`);
        await pool.close();
      }
      await server.close();
    }
  }
}

await main();
