// Reading a web `ReadableStream` as an async iterable, for the modules that take one from
// a caller or a fetch (the SSE client's response body; the HTTP request body is the same
// loop). The stream module's `ReaderPull` (stream/sources.ts) reads a reader directly in
// its pull protocol instead: it hands `read()`'s result on as the step, with no generator
// between, and reports a failing cancel to the run's `onCleanupError`.

/**
 * @internal Yields the chunks of `rs` until it ends. Stopping early, or an error, releases
 * the reader; with `cancel`, the stream is cancelled first (its error swallowed: the
 * caller is done with it either way), so the source behind it stops producing.
 */
export async function* readChunks<T>(rs: ReadableStream<T>, cancel: boolean): AsyncGenerator<T> {
  const reader = rs.getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    if (cancel) reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
