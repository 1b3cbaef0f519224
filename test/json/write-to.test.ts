import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  createServer,
  get,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import {
  BufferPool,
  jsonArray,
  ndjson,
  toResponse,
  type WriteOutcome,
  writeTo,
} from '../../src/json/index.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function serve(handler: Handler): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

function request(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ res: IncomingMessage; body: Buffer; error: unknown }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, async (res) => {
      const parts: Buffer[] = [];
      let error: unknown;
      try {
        for await (const c of res) parts.push(c as Buffer);
      } catch (e) {
        error = e;
      }
      resolve({ res, body: Buffer.concat(parts), error });
    }).on('error', reject);
  });
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i, name: `row ${i}` }));

describe('writeTo', () => {
  test('streams a JSON array with its content type, plain, gzip and brotli', async () => {
    const data = rows(20_000);
    const outcomes: WriteOutcome[] = [];
    const url = await serve(async (req, res) => {
      const compress = req.url === '/plain' ? false : 'auto';
      outcomes.push(await writeTo(res, jsonArray(data), { compress }));
    });
    const plain = await request(`${url}plain`);
    assert.equal(plain.res.headers['content-type'], 'application/json; charset=utf-8');
    assert.deepEqual(JSON.parse(plain.body.toString()), data);
    const gz = await request(url, { 'accept-encoding': 'gzip' });
    assert.equal(gz.res.headers['content-encoding'], 'gzip');
    assert.deepEqual(JSON.parse(gunzipSync(gz.body).toString()), data);
    const br = await request(url, { 'accept-encoding': 'gzip, br' });
    assert.equal(br.res.headers['content-encoding'], 'br');
    assert.deepEqual(JSON.parse(brotliDecompressSync(br.body).toString()), data);
    assert.deepEqual(outcomes, ['finished', 'finished', 'finished']);
  });

  test('a client disconnect stops the source (its finally runs) and resolves "disconnected"', async () => {
    const closed = deferred();
    const outcome = deferred<WriteOutcome>();
    let produced = 0;
    async function* endless() {
      try {
        for (;;) {
          produced++;
          yield { n: produced, pad: 'p'.repeat(200) };
        }
      } finally {
        closed.resolve();
      }
    }
    const url = await serve(async (_req, res) => {
      outcome.resolve(await writeTo(res, ndjson(endless())));
    });
    await new Promise<void>((resolve) => {
      const req = get(url, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
    });
    await closed.promise;
    assert.equal(await outcome.promise, 'disconnected');
    // Backpressure held the producer back: it did not run on after the disconnect.
    const at = produced;
    await new Promise((r) => setImmediate(r));
    assert.equal(produced, at);
  });

  test('a failure mid-array destroys the response: the client gets no complete body', async () => {
    const failed = deferred<unknown>();
    async function* src() {
      for (let i = 0; i < 5000; i++) yield { i };
      throw new Error('cursor lost');
    }
    const url = await serve(async (_req, res) => {
      try {
        await writeTo(res, jsonArray(src()));
      } catch (e) {
        failed.resolve(e);
      }
    });
    const { body, error } = await request(url);
    assert.ok(error !== undefined, 'the client saw the transfer fail');
    assert.throws(() => JSON.parse(body.toString()));
    assert.match(String(await failed.promise), /cursor lost/);
  });

  test('buffer reuse under a slow consumer never corrupts the output', async () => {
    // A response that holds on to each chunk and reads it only later, as a socket does with
    // queued writes; it calls back once it has read the bytes.
    class SlowResponse extends Writable {
      headersSent = false;
      statusCode = 200;
      readonly headers = new Map<string, unknown>();
      readonly received: Buffer[] = [];
      constructor() {
        super({ highWaterMark: 256 });
      }
      setHeader(k: string, v: unknown) {
        this.headers.set(k.toLowerCase(), v);
      }
      override _write(chunk: Buffer, _enc: string, cb: (e?: Error | null) => void) {
        const later = (this.received.length % 3) + 1;
        let n = 0;
        const tick = () => {
          if (++n < later) return setImmediate(tick);
          this.received.push(Buffer.from(chunk));
          cb();
        };
        setImmediate(tick);
      }
    }
    const pool = new BufferPool({ bufferBytes: 97, max: 3 });
    const data = Array.from({ length: 3000 }, (_, i) => ({ i, s: `é${'x'.repeat(i % 50)}` }));
    const res = new SlowResponse();
    const outcome = await writeTo(
      res as unknown as ServerResponse,
      jsonArray(data, { bufferPool: pool }),
    );
    assert.equal(outcome, 'finished');
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.ok(Buffer.concat(res.received).equals(Buffer.from(JSON.stringify(data))));
    const stats = pool.stats();
    assert.ok(stats.reused > 100, `reused ${stats.reused}`);
    assert.ok(stats.allocated < stats.reused / 20, `allocated ${stats.allocated}`);
  });
});

describe('toResponse', () => {
  test('a web Response that streams the body, optionally gzipped', async () => {
    const data = rows(1000);
    const res = toResponse(ndjson(data));
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson; charset=utf-8');
    const lines = (await res.text()).trimEnd().split('\n');
    assert.deepEqual(
      lines.map((l) => JSON.parse(l)),
      data,
    );
    const gz = toResponse(jsonArray(data), { compress: 'gzip' });
    assert.equal(gz.headers.get('content-encoding'), 'gzip');
    const bytes = Buffer.from(await gz.arrayBuffer());
    assert.deepEqual(JSON.parse(gunzipSync(bytes).toString()), data);
  });

  test('cancelling the body stops the source; a failing source errors it', async () => {
    let closed = false;
    async function* endless() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const res = toResponse(jsonArray(endless(), { chunkBytes: 64 }));
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    assert.equal(closed, true);
    async function* failing() {
      yield 1;
      throw new Error('boom');
    }
    await assert.rejects(toResponse(jsonArray(failing())).text(), /boom/);
  });
});
