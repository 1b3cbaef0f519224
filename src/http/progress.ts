import { createWriteStream, promises as fs } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Clock } from '../internal/clock.js';
import { checkKeys, optionKeys } from '../internal/options.js';
import type { RequestBody } from './body.js';
import { knownLength, toDispatchBody } from './body.js';
import { HttpError } from './errors.js';
import { originOf } from './origin.js';
import type { Requester } from './types.js';

/** One progress report of a transfer. */
export interface Progress {
  /** Bytes transferred so far (for a resumed download, including the bytes already on disk). */
  bytes: number;
  /** Total bytes, when the server (or the caller) said. */
  total: number | undefined;
  /** Average bytes per second since the transfer started (this run only). */
  rate: number;
  /** True on the last report, once the transfer completed. */
  done: boolean;
}

/** Options of {@link HttpPool.download} and {@link HttpPool.upload}. */
export interface TransferOptions {
  /** Called with progress, at most once per `progressIntervalMs` and once at the end. */
  onProgress?: (progress: Progress) => void;
  /** @default 100 ms */
  progressIntervalMs?: number;
  /** Aborts the transfer. */
  signal?: AbortSignal;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

/** Options of {@link HttpPool.download}. */
export interface DownloadOptions extends TransferOptions {
  /**
   * Continue a partial file: ask for the rest with `Range: bytes=<size>-` and append it.
   * A server that answers 200 instead of 206 sends the whole file, which then replaces it.
   * Only for a destination path. @default false
   */
  resume?: boolean;
}

/** Options of {@link HttpPool.upload}. */
export interface UploadOptions extends TransferOptions {
  /** @default 'PUT' */
  method?: 'PUT' | 'POST' | 'PATCH';
  /** The body's size in bytes, when it is a stream (sent as `content-length`). */
  size?: number;
}

const DOWNLOAD_KEYS = optionKeys<DownloadOptions>({
  onProgress: 1,
  progressIntervalMs: 1,
  signal: 1,
  headers: 1,
  resume: 1,
});
const UPLOAD_KEYS = optionKeys<UploadOptions>({
  onProgress: 1,
  progressIntervalMs: 1,
  signal: 1,
  headers: 1,
  method: 1,
  size: 1,
});

/** The outcome of a transfer. */
export interface TransferResult {
  status: number;
  /** Bytes transferred in this run. */
  bytes: number;
  headers: Record<string, string | string[]>;
}

/** Throttles progress reports to one per interval, plus the final one. */
class Meter {
  readonly #clock: Clock;
  readonly #fn: ((p: Progress) => void) | undefined;
  readonly #interval: number;
  readonly #start: number;
  readonly #base: number;
  #last = Number.NEGATIVE_INFINITY;
  bytes: number;
  total: number | undefined;

  constructor(clock: Clock, o: TransferOptions, base: number, total: number | undefined) {
    this.#clock = clock;
    this.#fn = o.onProgress;
    this.#interval = o.progressIntervalMs ?? 100;
    this.#start = clock.now();
    this.#base = base;
    this.bytes = base;
    this.total = total;
  }

  add(n: number): void {
    this.bytes += n;
    if (this.#fn === undefined) return;
    const now = this.#clock.now();
    if (now - this.#last < this.#interval) return;
    this.#last = now;
    this.#report(now, false);
  }

  end(): void {
    if (this.#fn !== undefined) this.#report(this.#clock.now(), true);
  }

  #report(now: number, done: boolean): void {
    const elapsed = (now - this.#start) / 1000;
    const moved = this.bytes - this.#base;
    this.#fn!({
      bytes: this.bytes,
      total: this.total,
      rate: elapsed > 0 ? moved / elapsed : 0,
      done,
    });
  }
}

function header(h: Record<string, string | string[]>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * @internal Downloads `url` into a file or a Writable, with backpressure (the connection
 * is read only as fast as the destination writes).
 */
export async function download(
  pool: Requester,
  clock: Clock,
  url: string | URL,
  destination: string | Writable,
  options: DownloadOptions = {},
): Promise<TransferResult> {
  checkKeys('HttpPool.download', options, DOWNLOAD_KEYS);
  let offset = 0;
  const headers: Record<string, string> = { ...options.headers };
  if (options.resume === true && typeof destination === 'string') {
    offset = await fs.stat(destination).then(
      (s) => s.size,
      () => 0,
    );
    if (offset > 0) headers.range = `bytes=${offset}-`;
  }
  const res = await pool.request(url, {
    headers,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  if (res.status === 416 && offset > 0) {
    // Asked for bytes past the end: the file is already complete.
    await res.body.dump();
    const meter = new Meter(clock, options, offset, offset);
    meter.end();
    return { status: res.status, bytes: 0, headers: res.headers };
  }
  if (res.status < 200 || res.status >= 300) {
    await res.body.dump();
    throw new HttpError(
      'ERR_HTTP_STATUS',
      originOf(url).key,
      `Download failed with status ${res.status}`,
    );
  }
  const appending = res.status === 206 && offset > 0;
  if (!appending) offset = 0;
  const length = Number(header(res.headers, 'content-length'));
  const total = Number.isFinite(length) ? offset + length : undefined;
  const meter = new Meter(clock, options, offset, total);
  const out =
    typeof destination === 'string'
      ? createWriteStream(destination, { flags: appending ? 'a' : 'w' })
      : destination;
  try {
    for await (const chunk of res.body) {
      meter.add(chunk.byteLength);
      if (!out.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = (): void => {
            out.off('error', onError);
            resolve();
          };
          const onError = (e: Error): void => {
            out.off('drain', onDrain);
            reject(e);
          };
          out.once('drain', onDrain);
          out.once('error', onError);
        });
      }
    }
  } finally {
    if (typeof destination === 'string') {
      await new Promise<void>((resolve) => out.end(resolve));
    }
  }
  meter.end();
  return {
    status: res.status,
    bytes: meter.bytes - (appending ? offset : 0),
    headers: res.headers,
  };
}

/** @internal Uploads `source`, counting bytes as undici pulls them (so as the socket drains). */
export async function upload(
  pool: Requester,
  clock: Clock,
  url: string | URL,
  source: RequestBody,
  options: UploadOptions = {},
): Promise<TransferResult> {
  checkKeys('HttpPool.upload', options, UPLOAD_KEYS);
  const size = options.size ?? knownLength(source);
  const meter = new Meter(clock, options, 0, size);
  const body = toDispatchBody(source);
  async function* counted(): AsyncGenerator<Uint8Array> {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      // Sent in slices, so that progress follows the socket rather than jumping to the end.
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      for (let i = 0; i < bytes.byteLength; i += 64 * 1024) {
        const slice = bytes.subarray(i, i + 64 * 1024);
        meter.add(slice.byteLength);
        yield slice;
      }
      return;
    }
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      meter.add(bytes.byteLength);
      yield bytes;
    }
  }
  const headers: Record<string, string> = { ...options.headers };
  if (size !== undefined) headers['content-length'] = String(size);
  const res = await pool.request(url, {
    method: options.method ?? 'PUT',
    headers,
    body: counted(),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  await res.body.dump();
  if (res.status < 200 || res.status >= 300) {
    throw new HttpError(
      'ERR_HTTP_STATUS',
      originOf(url).key,
      `Upload failed with status ${res.status}`,
    );
  }
  meter.end();
  return { status: res.status, bytes: meter.bytes, headers: res.headers };
}
