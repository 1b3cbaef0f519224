import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';

/** The part of a `node:http2` client session that the connection listens to. */
export interface SessionLike {
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  listeners(event: string): ((...args: never[]) => void)[];
  request?: ClientHttp2Session['request'];
}

/** HTTP/2 frame type of HEADERS (RFC 9113 §6.2). */
const HEADERS = 1;

/**
 * @internal Makes a server's graceful GOAWAY graceful on an undici HTTP/2 session.
 *
 * undici 7 answers any GOAWAY by destroying the session's socket at once, which fails every
 * stream in flight, those the server accepted and is still answering too (RFC 9113 §6.8
 * says they complete). Node's own session already does the right thing for a GOAWAY
 * without error: it takes no new streams, closes the streams above the GOAWAY's last stream
 * id with REFUSED_STREAM (the server never saw them, so they may be retried elsewhere), and
 * closes once the others have finished; a GOAWAY with an error code destroys the session.
 * So undici's listener is taken off and `onGoaway` put in its place: the pool only has to
 * stop handing the connection out. Requests undici had queued but not written are refused
 * as they reach the session (the exchange sees its connection closed when undici hands it
 * the request, and retries it); the rest of undici's bookkeeping runs when the session and
 * its socket close, as after any close.
 *
 * One more repair: a stream opened just before the GOAWAY arrived may fail to send its
 * HEADERS (`frameError`). undici then closes the stream, and Node sends RST_STREAM for a
 * stream id the server never saw, which the server must treat as a connection error
 * (PROTOCOL_ERROR): it resets every stream it had accepted. Such a stream is left for Node
 * to close (with REFUSED_STREAM, once the GOAWAY is processed) instead.
 */
export function makeGoawayGraceful(
  session: SessionLike,
  onGoaway: (code: number, lastStreamId: number) => void,
): void {
  // Called right after undici attached the session: every listener so far is undici's.
  for (const listener of session.listeners('goaway')) session.off('goaway', listener);
  session.on('goaway', ((code: number, lastStreamId: number) =>
    onGoaway(code, lastStreamId)) as never);
  const request = session.request;
  if (typeof request !== 'function') return;
  // An own property on this session only; undici calls `session.request` for each stream.
  session.request = function (this: ClientHttp2Session, ...args: never[]) {
    const stream = (request as (...a: never[]) => ClientHttp2Stream).apply(this, args);
    // Registered before undici's own listener, so it runs first.
    stream.on('frameError', onFrameError);
    return stream;
  } as ClientHttp2Session['request'];
}

function onFrameError(this: ClientHttp2Stream, type: number): void {
  if (type === HEADERS) this.close = keepOpen;
}

// The stream's HEADERS never left: no RST_STREAM may name it; Node closes it itself.
function keepOpen(this: ClientHttp2Stream): void {}

/** @internal Why a connection that received a GOAWAY is out of service. */
export function goawayError(code: number, lastStreamId: number): Error {
  return new Error(
    `The server sent GOAWAY (code ${code}, last stream ${lastStreamId}); the connection takes no new requests`,
  );
}
