// The keep-alive race under faults: a server in its own process destroys idle keep-alive
// sockets (accepted and not yet used, or between requests) at random moments, half with a
// FIN and half with a reset. The client sends 10,000 GETs through `pool.request` and
// 10,000 through undici's `fetch` with the pool as its dispatcher, from 8 workers that
// pause 0-5 ms between requests, over 10 connections of which all are pre-opened
// (`minConnections`), so that never-used, reused and replacement connections all meet the
// race. Prints requests, failures by code, retries, connections opened and sockets the
// server destroyed; exits 1 on any failure.
//
//   npm run build && node --import tsx bench/faults/http-keepalive-race.ts
import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

const N = 10_000;
const WORKERS = 8;
const CONNECTIONS = 10;

if (process.argv[2] === 'server') serve();
else await main();

function serve(): void {
  // The server's idea of time is the requests it serves, so that a client held up by the
  // machine's load does not see its brand-new connections killed before it could send on
  // them: a socket is destroyed once it stayed idle while the server answered a random
  // 8 to 40 other requests (more than the 8 a client has in flight at once), right after
  // one of those answers went out.
  let served = 0;
  let killed = 0;
  const idle = new Map<Socket, number>();
  const markIdle = (s: Socket): void => {
    idle.set(s, served + 8 + Math.floor(Math.random() * 33));
  };
  const reap = (): void => {
    for (const [s, at] of idle) {
      if (at > served) continue;
      idle.delete(s);
      killed++;
      if (killed % 2 === 0) s.destroy();
      else s.resetAndDestroy();
    }
  };
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    idle.delete(req.socket);
    res.on('finish', () => {
      served++;
      markIdle(req.socket);
      reap();
    });
    res.end('ok');
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s: Socket) => {
    markIdle(s);
    s.on('close', () => idle.delete(s));
  });
  server.listen(0, '127.0.0.1', () => {
    process.send!({ port: (server.address() as AddressInfo).port });
  });
  process.on('message', (m) => {
    if (m === 'count') process.send!({ killed });
    if (m === 'stop') process.exit(0);
  });
}

async function main(): Promise<void> {
  const { createHttpPool } = await import('weir/http');
  const { fetch } = await import('undici');
  const child = fork(fileURLToPath(import.meta.url), ['server']);
  const port = await new Promise<number>((resolve) =>
    child.once('message', (m: { port: number }) => resolve(m.port)),
  );
  const url = `http://127.0.0.1:${port}/`;
  let worst = 0;
  for (const via of ['pool.request', 'fetch'] as const) {
    const pool = createHttpPool({ connections: CONNECTIONS, minConnections: CONNECTIONS });
    const failures: Record<string, number> = {};
    let left = N;
    const one =
      via === 'fetch'
        ? async () => {
            const r = await fetch(url, { dispatcher: pool });
            await r.text();
          }
        : async () => {
            const r = await pool.request(url);
            await r.body.text();
          };
    const before = await count(child);
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (left-- > 0) {
          try {
            await one();
          } catch (error) {
            const e = error as { code?: string; cause?: { code?: string } };
            const code = e.code ?? e.cause?.code ?? String(error);
            failures[code] = (failures[code] ?? 0) + 1;
          }
          await new Promise((r) => setTimeout(r, Math.random() * 5));
        }
      }),
    );
    const killed = (await count(child)) - before;
    const st = pool.stats();
    await pool.close();
    const failed = Object.values(failures).reduce((a, b) => a + b, 0);
    worst = Math.max(worst, failed);
    console.log(
      `${via}: ${N} GETs, ${failed} failed ${JSON.stringify(failures)}, ` +
        `${st.retries} retried, ${st.opened} connections opened, ${killed} sockets destroyed by the server`,
    );
  }
  child.send('stop');
  process.exitCode = worst === 0 ? 0 : 1;
}

function count(child: ReturnType<typeof fork>): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m: { killed: number }) => resolve(m.killed));
    child.send('count');
  });
}
