import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import axios from 'axios';
import { createHttpPool, type Progress } from '../../src/http/index.js';
import { FakeClock } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { httpServer, httpsServer, type Running, testCert } from './servers.js';

const servers: Running[] = [];
const dirs: string[] = [];
after(async () => {
  for (const s of servers) await s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('as a Node http.Agent', () => {
  test('axios and http.get reuse pooled keep-alive sockets', async () => {
    const sockets = new Set<unknown>();
    const s = await httpServer((req, res) => {
      sockets.add(req.socket);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url }));
    });
    servers.push(s);
    const pool = createHttpPool({ connections: 2 });
    const agent = pool.toHttpAgent();
    for (let i = 0; i < 5; i++) {
      const r = await axios.get(`${s.url}/a${i}`, { httpAgent: agent, proxy: false });
      assert.deepEqual(r.data, { url: `/a${i}` });
    }
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get(`${s.url}/node`, { agent }, (res) => {
          let t = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            t += c;
          });
          res.on('end', () => resolve(t));
        })
        .on('error', reject);
    });
    assert.equal(body, '{"url":"/node"}');
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        axios.get(`${s.url}/c${i}`, { httpAgent: agent, proxy: false }),
      ),
    );
    assert.equal(sockets.size, 2, 'never more than `connections` sockets');
    // Counted with the pool's own figures.
    const st = pool.stats();
    assert.equal(st.opened, 2);
    assert.equal(st.requests, 12);
    assert.deepEqual(agent.stats().requests, 12);
    agent.destroy();
    await pool.close();
  });

  test('an https agent checks certificates; a down server fails the request with ERR_HTTP_CONNECT', async () => {
    const s = await httpsServer((_q, r) => r.end('tls'));
    servers.push(s);
    const pool = createHttpPool({ tls: { ca: (await testCert()).cert } });
    const agent = pool.toHttpsAgent();
    const url = s.url.replace('127.0.0.1', 'localhost');
    const r = await axios.get(`${url}/`, { httpsAgent: agent, proxy: false, responseType: 'text' });
    assert.equal(r.data, 'tls');
    const strict = createHttpPool().toHttpsAgent();
    await assert.rejects(axios.get(`${url}/`, { httpsAgent: strict, proxy: false }), (e: unknown) =>
      isWeirError((e as { cause?: unknown }).cause ?? e, 'ERR_HTTP_TLS'),
    );
    const probe = await httpServer((_q, res) => res.end());
    await probe.close();
    await assert.rejects(
      axios.get(`http://127.0.0.1:${probe.port}/`, { httpAgent: pool.toHttpAgent(), proxy: false }),
      (e: unknown) => isWeirError((e as { cause?: unknown }).cause ?? e, 'ERR_HTTP_CONNECT'),
    );
    agent.destroy();
    strict.destroy();
    await pool.close();
  });
});

describe('downloads and uploads', () => {
  const data = Buffer.alloc(1024 * 1024, 7);
  async function fileServer(): Promise<Running> {
    const s = await httpServer(async (req, res) => {
      if (req.method === 'PUT') {
        let n = 0;
        for await (const c of req) n += (c as Buffer).length;
        res.end(String(n));
        return;
      }
      const range = /bytes=(\d+)-/.exec(req.headers.range ?? '');
      if (range !== null) {
        const from = Number(range[1]);
        if (from >= data.length) {
          res.writeHead(416).end();
          return;
        }
        res.writeHead(206, {
          'content-length': String(data.length - from),
          'content-range': `bytes ${from}-${data.length - 1}/${data.length}`,
        });
        res.end(data.subarray(from));
        return;
      }
      res.writeHead(200, { 'content-length': String(data.length) });
      res.end(data);
    });
    servers.push(s);
    return s;
  }

  test('download to a file with throttled progress, then resume a partial file with Range', async () => {
    const s = await fileServer();
    const dir = await mkdtemp(join(tmpdir(), 'weir-http-'));
    dirs.push(dir);
    const clock = new FakeClock();
    await using pool = createHttpPool({ clock });
    const reports: Progress[] = [];
    const file = join(dir, 'a.bin');
    const r = await pool.download(`${s.url}/file`, file, { onProgress: (p) => reports.push(p) });
    assert.equal(r.status, 200);
    assert.equal(r.bytes, data.length);
    assert.deepEqual(await readFile(file), data);
    // The clock did not move: one report at the first chunk, then only the final one.
    assert.equal(reports.length, 2);
    assert.deepEqual(reports.at(-1), {
      bytes: data.length,
      total: data.length,
      rate: 0,
      done: true,
    });

    const partial = join(dir, 'b.bin');
    await writeFile(partial, data.subarray(0, 300_000));
    const resumed: Progress[] = [];
    const r2 = await pool.download(`${s.url}/file`, partial, {
      resume: true,
      onProgress: (p) => resumed.push(p),
    });
    assert.equal(r2.status, 206);
    assert.equal(r2.bytes, data.length - 300_000);
    assert.deepEqual(await readFile(partial), data);
    assert.equal(resumed.at(-1)!.total, data.length);
    const r3 = await pool.download(`${s.url}/file`, partial, { resume: true });
    assert.equal(r3.status, 416, 'already complete');
  });

  test('download into a Writable waits for it (backpressure); a bad status fails with ERR_HTTP_STATUS', async () => {
    const s = await fileServer();
    await using pool = createHttpPool();
    let got = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _e, cb) {
        got += chunk.length;
        setImmediate(cb);
      },
    });
    await pool.download(`${s.url}/file`, slow);
    assert.equal(got, data.length);
    const missing = await httpServer((_q, r) => r.writeHead(404).end('no'));
    servers.push(missing);
    await assert.rejects(
      pool.download(`${missing.url}/x`, new Writable({ write: (_c, _e, cb) => cb() })),
      (e: unknown) => isWeirError(e, 'ERR_HTTP_STATUS'),
    );
  });

  test('upload with progress from bytes and from a stream', async () => {
    const s = await fileServer();
    await using pool = createHttpPool();
    const reports: Progress[] = [];
    const r = await pool.upload(`${s.url}/up`, data, { onProgress: (p) => reports.push(p) });
    assert.equal(r.status, 200);
    assert.equal(reports.at(-1)!.bytes, data.length);
    assert.equal(reports.at(-1)!.total, data.length);
    assert.equal(reports.at(-1)!.done, true);
    const stream = (async function* () {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(1000);
    })();
    const r2 = await pool.upload(`${s.url}/up`, stream, { method: 'PUT', size: 10_000 });
    assert.equal(r2.bytes, 10_000);
  });
});
