// Finds the real services the integration tests need. Without WEIR_REQUIRE_SERVICES a
// missing service skips its tests with a printed reason; with it (as in CI) it fails them.
import net from 'node:net';

export const PG_URL = process.env.WEIR_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const required = process.env.WEIR_REQUIRE_SERVICES === '1';

/** Resolves to null when host:port accepts a TCP connection, else to the reason it did not. */
export function reachable(host: string, port: number, timeoutMs = 2000): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (reason: string | null): void => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(timeoutMs, () =>
      done(`${host}:${port} did not answer within ${timeoutMs} ms`),
    );
    socket.once('connect', () => done(null));
    socket.once('error', (e) => done(`${host}:${port} is unreachable (${e.message})`));
  });
}

/**
 * The `skip` option for a suite that needs a service: false when it is up; the reason
 * (printed) when it is down and not required. Throws when it is down but required.
 */
export async function needService(
  name: string,
  host: string,
  port: number,
): Promise<false | string> {
  const reason = await reachable(host, port);
  if (reason === null) return false;
  const message = `${name} tests skipped: ${reason}. Start ${name}, or run with WEIR_REQUIRE_SERVICES=1 to make this an error.`;
  if (required) throw new Error(`${name} is required (WEIR_REQUIRE_SERVICES=1) but ${reason}`);
  console.log(`# ${message}`);
  return message;
}

/** Polls `check` until it returns true, at most `tries` times `delayMs` apart (for server-side state). */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  tries = 400,
  delayMs = 25,
): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, delayMs));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** A TCP proxy to a real server that a test can take down and bring back. */
export async function proxy(targetHost: string, targetPort: number) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  // While held, accepted connections wait (unanswered) until `release()`.
  let held: (() => void)[] | null = null;
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };
  const up = async (): Promise<void> => {
    server = net.createServer((client) => {
      track(client);
      const forward = (): void => {
        if (client.destroyed) return;
        const upstream = net.connect({ host: targetHost, port: targetPort });
        track(upstream);
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      };
      if (held === null) forward();
      else held.push(forward);
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  };
  const down = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  };
  const hold = (): void => {
    held ??= [];
  };
  const release = (): void => {
    const waiting = held ?? [];
    held = null;
    for (const forward of waiting) forward();
  };
  await up();
  return { port, up, down, hold, release };
}
