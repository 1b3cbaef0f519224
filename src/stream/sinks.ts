import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Channel } from '../channel/channel.js';
import { noop, type Run } from './pull.js';

type Drive<T> = (makeEach: (run: Run) => (value: T) => unknown) => Promise<void>;

/** @internal */
export async function pipeToChannel<T>(
  drive: Drive<T>,
  ch: Channel<T>,
  close: boolean,
): Promise<void> {
  await drive((run) => {
    const opts = { signal: run.signal };
    return (v) => (ch.trySend(v) ? undefined : ch.send(v, opts));
  });
  if (close) ch[Symbol.dispose]();
}

/** @internal */
export async function pipeToWritable<T>(
  drive: Drive<T>,
  w: Writable,
  close: boolean,
): Promise<void> {
  try {
    await drive(() => (v) => {
      if (w.destroyed) throw w.errored ?? new Error('The destination Writable was destroyed');
      if (!w.write(v)) return drained(w);
    });
  } catch (error) {
    if (close && !w.destroyed) w.destroy(error as Error);
    throw error;
  }
  if (close) {
    w.end();
    await finished(w);
  }
}

function drained(w: Writable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (): void => {
      w.off('drain', onDrain);
      w.off('error', onError);
      w.off('close', onClose);
    };
    const onDrain = (): void => {
      done();
      resolve();
    };
    const onError = (error: Error): void => {
      done();
      reject(error);
    };
    const onClose = (): void => {
      done();
      reject(w.errored ?? new Error('The destination Writable closed before the stream ended'));
    };
    w.on('drain', onDrain);
    w.on('error', onError);
    w.on('close', onClose);
  });
}

/** @internal */
export async function pipeToWritableStream<T>(
  drive: Drive<T>,
  ws: WritableStream<T>,
  close: boolean,
): Promise<void> {
  const writer = ws.getWriter();
  try {
    await drive(() => (v) => {
      // A failed write also fails `ready`, which is where the error is reported.
      writer.write(v).catch(noop);
      if ((writer.desiredSize ?? 1) <= 0) return writer.ready;
    });
    if (close) await writer.close();
  } catch (error) {
    if (close) await writer.abort(error).catch(noop);
    throw error;
  } finally {
    writer.releaseLock();
  }
}
