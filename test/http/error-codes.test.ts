// Every failure of a request carries an ERR_HTTP_* code, with undici's error as `cause`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { errors, request } from 'undici';
import { requestError } from '../../src/http/errors.js';
import { createHttpPool, HttpError } from '../../src/http/index.js';
import { isWeirError, WeirError } from '../../src/internal/errors.js';
import { httpServer, type Running } from './servers.js';

const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

/** A TCP server that answers every request with `raw`, whatever it was. */
async function rawServer(raw: string): Promise<string> {
  const server = net.createServer((socket) => {
    socket.once('data', () => socket.end(raw));
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

function pool(options: Parameters<typeof createHttpPool>[0] = {}) {
  const http = createHttpPool(options);
  closers.push(() => http.close());
  return http;
}

function hasCode(code: string, cause?: (c: unknown) => boolean) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof HttpError, `expected an HttpError, got ${String(e)}`);
    assert.equal(e.code, code, String(e));
    if (cause !== undefined) assert.ok(cause(e.cause), `unexpected cause ${String(e.cause)}`);
    return true;
  };
}

describe('protocol errors', () => {
  test('a malformed status line: ERR_HTTP_PROTOCOL with undici’s HTTPParserError as cause', async () => {
    const url = await rawServer('HTTP/1.1 abc\r\n\r\n');
    const http = pool();
    const parserError = (c: unknown) => c instanceof errors.HTTPParserError;
    await assert.rejects(http.request(`${url}/`), hasCode('ERR_HTTP_PROTOCOL', parserError));
    await assert.rejects(
      request(`${url}/`, { dispatcher: http }),
      hasCode('ERR_HTTP_PROTOCOL', parserError),
    );
    assert.equal(http.stats().errors.ERR_HTTP_PROTOCOL, 2);
  });

  test('a malformed header and a body shorter than its content-length', async () => {
    const http = pool();
    const badHeader = await rawServer('HTTP/1.1 200 OK\r\nbad header\r\ncontent-length: 0\r\n\r\n');
    await assert.rejects(http.request(`${badHeader}/`), hasCode('ERR_HTTP_PROTOCOL'));
    const short = await rawServer('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12345');
    const res = await http.request(`${short}/`);
    await assert.rejects(res.body.text(), (e: unknown) => {
      assert.ok(isWeirError(e) && e.code.startsWith('ERR_HTTP_'), String(e));
      assert.ok((e as Error).cause !== undefined);
      return true;
    });
  });

  test('an HTTP/2 stream reset with PROTOCOL_ERROR', async () => {
    const server = http2.createServer();
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const http = pool({ h2c: true });
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
    await assert.rejects(http.request(url), hasCode('ERR_HTTP_PROTOCOL'));
  });

  test('a request header undici refuses: ERR_HTTP_INVALID_REQUEST', async () => {
    const s: Running = await httpServer((_q, r) => r.end('ok'));
    closers.push(() => s.close());
    const http = pool();
    await assert.rejects(
      http.request(`${s.url}/`, { headers: { 'x-bad': 'a\r\nb' } }),
      hasCode('ERR_HTTP_INVALID_REQUEST', (c) => c instanceof errors.InvalidArgumentError),
    );
  });

  test('a request body stream that fails: ERR_HTTP_REQUEST_FAILED with its error as cause', async () => {
    const s: Running = await httpServer((req, r) => {
      req.on('error', () => {});
      req.resume();
      req.on('end', () => r.end('ok'));
    });
    closers.push(() => s.close());
    const http = pool();
    const broken = new Error('the disk went away');
    const body = (async function* () {
      yield Buffer.from('part');
      throw broken;
    })();
    await assert.rejects(
      http.request(`${s.url}/`, { method: 'POST', body }),
      hasCode('ERR_HTTP_REQUEST_FAILED', (c) => c === broken),
    );
  });
});

describe('requestError', () => {
  const origin = 'http://example.test:80';
  const cases: [unknown, string][] = [
    [Reflect.construct(errors.HTTPParserError, ['bad', 'INVALID_STATUS', '']), 'ERR_HTTP_PROTOCOL'],
    [
      new errors.HTTPParserError('Response does not match the HTTP/1.1 protocol'),
      'ERR_HTTP_PROTOCOL',
    ],
    [new errors.HeadersOverflowError(), 'ERR_HTTP_PROTOCOL'],
    [new errors.ResponseContentLengthMismatchError(), 'ERR_HTTP_PROTOCOL'],
    [new errors.ResponseExceededMaxSizeError(), 'ERR_HTTP_PROTOCOL'],
    [new errors.HeadersTimeoutError(), 'ERR_HTTP_HEADERS_TIMEOUT'],
    [new errors.BodyTimeoutError(), 'ERR_HTTP_BODY_TIMEOUT'],
    [new errors.ConnectTimeoutError(), 'ERR_HTTP_CONNECT_TIMEOUT'],
    [new errors.SocketError('other side closed'), 'ERR_HTTP_SOCKET'],
    [new errors.ClientClosedError(), 'ERR_HTTP_SOCKET'],
    [new errors.ClientDestroyedError(), 'ERR_HTTP_SOCKET'],
    [new errors.InformationalError('HTTP/2: stream half-closed (remote)'), 'ERR_HTTP_SOCKET'],
    [
      new errors.InformationalError('HTTP/2: "frameError" received - type 0, code 1'),
      'ERR_HTTP_PROTOCOL',
    ],
    [
      new errors.InformationalError('HTTP/2: "frameError" received - type 1, code 2'),
      'ERR_HTTP_CONNECTION_RETIRED',
    ],
    [new errors.InvalidArgumentError('invalid header'), 'ERR_HTTP_INVALID_REQUEST'],
    [new errors.NotSupportedError('nope'), 'ERR_HTTP_INVALID_REQUEST'],
    [new errors.RequestContentLengthMismatchError(), 'ERR_HTTP_INVALID_REQUEST'],
    [new errors.RequestAbortedError(), 'ERR_HTTP_REQUEST_FAILED'],
    [Object.assign(new Error('reset'), { code: 'ECONNRESET' }), 'ERR_HTTP_SOCKET'],
    [Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 'ERR_HTTP_CONNECT'],
    [
      Object.assign(new Error('Stream closed with error code NGHTTP2_REFUSED_STREAM'), {
        code: 'ERR_HTTP2_STREAM_ERROR',
      }),
      'ERR_HTTP_CONNECTION_RETIRED',
    ],
    [
      Object.assign(new Error('Stream closed with error code NGHTTP2_INTERNAL_ERROR'), {
        code: 'ERR_HTTP2_STREAM_ERROR',
      }),
      'ERR_HTTP_SOCKET',
    ],
    [
      Object.assign(new Error('Session closed with error code 1'), {
        code: 'ERR_HTTP2_SESSION_ERROR',
      }),
      'ERR_HTTP_PROTOCOL',
    ],
    [new Error('something else'), 'ERR_HTTP_REQUEST_FAILED'],
    ['not even an Error', 'ERR_HTTP_REQUEST_FAILED'],
  ];
  for (const [error, code] of cases) {
    test(`${(error as Error).name ?? typeof error}: ${(error as Error).message ?? error} → ${code}`, () => {
      const mapped = requestError(origin, error);
      assert.ok(mapped instanceof HttpError);
      assert.equal(mapped.code, code);
      assert.equal(mapped.cause, error);
      assert.equal(mapped.origin, origin);
    });
  }

  test("weir's own errors pass through", () => {
    const own = new WeirError('ERR_POOL_TIMEOUT', 'waited');
    assert.equal(requestError(origin, own), own);
  });
});

describe('the table of codes', () => {
  test('every ERR_HTTP_* code in src/http is in the HttpErrorCode union, its table and docs/errors.md', () => {
    const dir = new URL('../../src/http/', import.meta.url);
    const files = [
      'agent.ts',
      'compose.ts',
      'connection.ts',
      'deadline.ts',
      'dispatcher.ts',
      'errors.ts',
      'exchange.ts',
      'goaway.ts',
      'origin-pool.ts',
      'progress.ts',
      'response.ts',
    ];
    const used = new Set<string>();
    for (const f of files) {
      for (const m of readFileSync(new URL(f, dir), 'utf8').matchAll(/'(ERR_HTTP_[A-Z_]+)'/g)) {
        used.add(m[1]!);
      }
    }
    const errorsTs = readFileSync(new URL('errors.ts', dir), 'utf8');
    // HttpErrorCode is the ERR_HTTP_* part of WeirErrorCode.
    const internal = readFileSync(new URL('../internal/errors.ts', dir), 'utf8');
    const union = internal.slice(internal.indexOf('export type WeirErrorCode'));
    const docs = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    assert.ok(used.size >= 13, [...used].join(' '));
    for (const code of used) {
      assert.match(union.slice(0, union.indexOf(';')), new RegExp(`'${code}'`), code);
      assert.match(errorsTs, new RegExp(`\\| \`${code}\` \\|`), `${code} in the errors.ts table`);
      assert.match(docs, new RegExp(`\\| \`${code}\` \\|`), `${code} in docs/errors.md`);
    }
  });
});
