// Servers the http tests start on 127.0.0.1, and a self-signed certificate made at test time.
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import selfsigned from 'selfsigned';

export interface Cert {
  key: string;
  cert: string;
}

let certPromise: Promise<Cert> | undefined;

/** A self-signed certificate for 127.0.0.1 and localhost, generated once per test process. */
export function testCert(): Promise<Cert> {
  // The default extensions cover localhost and 127.0.0.1 for a commonName of localhost.
  certPromise ??= selfsigned
    .generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048 })
    .then((p) => ({ key: p.private, cert: p.cert }));
  return certPromise;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface Running {
  url: string;
  port: number;
  close(): Promise<void>;
}

function listen(
  server: http.Server | https.Server | http2.Http2SecureServer | http2.Http2Server,
  scheme: string,
  port = 0,
): Promise<Running> {
  const sessions = new Set<http2.Http2Session>();
  server.on('session', (s: http2.Http2Session) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const p = (server.address() as AddressInfo).port;
      resolve({
        url: `${scheme}://127.0.0.1:${p}`,
        port: p,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sessions) s.destroy();
            (server as http.Server).closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}

/** An HTTP/1.1 keep-alive server. */
export function httpServer(handler: Handler, port = 0): Promise<Running> {
  const server = http.createServer({ keepAlive: true }, handler);
  server.keepAliveTimeout = 60_000;
  return listen(server, 'http', port);
}

/** An HTTPS server with the test certificate, HTTP/1.1 only. */
export async function httpsServer(handler: Handler): Promise<Running> {
  const server = https.createServer({ ...(await testCert()) }, handler);
  server.keepAliveTimeout = 60_000;
  return listen(server, 'https');
}

/** An HTTP/2 server over TLS (ALPN h2, HTTP/1.1 allowed too). */
export async function h2Server(
  handler: Handler,
  settings: http2.Settings = {},
): Promise<Running & { server: http2.Http2SecureServer }> {
  const server = http2.createSecureServer(
    { ...(await testCert()), allowHTTP1: true, settings },
    handler as never,
  );
  return { ...(await listen(server, 'https')), server };
}

/** An HTTP/2 server without TLS (h2c, prior knowledge). */
export async function h2cServer(
  handler: Handler,
): Promise<Running & { server: http2.Http2Server }> {
  const server = http2.createServer({}, handler as never);
  return { ...(await listen(server, 'http')), server };
}

/** Resolves when `emitter` emits `event` (bounded by the test's own timeout). */
export function once<T = unknown>(
  emitter: { once(e: string, l: (v: T) => void): unknown },
  event: string,
): Promise<T> {
  return new Promise((resolve) => emitter.once(event, resolve));
}
