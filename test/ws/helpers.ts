// Real `ws` servers on 127.0.0.1 for the weir/ws tests, and small waits on real events
// (never on wall-clock time).
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ServerOptions, type WebSocket, WebSocketServer } from 'ws';

export interface TestServer {
  wss: WebSocketServer;
  http: Server;
  port: number;
  url: string;
  /** Server-side sockets open now. */
  sockets: Set<WebSocket>;
  /** Resolves when the next connection arrives. */
  nextConnection(): Promise<WebSocket>;
  /** Resolves once every server-side socket has closed. */
  allClosed(): Promise<void>;
  /** Terminates every connection and stops listening. */
  close(): Promise<void>;
}

export async function startServer(
  options: Omit<ServerOptions, 'port' | 'server' | 'noServer'> = {},
  port = 0,
): Promise<TestServer> {
  const http = createServer();
  const wss = new WebSocketServer({ ...options, server: http });
  const sockets = new Set<WebSocket>();
  const waiting: ((ws: WebSocket) => void)[] = [];
  let emptied: (() => void)[] = [];
  wss.on('connection', (ws) => {
    sockets.add(ws);
    ws.on('error', () => {});
    ws.on('close', () => {
      sockets.delete(ws);
      if (sockets.size === 0) {
        const list = emptied;
        emptied = [];
        for (const f of list) f();
      }
    });
    waiting.shift()?.(ws);
  });
  http.listen(port, '127.0.0.1');
  await once(http, 'listening');
  const actual = (http.address() as AddressInfo).port;
  return {
    wss,
    http,
    port: actual,
    url: `ws://127.0.0.1:${actual}/`,
    sockets,
    nextConnection: () => new Promise((resolve) => waiting.push(resolve)),
    allClosed: () =>
      sockets.size === 0 ? Promise.resolve() : new Promise((resolve) => emptied.push(resolve)),
    async close() {
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** The next emission of `event` by an object with weir's `once`. */
export function nextEvent<E, K extends keyof E>(
  source: { once(event: K, listener: E[K]): () => void },
  event: K,
): Promise<E[K] extends (e: infer A) => void ? A : never> {
  return new Promise((resolve) => {
    source.once(event, ((e: unknown) => resolve(e as never)) as E[K]);
  });
}

/** TCP sockets this process holds open (client and server side). */
export function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}

/** Deterministic numbers in [0, 1) (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Yields to the event loop `turns` times (for real I/O to make progress). */
export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Settles `p` into an inspectable state; `promise` resolves (never rejects) once it has. */
export function track<T>(p: Promise<T>) {
  const s: { done: boolean; value?: T; error?: unknown; promise: Promise<T> } = {
    done: false,
    promise: p,
  };
  p.then(
    (v) => {
      s.done = true;
      s.value = v;
    },
    (e: unknown) => {
      s.done = true;
      s.error = e;
    },
  );
  return s;
}

/**
 * Waits (a bounded number of event-loop turns, no timer) until this process holds at most
 * `base` TCP sockets: a destroyed socket's handle closes a tick or two after `close`, and
 * the peer's after it reads the FIN.
 */
export async function socketsBackTo(base: number, maxTurns = 5_000): Promise<number> {
  for (let i = 0; i < maxTurns && tcpSockets() > base; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return tcpSockets();
}
