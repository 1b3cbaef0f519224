// What both halves of the stream framing share: the streams of one connection (one
// session, which outlives the socket across reconnections), and the dispatch of the frames
// that concern a stream (DATA, ACK, RESET).
import { WsError } from './errors.js';
import { ACK, DATA, decode, encodeReset, type Frame, RESET } from './frame.js';
import type { StreamHost, WsStream } from './stream.js';

/** @internal */
export abstract class Session implements StreamHost {
  readonly streams = new Map<number, WsStream>();

  abstract transmit(
    frame: Buffer,
    reliable: boolean,
    signal: AbortSignal | undefined,
  ): Promise<void>;
  abstract control(frame: Buffer): void;
  /** A frame that is not about a stream (HELLO, WELCOME, OPEN). */
  protected abstract frame(frame: Frame): void;

  remove(stream: WsStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
  }

  /** One WebSocket message of the session. */
  receive(data: Buffer, isBinary: boolean): void {
    let f: Frame;
    try {
      if (!isBinary)
        throw new WsError('ERR_WS_PROTOCOL', 'A stream frame must be a binary message');
      f = decode(data);
    } catch (error) {
      this.violation(error);
      return;
    }
    switch (f.type) {
      case DATA: {
        const s = this.streams.get(f.id);
        if (s === undefined) this.control(encodeReset(f.id, 'unknown stream'));
        else s.data(f.seq, f.fin, f.payload);
        return;
      }
      case ACK:
        this.streams.get(f.id)?.acked(f.received, f.consumed);
        return;
      case RESET:
        this.streams
          .get(f.id)
          ?.fail(
            new WsError('ERR_WS_STREAM_RESET', `The stream was reset by the peer: ${f.reason}`),
          );
        return;
      default:
        this.frame(f);
    }
  }

  /** Fails every stream with `error`. */
  failAll(error: unknown): void {
    for (const s of [...this.streams.values()]) s.fail(error);
  }

  /** The peer broke the framing. */
  protected abstract violation(error: unknown): void;
}
