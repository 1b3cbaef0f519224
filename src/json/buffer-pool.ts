import { checkInt, checkKeys, checkObject, optionKeys } from '../internal/options.js';

/** Options of {@link BufferPool}. */
export interface BufferPoolOptions {
  /** Size of every buffer, in bytes. @default 32768 (32 KiB) */
  bufferBytes?: number | undefined;
  /**
   * How many idle buffers the pool keeps at most; a buffer put back beyond that is left
   * to the garbage collector. It bounds the memory the pool holds, not how many buffers
   * may be out at once (`get()` allocates when the pool is empty).
   * @default 16
   */
  max?: number | undefined;
  /** How many buffers to allocate up front (at most `max`). @default 0 */
  initial?: number | undefined;
}

const BUFFER_POOL_KEYS = optionKeys<BufferPoolOptions>({ bufferBytes: 1, max: 1, initial: 1 });

/** Counters of a {@link BufferPool}, for tests and metrics. */
export interface BufferPoolStats {
  /** Buffers waiting in the pool. */
  idle: number;
  /** Buffers handed out by `get()` and not yet put back. */
  out: number;
  /** Buffers allocated over the pool's life. */
  allocated: number;
  /** `get()` calls served from the pool, without allocating. */
  reused: number;
}

// Which pool owns a buffer, keyed by its ArrayBuffer: a chunk handed to a consumer may be a
// view over part of a pooled buffer, and the view's `.buffer` finds it again.
const owners = new WeakMap<ArrayBufferLike, BufferPool>();

/**
 * A bounded free list of equal-sized byte buffers. The JSON streamer takes its chunk
 * buffers from one, so that steady-state streaming allocates no new chunk memory; a
 * consumer gives a chunk back with {@link BufferPool.put} (or {@link releaseChunk}) once
 * it is done with the bytes, that is when the write's callback has fired. A buffer that
 * is never given back is simply garbage collected.
 *
 * @throws {TypeError|RangeError} at construction for a bad option.
 * @example
 * const pool = new BufferPool({ bufferBytes: 64 * 1024, max: 8 });
 * const buf = pool.get();
 * socket.write(buf, () => pool.put(buf)); // never before the callback
 */
export class BufferPool {
  /** Size of every buffer, in bytes. */
  readonly bufferBytes: number;
  /** How many idle buffers are kept at most. */
  readonly max: number;
  readonly #idle: Buffer[] = [];
  // ArrayBuffer → its full-length Buffer, for buffers that are out. A put() of a buffer
  // that is not out (twice, or foreign) is a no-op, never a double return.
  readonly #out = new WeakMap<ArrayBufferLike, Buffer>();
  #outCount = 0;
  #allocated = 0;
  #reused = 0;

  constructor(options?: BufferPoolOptions) {
    checkObject('options', options);
    checkKeys('BufferPool', options, BUFFER_POOL_KEYS);
    this.bufferBytes = checkInt('bufferBytes', options?.bufferBytes ?? 32 * 1024, 1);
    this.max = checkInt('max', options?.max ?? 16, 0);
    const initial = checkInt('initial', options?.initial ?? 0, 0);
    if (initial > this.max) {
      throw new RangeError(
        `Expected \`initial\` to be <= \`max\` (${this.max}), got ${initial} (number)`,
      );
    }
    for (let i = 0; i < initial; i++) this.#idle.push(this.#allocate());
  }

  /** A buffer of `bufferBytes` bytes (contents unspecified), from the pool or new. */
  get(): Buffer {
    let buf = this.#idle.pop();
    if (buf === undefined) buf = this.#allocate();
    else this.#reused++;
    this.#out.set(buf.buffer, buf);
    this.#outCount++;
    return buf;
  }

  /**
   * Gives back a buffer from {@link BufferPool.get}, or any view over it (a chunk). Call it
   * only when nothing reads the bytes any more. Returns whether the buffer went back: a
   * buffer of another pool, or one already given back, is ignored.
   */
  put(chunk: Uint8Array): boolean {
    const buf = this.#out.get(chunk.buffer);
    if (buf === undefined) return false;
    this.#out.delete(chunk.buffer);
    this.#outCount--;
    if (this.#idle.length < this.max) this.#idle.push(buf);
    return true;
  }

  /** Counters: idle, out, allocated, reused. */
  stats(): BufferPoolStats {
    return {
      idle: this.#idle.length,
      out: this.#outCount,
      allocated: this.#allocated,
      reused: this.#reused,
    };
  }

  #allocate(): Buffer {
    // allocUnsafeSlow: a buffer of its own, never a slice of Node's shared slab, so that
    // its ArrayBuffer identifies it.
    const buf = Buffer.allocUnsafeSlow(this.bufferBytes);
    owners.set(buf.buffer, this);
    this.#allocated++;
    return buf;
  }
}

/**
 * Gives a chunk back to the {@link BufferPool} it came from, whichever that is; a chunk
 * from no pool is ignored. Returns whether it went back. Call it when the consumer is done
 * with the bytes (a write's callback), never earlier.
 * @example res.write(chunk, (err) => { if (!err) releaseChunk(chunk); });
 */
export function releaseChunk(chunk: Uint8Array): boolean {
  return owners.get(chunk.buffer)?.put(chunk) ?? false;
}
