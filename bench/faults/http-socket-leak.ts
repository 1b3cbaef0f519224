// Sockets a pool leaves behind. A server in its own process counts the sockets open to
// it; each scenario ends by waiting (at most 2 s) for that count to settle and prints how
// many sockets are still open although the client pool says it holds none:
//   close        close() after 5 pre-opened connections of which 2 served requests
//   destroy      the same with destroy()
//   reaped       connections opened for 10 requests that gave up (aborted) before a
//                connection was theirs, so never used, then reaped as idle
//   late         close() while pre-opened connections are still being opened
//   agent        close() after requests through the pool's http.Agent and its own
// Exits 1 if any socket is left open.
//
//   npm run build && node --import tsx bench/faults/http-socket-leak.ts
import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

if (process.argv[2] === 'server') serve();
else await main();

function serve(): void {
  let open = 0;
  let accepted = 0;
  const server = http.createServer({ keepAlive: true }, (_req, res) => {
    // A little latency, so that a burst needs more than one connection.
    setTimeout(() => res.end('ok'), 2);
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s) => {
    open++;
    accepted++;
    s.on('close', () => open--);
  });
  server.listen(0, '127.0.0.1', () => {
    process.send!({ port: (server.address() as AddressInfo).port });
  });
  process.on('message', (m) => {
    if (m === 'count') process.send!({ open, accepted });
    if (m === 'stop') process.exit(0);
  });
}

type Child = ReturnType<typeof fork>;

function count(child: Child): Promise<{ open: number; accepted: number }> {
  return new Promise((resolve) => {
    child.once('message', (m: { open: number; accepted: number }) => resolve(m));
    child.send('count');
  });
}

/** The server's open sockets once the count stops changing (bounded: 100 looks, 20 ms apart). */
async function settled(child: Child, until: (n: number) => boolean = () => false): Promise<number> {
  let last = -1;
  for (let i = 0, same = 0; i < 100; i++) {
    const { open } = await count(child);
    if (until(open)) return open;
    same = open === last ? same + 1 : 0;
    if (same >= 10) return open;
    last = open;
    await new Promise((r) => setTimeout(r, 20));
  }
  return last;
}

async function main(): Promise<void> {
  const { createHttpPool } = await import('weir/http');
  const child = fork(fileURLToPath(import.meta.url), ['server']);
  const port = await new Promise<number>((resolve) =>
    child.once('message', (m: { port: number }) => resolve(m.port)),
  );
  const url = `http://127.0.0.1:${port}/`;
  let leaked = 0;
  // Counted from the sockets open before the scenario, so a leak is reported once.
  let base = 0;
  const report = (name: string, open: number, poolSays: number) => {
    const left = open - base;
    base = open;
    leaked += left;
    console.log(`${name}: ${left} sockets left open (the pool reported ${poolSays} connections)`);
  };

  for (const how of ['close', 'destroy'] as const) {
    const pool = createHttpPool({ connections: 5, minConnections: 5 });
    await pool.request(url).then((r) => r.body.text()); // opens the origin's pool
    await settled(child, (n) => n >= base + 5);
    await Promise.all([1, 2].map(() => pool.request(url).then((r) => r.body.text())));
    await (how === 'close' ? pool.close() : pool.destroy());
    report(how, await settled(child, (n) => n === base), pool.stats().connections);
  }

  {
    const pool = createHttpPool({ connections: 10, idleTimeoutMs: 300 });
    const gaveUp = Array.from({ length: 10 }, () => {
      const c = new AbortController();
      const p = pool.request(url, { signal: c.signal }).catch(() => {});
      setImmediate(() => c.abort());
      return p;
    });
    await Promise.all(gaveUp);
    await settled(child, (n) => n >= base + 10);
    for (let i = 0; i < 100 && pool.stats().opened < 10; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const opened = pool.stats().opened;
    // Reaped within one reap interval (1 s) after idleTimeoutMs.
    for (let i = 0; i < 100 && pool.stats().connections > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const says = pool.stats().connections;
    console.log(`reaped: ${opened} connections opened, never used`);
    report('reaped', await settled(child, (n) => n === base), says);
    await pool.close();
  }

  {
    const pool = createHttpPool({ connections: 20, minConnections: 20 });
    void pool.request(url).then(
      (r) => r.body.text(),
      () => {},
    );
    // Some connections are accepted by the server, others still opening.
    await settled(child, (n) => n >= base + 3);
    await pool.close();
    report('late', await settled(child, (n) => n === base), pool.stats().connections);
  }

  {
    const pool = createHttpPool({ connections: 4 });
    const agent = pool.toHttpAgent();
    const viaAgent = () =>
      new Promise<void>((resolve, reject) => {
        http.get(url, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
      });
    await Promise.all([
      viaAgent(),
      viaAgent(),
      viaAgent(),
      pool.request(url).then((r) => r.body.text()),
    ]);
    const says = pool.stats().connections;
    await settled(child, (n) => n >= base + says);
    await pool.close();
    console.log(`agent: ${says} connections served 3 agent requests and 1 pool.request`);
    report('agent', await settled(child, (n) => n === base), pool.stats().connections);
  }

  child.send('stop');
  process.exitCode = leaked === 0 ? 0 : 1;
}
