// The client half of the stream framing, plugged into one WsConnection: a session id
// drawn once, a HELLO ahead of anything else on every socket, and after the WELCOME either
// a resumption (OPEN again, ACK, replay) or, if the server forgot the session, the end of
// the streams it had.
import { randomBytes } from 'node:crypto';
import type { ConnectionHooks } from './connection.js';
import { WsError } from './errors.js';
import { encodeHello, type Frame, MAX_U32, WELCOME } from './frame.js';
import { Session } from './session.js';
import { WsStream } from './stream.js';

/** @internal The connection's send, bound; waits while over the byte bound. */
export type Transport = (frame: Buffer, signal: AbortSignal | undefined) => Promise<void>;

const RESOLVED: Promise<void> = Promise.resolve();
const noop = (): void => {};

/** @internal */
export class ClientSession extends Session implements ConnectionHooks {
  readonly id: Buffer = randomBytes(16);
  #send: Transport = () => RESOLVED;
  #ready = false;
  #nextId = 1;
  // Streams whose OPEN reached a server that knew this session.
  readonly #opened = new Set<WsStream>();
  #error: unknown;
  // Unreliable frames written before the WELCOME: they follow the OPENs it triggers (bounded
  // by the streams' credit, which no acknowledgement refills meanwhile).
  #held: Buffer[] = [];

  /** Set once the connection exists. */
  bind(send: Transport): void {
    this.#send = send;
  }

  /** Opens a stream on this session (its OPEN goes out now, or after the next WELCOME). */
  openStream(reliable: boolean, window: number, label: string): WsStream {
    if (this.#error !== undefined) throw this.#error;
    const id = this.#nextId++;
    if (id === MAX_U32) throw new RangeError('This connection has used up its stream ids');
    const s = new WsStream(this, id, reliable, window, label);
    this.streams.set(id, s);
    if (this.#ready) {
      this.#opened.add(s);
      this.control(s.openFrame());
    }
    return s;
  }

  override remove(stream: WsStream): void {
    super.remove(stream);
    this.#opened.delete(stream);
  }

  transmit(frame: Buffer, reliable: boolean, signal: AbortSignal | undefined): Promise<void> {
    // A reliable frame waits in its stream for the WELCOME, which replays it; another
    // waits here, so that it does not reach the server before its stream's OPEN.
    if (!this.#ready) {
      if (!reliable) this.#held.push(frame);
      return RESOLVED;
    }
    const sent = this.#send(frame, signal);
    // Kept for replay: a failed write is the replay's business, not the writer's.
    return reliable ? sent.catch(noop) : sent;
  }

  control(frame: Buffer): void {
    if (this.#ready) this.#send(frame, undefined).catch(noop);
  }

  // ---- ConnectionHooks ------------------------------------------------------------

  open(first: (frame: Buffer) => void): void {
    first(encodeHello(this.id));
  }

  message(data: Buffer, isBinary: boolean): void {
    this.receive(data, isBinary);
  }

  down(): void {
    this.#ready = false;
  }

  closed(error: unknown): void {
    this.#ready = false;
    this.#held = [];
    this.#error = new WsError('ERR_WS_STREAM_RESET', 'The connection of this stream closed', {
      cause: error,
    });
    this.failAll(this.#error);
  }

  protected frame(f: Frame): void {
    if (f.type !== WELCOME) {
      this.violation(
        new WsError('ERR_WS_PROTOCOL', `Unexpected frame type ${f.type} from the server`),
      );
      return;
    }
    this.#ready = true;
    if (!f.resumed) {
      const lost = new WsError(
        'ERR_WS_STREAM_RESET',
        'The server no longer knew this session after a reconnection; its streams are gone',
      );
      for (const s of [...this.#opened]) s.fail(lost);
    }
    for (const s of this.streams.values()) {
      this.#opened.add(s);
      this.control(s.openFrame());
      s.resume();
    }
    const held = this.#held;
    this.#held = [];
    for (const frame of held) this.#send(frame, undefined).catch(noop);
  }

  protected violation(error: unknown): void {
    this.failAll(error);
  }
}
