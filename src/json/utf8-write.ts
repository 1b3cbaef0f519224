// Writing JSON text into byte buffers as UTF-8, for the encoders in stringify.ts.

/**
 * @internal Node's UTF-8 writer behind `Buffer#write`, without its argument juggling: a
 * measurable share of the per-item cost. It has been on Buffer.prototype since Node 0.x.
 * It writes whole characters only, as many as fit in `length`, and returns the bytes.
 */
export type FastBuffer = Buffer & {
  utf8Write(s: string, offset: number, length: number): number;
};

// A text of more bytes than this gets a buffer of its own rather than the scratch one.
const MAX_SCRATCH = 256 * 1024;
let scratch: FastBuffer | undefined;

/**
 * @internal The UTF-8 bytes of `s`, for a text that overflows the room left in a chunk
 * buffer: a view of a reused scratch buffer when they are few, since the caller copies them
 * out at once and a batch overflows about every chunk; else a buffer of their own. Valid
 * only until the next call.
 */
export function encodeApart(s: string): Buffer {
  const most = s.length * 3;
  if (most > MAX_SCRATCH) return Buffer.from(s, 'utf8');
  if (scratch === undefined || scratch.length < most) {
    scratch = Buffer.allocUnsafeSlow(Math.max(most, 64 * 1024)) as FastBuffer;
  }
  return scratch.subarray(0, scratch.utf8Write(s, 0, most));
}
