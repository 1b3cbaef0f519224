// Shared by the dashboard's tests: a server for a handler, plain GETs, and an event-stream
// reader that waits for a number of events (real loopback I/O, time from the test's clock).
import { once } from 'node:events';
import {
  createServer,
  get,
  type IncomingMessage,
  type RequestListener,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { type SseEvent, SseParser } from '../../src/sse/index.js';

export interface Served {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function serve(handler: RequestListener, port = 0): Promise<Served> {
  const server = createServer(handler);
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const p = (server.address() as AddressInfo).port;
  return {
    server,
    port: p,
    url: `http://127.0.0.1:${p}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Got {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

export function fetchText(url: string, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });
}

export interface Listener {
  events: SseEvent[];
  res: IncomingMessage;
  /** Resolves once `n` events arrived in all. */
  until(n: number): Promise<void>;
  /** Resolves when the server ends the response. */
  ended: Promise<void>;
  close(): void;
}

export function listen(url: string, headers: Record<string, string> = {}): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const waits: { n: number; resolve: () => void }[] = [];
    const parser = new SseParser({
      onEvent: (e) => {
        events.push(e);
        for (const w of waits.splice(0)) {
          if (events.length >= w.n) w.resolve();
          else waits.push(w);
        }
      },
    });
    const req = get(url, { headers }, (res) => {
      res.on('data', (c: Buffer) => parser.feed(c));
      const ended = new Promise<void>((r) => res.once('close', () => r()));
      resolve({
        events,
        res,
        ended,
        until: (n) =>
          events.length >= n
            ? Promise.resolve()
            : new Promise((r) => waits.push({ n, resolve: r })),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}
