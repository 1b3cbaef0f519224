import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { Channel, isWeirError } from '../../src/channel/index.js';
import { flush } from '../../src/internal/clock.js';
import { stream } from '../../src/stream/index.js';
import { range, trackedAsync } from './helpers.js';

describe('Node streams', () => {
  test('reads a Node Readable, and destroys it on early exit', async () => {
    const r = Readable.from(range(10));
    assert.deepEqual(await stream(r).take(3).toArray(), [0, 1, 2]);
    assert.equal(r.destroyed, true);
    assert.deepEqual(await stream(Readable.from(['a', 'b'])).toArray(), ['a', 'b']);
  });

  test('toReadable pulls lazily and closes the pipeline when destroyed', async () => {
    const { gen, log } = trackedAsync(range(1000));
    const readable = stream(gen())
      .map((x) => x * 2)
      .toReadable();
    assert.equal(log.pulled, 0);
    const out: number[] = [];
    for await (const x of readable) {
      out.push(x as number);
      if (out.length === 3) break;
    }
    assert.deepEqual(out, [0, 2, 4]);
    await flush();
    assert.equal(log.returned, true);
    assert.ok(log.pulled < 10, `pulled ${log.pulled}`);
  });

  test('pipeTo a Writable honours its backpressure and ends it', async () => {
    const written: number[] = [];
    let pending: (() => void) | undefined;
    let maxQueued = 0;
    const w = new Writable({
      objectMode: true,
      highWaterMark: 2,
      write(chunk, _enc, cb) {
        written.push(chunk as number);
        pending = cb;
      },
    });
    const { gen, log } = trackedAsync(range(20));
    const p = stream(gen()).pipeTo(w);
    for (let i = 0; i < 100 && !w.writableFinished; i++) {
      await flush(1);
      maxQueued = Math.max(maxQueued, log.pulled - written.length);
      const cb = pending;
      pending = undefined;
      cb?.();
    }
    await p;
    assert.deepEqual(written, range(20));
    assert.equal(w.writableFinished, true);
    assert.ok(maxQueued <= 3, `the source ran ${maxQueued} items ahead of a slow Writable`);
  });

  test('pipeTo destroys the Writable when the stream fails', async () => {
    const w = new Writable({ objectMode: true, write: (_c, _e, cb) => cb() });
    w.on('error', () => {});
    async function* bad() {
      yield 1;
      throw new Error('source failed');
    }
    await assert.rejects(stream(bad()).pipeTo(w), /source failed/);
    assert.equal(w.destroyed, true);
  });
});

describe('WHATWG streams', () => {
  test('reads a ReadableStream, and cancels it on early exit', async () => {
    let cancelled = false;
    let i = 0;
    const rs = new ReadableStream<number>({
      pull(c) {
        c.enqueue(i++);
      },
      cancel() {
        cancelled = true;
      },
    });
    assert.deepEqual(await stream(rs).take(3).toArray(), [0, 1, 2]);
    assert.equal(cancelled, true);
    assert.equal(rs.locked, false);
  });

  test('toReadableStream pulls only when read; cancel closes the pipeline', async () => {
    const { gen, log } = trackedAsync(range(100));
    const rs = stream(gen()).toReadableStream();
    await flush();
    assert.equal(log.pulled, 0);
    const reader = rs.getReader();
    assert.deepEqual(await reader.read(), { done: false, value: 0 });
    await reader.cancel();
    assert.equal(log.returned, true);
    assert.deepEqual(
      await new Response(
        stream(['a', 'b'])
          .map((s) => new TextEncoder().encode(s))
          .toReadableStream(),
      ).text(),
      'ab',
    );
  });

  test('pipeTo a WritableStream waits for its ready and closes it', async () => {
    const written: number[] = [];
    const ws = new WritableStream<number>(
      {
        async write(chunk) {
          await flush(1);
          written.push(chunk);
        },
      },
      { highWaterMark: 2 },
    );
    await stream(range(10)).pipeTo(ws);
    assert.deepEqual(written, range(10));
    assert.equal(ws.locked, false);
  });

  test('pipeTo aborts a WritableStream when the stream fails', async () => {
    let aborted: unknown;
    const ws = new WritableStream<number>({
      abort(reason) {
        aborted = reason;
      },
    });
    await assert.rejects(
      stream([1, 2])
        .map(() => {
          throw new Error('map failed');
        })
        .pipeTo(ws),
      /map failed/,
    );
    assert.match(String(aborted), /map failed/);
  });
});

describe('channels', () => {
  test('stream(channel) drains it until closed; stopping early leaves it open', async () => {
    const ch = new Channel<number>(4);
    void (async () => {
      for (let i = 0; i < 6; i++) await ch.send(i);
      ch.close();
    })();
    assert.deepEqual(
      await stream(ch)
        .map((x) => x + 1)
        .toArray(),
      [1, 2, 3, 4, 5, 6],
    );
    const open = new Channel<number>(2);
    open.trySend(1);
    open.trySend(2);
    assert.equal(await stream(open).first(), 1);
    assert.equal(open.closed, false);
    assert.equal(open.length, 1);
  });

  test('an abort cancels a pending channel receive', async () => {
    const ch = new Channel<number>();
    const ac = new AbortController();
    const p = stream(ch).toArray({ signal: ac.signal });
    await flush();
    assert.equal(ch.waiting.receivers, 1);
    ac.abort('stop');
    await assert.rejects(p, (e) => e === 'stop');
    assert.equal(ch.waiting.receivers, 0);
  });

  test('pipeTo(channel) waits for the receiver and closes the channel at the end', async () => {
    const ch = new Channel<number>(1);
    const p = stream(range(5)).pipeTo(ch);
    const got: number[] = [];
    for await (const x of ch) got.push(x);
    await p;
    assert.deepEqual(got, range(5));
    assert.equal(ch.closed, true);
  });

  test('pipeTo(channel) fails with ERR_CHANNEL_CLOSED when the channel is closed under it', async () => {
    const ch = new Channel<number>();
    const { gen, log } = trackedAsync(range(100));
    const p = stream(gen()).pipeTo(ch);
    await ch.receive();
    ch.close();
    await assert.rejects(p, (e) => isWeirError(e, 'ERR_CHANNEL_CLOSED'));
    assert.equal(log.returned, true);
  });

  test('pipeTo rejects an unknown destination', async () => {
    await assert.rejects(stream([1]).pipeTo({} as never), /`destination`/);
  });
});
