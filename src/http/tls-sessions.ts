// The TLS sessions of one origin, kept so that a new connection resumes the last one
// instead of a full handshake, and the count of handshakes that did. undici's connector
// keeps sessions too, but behind WeakRefs (a collection loses them) and apart for each
// connector, while an origin opens sockets through two (HTTP/2 by ALPN, and HTTP/1.1).
import type { TLSSocket } from 'node:tls';

/** @internal The newest TLS session of each server name of an origin, held strongly. */
export class TlsSessions {
  readonly #sessions = new Map<string, Buffer>();
  /** TLS handshakes completed. */
  handshakes = 0;
  /** Of those, how many resumed a session (`socket.isSessionReused()`). */
  resumed = 0;

  /** The session to offer to `servername`, if one is kept. */
  get(servername: string): Buffer | undefined {
    return this.#sessions.get(servername);
  }

  /**
   * Keeps the sessions `socket` is given (TLS 1.3 sends them after the handshake, TLS 1.2
   * with it) when `keep`, and counts its handshake.
   */
  watch(socket: TLSSocket, servername: string, keep: boolean): void {
    if (keep) {
      // An origin's pool names one server (its host, or `tls.servername`): one entry, so
      // nothing to evict. The newest session wins; TLS 1.3 servers send fresh ones.
      socket.on('session', (session: Buffer) => this.#sessions.set(servername, session));
    }
    socket.once('secureConnect', () => {
      this.handshakes++;
      if (socket.isSessionReused()) this.resumed++;
    });
  }

  /** Forgets the session of `servername` (the server refused it, or the handshake failed). */
  forget(servername: string): void {
    this.#sessions.delete(servername);
  }
}
