import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { createHttpPool } from '../../src/http/index.js';
import { turnsUntil } from './counting-server.js';

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

/** A server that upgrades `/echo` to a raw echo of what it receives. */
async function echoServer(): Promise<string> {
  const server = http.createServer((_req, res) => res.end('plain'));
  const upgraded = new Set<Socket>();
  server.on('upgrade', (_req, socket: Socket) => {
    // No longer the server's to track: closed here, with the test's server.
    upgraded.add(socket);
    socket.on('end', () => socket.end());
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n',
    );
    socket.on('data', (d) => socket.write(d));
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise((r) => {
        for (const s of upgraded) s.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function echo(socket: Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    socket.once('data', (d) => resolve(d.toString()));
    socket.write(text);
  });
}

describe('upgraded sockets belong to the caller', () => {
  test('through undici: the pool lets go of the socket without closing it', async () => {
    const url = await echoServer();
    await using pool = createHttpPool({ connections: 1 });
    const { socket } = await (
      pool.upgrade as unknown as (o: object) => Promise<{ socket: Socket }>
    )({ origin: url, path: '/echo', protocol: 'echo' });
    // The connection it came from is gone from the pool, its destroy done.
    await turnsUntil(() => pool.stats().connections === 0, 'the connection retired');
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    assert.equal(socket.destroyed, false);
    assert.equal(await echo(socket as Socket, 'ping'), 'ping');
    socket.destroy();
    assert.equal(await (await pool.request(`${url}/`)).body.text(), 'plain');
  });

  test('through the agent: the pool lets go of the socket without closing it', async () => {
    const url = await echoServer();
    await using pool = createHttpPool({ connections: 1 });
    const socket = await new Promise<Socket>((resolve, reject) => {
      http
        .request(`${url}/echo`, {
          agent: pool.toHttpAgent(),
          headers: { connection: 'upgrade', upgrade: 'echo' },
        })
        .on('upgrade', (_res, s: Socket) => resolve(s))
        .on('error', reject)
        .end();
    });
    await turnsUntil(() => pool.stats().connections === 0, 'the connection retired');
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    assert.equal(socket.destroyed, false);
    assert.equal(await echo(socket, 'pong'), 'pong');
    socket.destroy();
  });
});
