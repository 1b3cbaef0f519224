// The framing of multiplexed streams (docs/ws-streams.md): one binary WebSocket message per
// frame, a type byte, then big-endian fields.
import { WsError } from './errors.js';
import type { WsData } from './send-queue.js';

/** @internal Frame types. */
export const HELLO = 1;
export const WELCOME = 2;
export const OPEN = 3;
export const DATA = 4;
export const ACK = 5;
export const RESET = 6;

/** @internal The framing's version, in HELLO and WELCOME. */
export const VERSION = 1;

/** @internal DATA flags. */
export const TEXT = 1;
export const FIN = 2;

/** @internal OPEN flags. */
export const RELIABLE = 1;

/** @internal Sequence numbers and ids are unsigned 32-bit. */
export const MAX_U32 = 0xffff_ffff;

/** @internal A decoded frame. */
export type Frame =
  | { type: typeof HELLO; session: Buffer }
  | { type: typeof WELCOME; resumed: boolean }
  | { type: typeof OPEN; id: number; reliable: boolean; window: number; label: string }
  | { type: typeof DATA; id: number; seq: number; fin: boolean; payload: string | Buffer }
  | { type: typeof ACK; id: number; received: number; consumed: number }
  | { type: typeof RESET; id: number; reason: string };

export function encodeHello(session: Buffer): Buffer {
  const b = Buffer.allocUnsafe(2 + 16);
  b[0] = HELLO;
  b[1] = VERSION;
  session.copy(b, 2, 0, 16);
  return b;
}

export function encodeWelcome(resumed: boolean): Buffer {
  return Buffer.from([WELCOME, VERSION, resumed ? 1 : 0]);
}

export function encodeOpen(id: number, reliable: boolean, window: number, label: string): Buffer {
  const n = Buffer.byteLength(label);
  const b = Buffer.allocUnsafe(10 + n);
  b[0] = OPEN;
  b.writeUInt32BE(id, 1);
  b[5] = reliable ? RELIABLE : 0;
  b.writeUInt32BE(window, 6);
  b.write(label, 10);
  return b;
}

export function encodeData(id: number, seq: number, payload: WsData | undefined): Buffer {
  let b: Buffer;
  if (payload === undefined) {
    b = Buffer.allocUnsafe(10);
    b[9] = FIN;
  } else if (typeof payload === 'string') {
    const n = Buffer.byteLength(payload);
    b = Buffer.allocUnsafe(10 + n);
    b[9] = TEXT;
    b.write(payload, 10);
  } else {
    const bytes = ArrayBuffer.isView(payload)
      ? new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)
      : new Uint8Array(payload);
    b = Buffer.allocUnsafe(10 + bytes.byteLength);
    b[9] = 0;
    b.set(bytes, 10);
  }
  b[0] = DATA;
  b.writeUInt32BE(id, 1);
  b.writeUInt32BE(seq, 5);
  return b;
}

export function encodeAck(id: number, received: number, consumed: number): Buffer {
  const b = Buffer.allocUnsafe(13);
  b[0] = ACK;
  b.writeUInt32BE(id, 1);
  b.writeUInt32BE(received, 5);
  b.writeUInt32BE(consumed, 9);
  return b;
}

export function encodeReset(id: number, reason: string): Buffer {
  const n = Buffer.byteLength(reason);
  const b = Buffer.allocUnsafe(5 + n);
  b[0] = RESET;
  b.writeUInt32BE(id, 1);
  b.write(reason, 5);
  return b;
}

/**
 * @internal Decodes one frame.
 * @throws {WsError} `ERR_WS_PROTOCOL` for an unknown type, a wrong version or a short frame.
 */
export function decode(b: Buffer): Frame {
  const type = b[0];
  switch (type) {
    case HELLO:
      need(b, 18, 'HELLO');
      version(b[1]!);
      return { type, session: b.subarray(2, 18) };
    case WELCOME:
      need(b, 3, 'WELCOME');
      version(b[1]!);
      return { type, resumed: b[2] === 1 };
    case OPEN:
      need(b, 10, 'OPEN');
      return {
        type,
        id: b.readUInt32BE(1),
        reliable: (b[5]! & RELIABLE) !== 0,
        window: b.readUInt32BE(6),
        label: b.toString('utf8', 10),
      };
    case DATA: {
      need(b, 10, 'DATA');
      const flags = b[9]!;
      const body = b.subarray(10);
      return {
        type,
        id: b.readUInt32BE(1),
        seq: b.readUInt32BE(5),
        fin: (flags & FIN) !== 0,
        payload: (flags & TEXT) !== 0 ? body.toString() : body,
      };
    }
    case ACK:
      need(b, 13, 'ACK');
      return {
        type,
        id: b.readUInt32BE(1),
        received: b.readUInt32BE(5),
        consumed: b.readUInt32BE(9),
      };
    case RESET:
      need(b, 5, 'RESET');
      return { type, id: b.readUInt32BE(1), reason: b.toString('utf8', 5) };
    default:
      throw new WsError('ERR_WS_PROTOCOL', `Unknown stream frame type ${String(type)}`);
  }
}

function need(b: Buffer, n: number, what: string): void {
  if (b.length < n) {
    throw new WsError('ERR_WS_PROTOCOL', `A ${what} frame needs ${n} bytes, got ${b.length}`);
  }
}

function version(v: number): void {
  if (v !== VERSION) {
    throw new WsError(
      'ERR_WS_PROTOCOL',
      `Stream framing version ${v} is not supported (${VERSION} is)`,
    );
  }
}
