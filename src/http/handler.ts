import type { Dispatcher } from 'undici';

/**
 * The callback shape undici's Client drives (`onConnect`, `onHeaders`, `onData`,
 * `onComplete`, `onError`). undici's own `request` and `fetch` pass handlers of this shape;
 * handlers of the newer shape (`onRequestStart`, `onResponseStart`…) are adapted to it.
 * @internal
 */
export interface LegacyHandler {
  onConnect?(abort: (reason?: unknown) => void, context?: unknown): void;
  /** A chunk of the request body was written (undici's Client and the HTTP/2 session call it). */
  onBodySent?(chunk: unknown): void;
  /** The whole request was written. */
  onRequestSent?(): void;
  onResponseStarted?(): void;
  onHeaders?(
    statusCode: number,
    rawHeaders: Buffer[],
    resume: () => void,
    statusText: string,
  ): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(trailers: Buffer[] | null): void;
  onError?(error: Error): void;
  onUpgrade?(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: unknown): void;
}

type NewHandler = {
  onRequestStart?(controller: Controller, context: unknown): void;
  onRequestUpgrade?(
    controller: Controller,
    status: number,
    headers: Record<string, string | string[]>,
    socket: unknown,
  ): void;
  onResponseStart?(
    controller: Controller,
    status: number,
    headers: Record<string, string | string[]>,
    statusText?: string,
  ): void;
  onResponseData?(controller: Controller, chunk: Buffer): void;
  onResponseEnd?(controller: Controller, trailers: Record<string, string | string[]>): void;
  onResponseError?(controller: Controller, error: Error): void;
};

/** The controller a new-style handler gets; the same members as undici's own. */
class Controller {
  paused = false;
  aborted = false;
  reason: unknown = null;
  resumeFn: (() => void) | null = null;
  /** The response's raw headers and trailers, as undici's controller has them. */
  rawHeaders: Buffer[] | string[] | null = null;
  rawTrailers: Buffer[] | null = null;
  readonly #abort: (reason?: unknown) => void;
  constructor(abort: (reason?: unknown) => void) {
    this.#abort = abort;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.resumeFn?.();
  }
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#abort(reason);
  }
}

/** Parses undici's raw header list into a record with lower-case names. */
export function parseRawHeaders(
  raw: Buffer[] | string[] | null | undefined,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (raw == null) return out;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString().toLowerCase();
    const value = raw[i + 1]!.toString('latin1' as never);
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
  }
  return out;
}

/** @internal Gives any dispatch handler the callback shape the Client drives. */
export function toLegacy(handler: Dispatcher.DispatchHandler): LegacyHandler {
  const h = handler as NewHandler & LegacyHandler;
  if (typeof h.onRequestStart !== 'function' && typeof h.onResponseStart !== 'function') return h;
  let controller = new Controller(() => {});
  return {
    onConnect(abort, context) {
      controller = new Controller(abort);
      h.onRequestStart?.(controller, context);
    },
    onUpgrade(status, raw, socket) {
      controller.rawHeaders = raw;
      h.onRequestUpgrade?.(controller, status, parseRawHeaders(raw), socket);
    },
    onHeaders(status, raw, resume, statusText) {
      controller.resumeFn = resume;
      controller.rawHeaders = raw;
      h.onResponseStart?.(controller, status, parseRawHeaders(raw), statusText);
      return !controller.paused;
    },
    onData(chunk) {
      h.onResponseData?.(controller, chunk);
      return !controller.paused;
    },
    onComplete(trailers) {
      controller.rawTrailers = trailers;
      h.onResponseEnd?.(controller, parseRawHeaders(trailers));
    },
    onError(error) {
      h.onResponseError?.(controller, error);
    },
  };
}
