// The options of one resilient connection, their defaults and their checks.
import type { ClientOptions } from 'ws';
import { type Clock, realClock } from '../internal/clock.js';
import { describe } from '../internal/errors.js';
import {
  checkFn,
  checkInt,
  checkKeys,
  checkMs,
  checkObject,
  type KeyList,
  optionKeys,
} from '../internal/options.js';
import { checkSignal } from '../internal/signals.js';

/**
 * Options of {@link connectWs}. Times are in milliseconds; `Infinity` turns a limit off.
 * @example
 * const options: WsOptions = { pingIntervalMs: 15_000, maxBufferedBytes: 256 * 1024 };
 */
export interface WsOptions {
  /** Subprotocols offered in the handshake. */
  protocols?: string | string[];
  /** Extra handshake headers (an `Authorization`, say). */
  headers?: Record<string, string>;
  /**
   * Further options of the `ws` client (`perMessageDeflate`, `maxPayload`, `agent`, TLS).
   * `handshakeTimeout` and `autoPong` are weir's: use `connectTimeoutMs`.
   */
  ws?: Omit<ClientOptions, 'handshakeTimeout' | 'autoPong' | 'headers'>;
  /**
   * A ping goes out this often while the connection is open; a connection whose pong does
   * not come back within `pongTimeoutMs` is terminated and replaced, so a half-open
   * connection is noticed within `pingIntervalMs + pongTimeoutMs` (at most twice the
   * interval). `Infinity` turns the heartbeat off.
   * @default 30_000 ms
   */
  pingIntervalMs?: number;
  /** How long a pong may take; at most `pingIntervalMs`. @default 10_000 ms */
  pongTimeoutMs?: number;
  /** A handshake that takes longer is abandoned and counts as a failed attempt. @default 10_000 ms */
  connectTimeoutMs?: number;
  /**
   * How long `close()` waits for the server's closing handshake before the socket is
   * destroyed, so that it never lingers in CLOSING.
   * @default 1_000 ms
   */
  closeTimeoutMs?: number;
  /**
   * The full-jitter window of the first reconnection: its delay is drawn uniformly from
   * [0, `reconnectDelayMs`), by each connection for itself, so a thousand connections
   * dropped at once come back spread over the window; the window doubles with each failed
   * attempt in a row, up to `maxReconnectDelayMs`.
   * @default 5_000 ms
   */
  reconnectDelayMs?: number;
  /** Cap of the reconnection window. @default 30_000 ms */
  maxReconnectDelayMs?: number;
  /**
   * Reconnections tried in a row without the connection opening; then it closes with
   * `ERR_WS_RETRIES_EXHAUSTED`. `0` never reconnects.
   * @default Infinity
   */
  maxRetries?: number;
  /**
   * Whether a close code from the server ends the connection for good (`ERR_WS_FATAL_CLOSE`)
   * instead of reconnecting.
   * @default 1002, 1003, 1007, 1008 (policy violation), 1009, 1010 and 4000–4999 are fatal
   */
  isFatalClose?: (code: number, reason: string) => boolean;
  /**
   * Bound of what is waiting to go out, in bytes: the socket's `bufferedAmount` plus weir's
   * own queue (which holds sends while reconnecting). `send()` waits while it is reached,
   * so at most one message more than this is ever buffered.
   * @default 1_048_576 (1 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Bound of received messages waiting to be read, in bytes: past it the socket stops
   * reading (the server's sends then push back) until the reader catches up. While reading
   * is paused by this bound the heartbeat waits too: the stall is the reader's, not the
   * network's.
   * @default 1_048_576 (1 MiB)
   */
  maxInboxBytes?: number;
  /** A `send()` that waits longer for room fails with `ERR_WS_SEND_TIMEOUT`. @default Infinity */
  sendTimeoutMs?: number;
  /** Aborting it closes the connection at once (the socket is destroyed, waiters rejected). */
  signal?: AbortSignal;
  /** Source of time for every timer of the connection. @default the real clock */
  clock?: Clock;
  /** Source of randomness for the reconnection jitter, in [0, 1). @default Math.random */
  random?: () => number;
}

/** @internal */
export const WS_OPTION_KEYS: KeyList<WsOptions> = {
  protocols: 1,
  headers: 1,
  ws: 1,
  pingIntervalMs: 1,
  pongTimeoutMs: 1,
  connectTimeoutMs: 1,
  closeTimeoutMs: 1,
  reconnectDelayMs: 1,
  maxReconnectDelayMs: 1,
  maxRetries: 1,
  isFatalClose: 1,
  maxBufferedBytes: 1,
  maxInboxBytes: 1,
  sendTimeoutMs: 1,
  signal: 1,
  clock: 1,
  random: 1,
};
const KEYS = optionKeys<WsOptions>(WS_OPTION_KEYS);

/** @internal Options after validation. */
export interface ResolvedWsOptions {
  url: string;
  protocols: string | string[] | undefined;
  client: ClientOptions;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  connectTimeoutMs: number;
  closeTimeoutMs: number;
  reconnectDelayMs: number;
  maxReconnectDelayMs: number;
  maxRetries: number;
  isFatalClose: (code: number, reason: string) => boolean;
  maxBufferedBytes: number;
  maxInboxBytes: number;
  sendTimeoutMs: number;
  signal: AbortSignal | undefined;
  clock: Clock;
  random: () => number;
}

/** The default of {@link WsOptions.isFatalClose}. */
export function defaultIsFatalClose(code: number): boolean {
  return (
    code === 1002 ||
    code === 1003 ||
    code === 1007 ||
    code === 1008 ||
    code === 1009 ||
    code === 1010 ||
    (code >= 4000 && code <= 4999)
  );
}

/**
 * @internal Checks the URL and options of a connection.
 * @throws {TypeError|RangeError} naming the bad option.
 */
export function resolveWsOptions(
  url: unknown,
  options: WsOptions | undefined,
  where = 'connectWs',
): ResolvedWsOptions {
  checkObject('options', options);
  checkKeys(where, options, KEYS);
  const o = options ?? {};
  const href = checkUrl(url);
  const pingIntervalMs = checkMs('pingIntervalMs', o.pingIntervalMs ?? 30_000, 1);
  const pongTimeoutMs = checkMs(
    'pongTimeoutMs',
    o.pongTimeoutMs ?? Math.min(10_000, pingIntervalMs),
    1,
  );
  if (pongTimeoutMs > pingIntervalMs) {
    throw new RangeError(
      `Expected \`pongTimeoutMs\` to be at most \`pingIntervalMs\` (${pingIntervalMs}), got ${describe(pongTimeoutMs)}`,
    );
  }
  const reconnectDelayMs = checkMs('reconnectDelayMs', o.reconnectDelayMs ?? 5_000, 0, false);
  const maxReconnectDelayMs = checkMs(
    'maxReconnectDelayMs',
    o.maxReconnectDelayMs ?? Math.max(30_000, reconnectDelayMs),
    0,
    false,
  );
  if (maxReconnectDelayMs < reconnectDelayMs) {
    throw new RangeError(
      `Expected \`maxReconnectDelayMs\` to be at least \`reconnectDelayMs\` (${reconnectDelayMs}), got ${describe(maxReconnectDelayMs)}`,
    );
  }
  if (o.protocols !== undefined && typeof o.protocols !== 'string' && !Array.isArray(o.protocols)) {
    throw new TypeError(
      `Expected \`protocols\` to be a string or an array of strings, got ${describe(o.protocols)}`,
    );
  }
  checkObject('headers', o.headers);
  checkObject('ws', o.ws);
  for (const refused of ['handshakeTimeout', 'autoPong', 'headers'] as const) {
    if ((o.ws as Record<string, unknown> | undefined)?.[refused] !== undefined) {
      throw new TypeError(
        `\`ws.${refused}\` is set by weir: use ${refused === 'headers' ? '`headers`' : '`connectTimeoutMs` and the heartbeat options'}`,
      );
    }
  }
  const clock = o.clock ?? realClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.setTimeout !== 'function') {
    throw new TypeError(`Expected \`clock\` to be a Clock, got ${describe(clock)}`);
  }
  const client: ClientOptions = { ...o.ws, autoPong: true };
  if (o.headers !== undefined) client.headers = { ...o.headers };
  return {
    url: href,
    protocols: o.protocols,
    client,
    pingIntervalMs,
    pongTimeoutMs,
    connectTimeoutMs: checkMs('connectTimeoutMs', o.connectTimeoutMs ?? 10_000, 1),
    closeTimeoutMs: checkMs('closeTimeoutMs', o.closeTimeoutMs ?? 1_000, 0),
    reconnectDelayMs,
    maxReconnectDelayMs,
    maxRetries: checkInt('maxRetries', o.maxRetries ?? Number.POSITIVE_INFINITY, 0, true),
    isFatalClose:
      checkFn<(code: number, reason: string) => boolean>('isFatalClose', o.isFatalClose, false) ??
      defaultIsFatalClose,
    maxBufferedBytes: checkInt('maxBufferedBytes', o.maxBufferedBytes ?? 1_048_576, 1),
    maxInboxBytes: checkInt('maxInboxBytes', o.maxInboxBytes ?? 1_048_576, 1),
    sendTimeoutMs: checkMs('sendTimeoutMs', o.sendTimeoutMs ?? Number.POSITIVE_INFINITY, 1),
    signal: checkSignal(o.signal),
    clock,
    random: checkFn<() => number>('random', o.random, false) ?? Math.random,
  };
}

function checkUrl(url: unknown): string {
  const text = url instanceof URL ? url.href : url;
  if (typeof text !== 'string') {
    throw new TypeError(`Expected \`url\` to be a ws:// or wss:// URL, got ${describe(url)}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new TypeError(`Expected \`url\` to be a ws:// or wss:// URL, got ${describe(url)}`);
  }
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(parsed.protocol)) {
    throw new TypeError(`Expected \`url\` to be a ws:// or wss:// URL, got ${describe(url)}`);
  }
  return parsed.href;
}
