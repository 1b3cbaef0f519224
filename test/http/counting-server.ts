// A keep-alive server on 127.0.0.1 that keeps count of its sockets, for the tests that
// check which connections a pool opens, uses and closes.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface CountingServer {
  url: string;
  port: number;
  /** Sockets accepted and not yet closed, in order of acceptance. */
  readonly open: Set<Socket>;
  /** Sockets accepted so far. */
  accepted(): number;
  /** Requests each socket carried. */
  served(socket: Socket): number;
  /** Resolves once `cond` holds, re-checked as sockets open and close and requests arrive. */
  until(cond: () => boolean, what: string): Promise<void>;
  close(): Promise<void>;
}

export type CountingHandler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  socket: Socket,
) => void;

/** `keepAliveTimeoutMs` is the server's (Node sends `Keep-Alive: timeout=0` below 1 s). */
export function countingServer(
  handler: CountingHandler,
  keepAliveTimeoutMs = 60_000,
): Promise<CountingServer> {
  const open = new Set<Socket>();
  const served = new WeakMap<Socket, number>();
  let accepted = 0;
  const waiters = new Set<() => void>();
  const changed = (): void => {
    for (const w of [...waiters]) w();
  };
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    served.set(req.socket, (served.get(req.socket) ?? 0) + 1);
    handler(req, res, req.socket);
    changed();
  });
  server.keepAliveTimeout = keepAliveTimeoutMs;
  server.on('connection', (s: Socket) => {
    accepted++;
    open.add(s);
    s.on('close', () => {
      open.delete(s);
      changed();
    });
    changed();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        open,
        accepted: () => accepted,
        served: (s) => served.get(s) ?? 0,
        until: (cond, what) =>
          new Promise<void>((done, fail) => {
            if (cond()) return done();
            // The test's own timeout bounds the wait; this says what was awaited.
            const stack = new Error(`still waiting for ${what}`);
            const check = (): void => {
              if (!cond()) return;
              waiters.delete(check);
              clearTimeout(guard);
              done();
            };
            waiters.add(check);
            const guard = setTimeout(() => {
              waiters.delete(check);
              fail(stack);
            }, 8_000);
            guard.unref();
          }),
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Resolves once `cond` holds, checked once per turn of the event loop (at most `turns`). */
export async function turnsUntil(cond: () => boolean, what: string, turns = 5_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  if (!cond()) throw new Error(`still waiting for ${what} after ${turns} turns`);
}
