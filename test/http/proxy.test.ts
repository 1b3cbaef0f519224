import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, afterEach, describe, test } from 'node:test';
import { createHttpPool } from '../../src/http/index.js';
import { shouldProxy } from '../../src/http/proxy.js';
import { isWeirError, type WeirErrorCode } from '../../src/internal/errors.js';
import { h2cServer, h2Server, httpServer, httpsServer, type Running, testCert } from './servers.js';

const code = (c: WeirErrorCode) => (e: unknown) => isWeirError(e, c);

interface ProxyOptions {
  /** The `Proxy-Authorization` the proxy requires, else 407. */
  auth?: string;
  /** Answer every CONNECT with this status instead of tunnelling. */
  refuse?: number;
  /** Never answer a CONNECT. */
  hang?: boolean;
}

/**
 * A small forward proxy on 127.0.0.1: CONNECT opens a TCP tunnel, an absolute-form request
 * is forwarded with node:http. It records what it was asked.
 */
interface TestProxy {
  url: string;
  port: number;
  connects: string[];
  forwarded: { url: string; host: string | undefined }[];
  auths: (string | undefined)[];
  /** Sockets accepted from clients and still open. */
  open(): number;
  close(): Promise<void>;
}

const proxies: TestProxy[] = [];
const servers: Running[] = [];
after(async () => {
  for (const p of proxies) await p.close();
  for (const s of servers) await s.close();
});

async function startProxy(o: ProxyOptions = {}): Promise<TestProxy> {
  const sockets = new Set<net.Socket>();
  const connects: string[] = [];
  const forwarded: TestProxy['forwarded'] = [];
  const auths: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    auths.push(req.headers['proxy-authorization']);
    if (o.auth !== undefined && req.headers['proxy-authorization'] !== o.auth) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"' }).end();
      return;
    }
    forwarded.push({ url: req.url ?? '', host: req.headers.host });
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const up = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method: req.method,
        headers,
      },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    connects.push(req.url ?? '');
    auths.push(req.headers['proxy-authorization']);
    client.on('error', () => {});
    if (o.hang) {
      // Reads on (and answers nothing), so that it sees the client leave.
      client.on('end', () => client.destroy());
      client.resume();
      return;
    }
    if (o.auth !== undefined && req.headers['proxy-authorization'] !== o.auth) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (o.refuse !== undefined) {
      client.end(`HTTP/1.1 ${o.refuse} Refused\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    const up = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    client.on('close', () => up.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const p: TestProxy = {
    url: `http://127.0.0.1:${port}`,
    port,
    connects,
    forwarded,
    auths,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
  };
  proxies.push(p);
  return p;
}

async function origin(kind: 'http' | 'https'): Promise<Running> {
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    req.resume();
    req.on('end', () => res.end(`${req.method} ${req.url} host=${req.headers.host}`));
  };
  const s = kind === 'http' ? await httpServer(handler) : await httpsServer(handler);
  servers.push(s);
  return s;
}

async function tlsOptions() {
  return { ca: (await testCert()).cert };
}

describe('proxies', () => {
  test('https through a CONNECT tunnel: TLS to the origin, pooled and limited like any connection', async () => {
    const proxy = await startProxy();
    const s = await origin('https');
    await using pool = createHttpPool({
      proxy: proxy.url,
      connections: 2,
      tls: await tlsOptions(),
    });
    const first = await pool.request(`${s.url}/a?x=1`);
    assert.equal(await first.body.text(), `GET /a?x=1 host=127.0.0.1:${s.port}`);
    assert.deepEqual(proxy.connects, [`127.0.0.1:${s.port}`]);
    // Ten at once on two connections: the limit holds through the proxy.
    const texts = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        pool.request(`${s.url}/${i}`).then((r) => r.body.text()),
      ),
    );
    assert.equal(texts.length, 10);
    assert.ok(proxy.connects.length <= 2, `tunnels opened: ${proxy.connects.length}`);
    const st = pool.stats().origins[0]!;
    assert.equal(st.connections, proxy.connects.length);
    assert.equal(st.requests, 11);
    assert.ok(st.reuseRate > 0.5);
    assert.equal(st.proxy, proxy.url);
    assert.equal(proxy.forwarded.length, 0);
  });

  test('HTTP/2 through the tunnel: ALPN h2 over TLS, and h2c (which is tunnelled, not forwarded)', async () => {
    const proxy = await startProxy();
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      req.resume();
      res.end(`h${req.httpVersion}`);
    };
    const tls = await h2Server(handler);
    const plain = await h2cServer(handler);
    servers.push(tls, plain);
    await using pool = createHttpPool({
      proxy: proxy.url,
      tls: await tlsOptions(),
      origins: { [plain.url]: { h2c: true } },
    });
    const texts = await Promise.all([
      ...Array.from({ length: 5 }, () => pool.request(`${tls.url}/`).then((r) => r.body.text())),
      ...Array.from({ length: 5 }, () => pool.request(`${plain.url}/`).then((r) => r.body.text())),
    ]);
    assert.deepEqual(texts, Array(10).fill('h2.0'));
    assert.deepEqual(
      proxy.connects.sort(),
      [`127.0.0.1:${plain.port}`, `127.0.0.1:${tls.port}`].sort(),
    );
    assert.equal(proxy.forwarded.length, 0);
  });

  test('http is forwarded in absolute form, with the Host header of the origin', async () => {
    const proxy = await startProxy();
    const s = await origin('http');
    await using pool = createHttpPool({ proxy: proxy.url, connections: 1 });
    const r = await pool.request(`${s.url}/path?q=2`, { method: 'POST', body: 'x' });
    assert.equal(await r.body.text(), `POST /path?q=2 host=127.0.0.1:${s.port}`);
    await (await pool.request(`${s.url}/again`)).body.text();
    assert.deepEqual(
      proxy.forwarded.map((f) => f.url),
      [`${s.url}/path?q=2`, `${s.url}/again`],
    );
    assert.equal(proxy.forwarded[0]!.host, `127.0.0.1:${s.port}`);
    assert.deepEqual(proxy.connects, []);
    // One keep-alive connection to the proxy carried both.
    assert.equal(pool.stats().origins[0]!.opened, 1);
  });

  test('the agent of the pool forwards in absolute form too', async () => {
    const proxy = await startProxy({ auth: `Basic ${Buffer.from('u:p').toString('base64')}` });
    const s = await origin('http');
    await using pool = createHttpPool({ proxy: `http://u:p@127.0.0.1:${proxy.port}` });
    const agent = pool.toHttpAgent();
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get(`${s.url}/via-agent`, { agent }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => {
            text += c.toString();
          });
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    assert.equal(body, `GET /via-agent host=127.0.0.1:${s.port}`);
    assert.deepEqual(
      proxy.forwarded.map((f) => f.url),
      [`${s.url}/via-agent`],
    );
  });

  test('credentials in the proxy URL become Proxy-Authorization: Basic (decoded first)', async () => {
    const auth = `Basic ${Buffer.from('user:pa ss').toString('base64')}`;
    const proxy = await startProxy({ auth });
    const https = await origin('https');
    const plain = await origin('http');
    await using pool = createHttpPool({
      proxy: `http://user:pa%20ss@127.0.0.1:${proxy.port}`,
      tls: await tlsOptions(),
    });
    assert.match(await (await pool.request(`${https.url}/t`)).body.text(), /GET \/t/);
    assert.match(await (await pool.request(`${plain.url}/f`)).body.text(), /GET \/f/);
    assert.deepEqual(proxy.auths, [auth, auth]);
    // Never shown: not in stats, not in errors.
    assert.equal(pool.stats().origins[0]!.proxy, proxy.url);
  });

  test('407 from the proxy: ERR_HTTP_PROXY_AUTH, tunnelled or forwarded', async () => {
    const proxy = await startProxy({ auth: 'Basic nope' });
    const https = await origin('https');
    const plain = await origin('http');
    await using pool = createHttpPool({
      proxy: `http://user:wrong@127.0.0.1:${proxy.port}`,
      tls: await tlsOptions(),
    });
    await assert.rejects(pool.request(`${https.url}/`), (e: unknown) => {
      assert.ok(code('ERR_HTTP_PROXY_AUTH')(e));
      assert.doesNotMatch(String((e as Error).message), /wrong/);
      return true;
    });
    await assert.rejects(pool.request(`${plain.url}/`), code('ERR_HTTP_PROXY_AUTH'));
    const st = pool.stats();
    assert.equal(
      st.connections,
      st.origins.reduce((n, o) => n + o.idle, 0),
    );
    assert.equal(st.inFlight, 0);
  });

  test('a proxy that refuses: ERR_HTTP_PROXY (tunnel refused, proxy down), nothing left open', async () => {
    const refusing = await startProxy({ refuse: 403 });
    const s = await origin('https');
    const plain = await origin('http');
    {
      await using pool = createHttpPool({ proxy: refusing.url, tls: await tlsOptions() });
      await assert.rejects(pool.request(`${s.url}/`), (e: unknown) => {
        assert.ok(code('ERR_HTTP_PROXY')(e));
        assert.match((e as Error).message, /403/);
        return true;
      });
      assert.equal(pool.stats().connections, 0);
    }
    // Nothing listens there any more.
    const gone = await startProxy();
    await gone.close();
    await using pool = createHttpPool({ proxy: gone.url, tls: await tlsOptions() });
    await assert.rejects(pool.request(`${s.url}/`), (e: unknown) => {
      assert.ok(code('ERR_HTTP_PROXY')(e));
      assert.match((e as Error).message, /ECONNREFUSED/);
      return true;
    });
    await assert.rejects(pool.request(`${plain.url}/`), code('ERR_HTTP_PROXY'));
    assert.equal(pool.stats().connections, 0);
  });

  test('an abort while the proxy has not answered the CONNECT closes the tunnel being opened', async () => {
    const proxy = await startProxy({ hang: true });
    const s = await origin('https');
    const pool = createHttpPool({ proxy: proxy.url, tls: await tlsOptions() });
    const controller = new AbortController();
    const pending = pool.request(`${s.url}/`, { signal: controller.signal });
    while (proxy.connects.length === 0) await new Promise((r) => setImmediate(r));
    assert.equal(proxy.open(), 1);
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
    await pool.close();
    while (proxy.open() > 0) await new Promise((r) => setImmediate(r));
    assert.equal(pool.stats().connections, 0);
  });

  test('a bad proxy option throws at construction, without echoing a password', () => {
    assert.throws(() => createHttpPool({ proxy: 'socks5://127.0.0.1:1080' }), TypeError);
    assert.throws(
      () => createHttpPool({ proxy: 'http://user:secret@' }),
      (e: unknown) => e instanceof TypeError && !String(e.message).includes('secret'),
    );
    assert.throws(() => createHttpPool({ noProxy: 3 as never }), TypeError);
    assert.throws(() => createHttpPool({ tls: { resumeSessions: 'yes' as never } }), TypeError);
  });
});

describe('proxies from the environment', () => {
  const saved = { ...process.env };
  const names = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];
  afterEach(() => {
    for (const n of names) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  });
  const clear = (): void => {
    for (const n of names) delete process.env[n];
  };

  test("proxy: 'fromEnv' takes HTTPS_PROXY for https, HTTP_PROXY for http, and NO_PROXY", async () => {
    clear();
    const forHttps = await startProxy();
    const forHttp = await startProxy();
    const s = await origin('https');
    const plain = await origin('http');
    process.env.HTTPS_PROXY = forHttps.url;
    process.env.HTTP_PROXY = forHttp.url;
    process.env.NO_PROXY = 'example.internal, localhost';
    await using pool = createHttpPool({ proxy: 'fromEnv', tls: await tlsOptions() });
    await (await pool.request(`${s.url}/`)).body.text();
    await (await pool.request(`${plain.url}/`)).body.text();
    assert.deepEqual(forHttps.connects, [`127.0.0.1:${s.port}`]);
    assert.deepEqual(
      forHttp.forwarded.map((f) => f.url),
      [`${plain.url}/`],
    );
    // localhost is exempt: straight to the server.
    await (await pool.request(`https://localhost:${s.port}/`)).body.text();
    assert.equal(forHttps.connects.length, 1);
    const direct = pool.stats().origins.find((o) => o.origin.includes('localhost'))!;
    assert.equal(direct.proxy, undefined);
  });

  test('lower-case variables win; an empty one means no proxy; without fromEnv they are ignored', async () => {
    clear();
    const good = await startProxy();
    const dead = await startProxy();
    await dead.close();
    const s = await origin('https');
    process.env.https_proxy = good.url;
    process.env.HTTPS_PROXY = dead.url;
    {
      await using pool = createHttpPool({ proxy: 'fromEnv', tls: await tlsOptions() });
      await (await pool.request(`${s.url}/`)).body.text();
      assert.equal(good.connects.length, 1);
    }
    {
      // The environment is read only when asked.
      await using pool = createHttpPool({ tls: await tlsOptions() });
      await (await pool.request(`${s.url}/`)).body.text();
      assert.equal(good.connects.length, 1);
    }
    process.env.https_proxy = '';
    delete process.env.HTTPS_PROXY;
    await using pool = createHttpPool({ proxy: 'fromEnv', tls: await tlsOptions() });
    await (await pool.request(`${s.url}/`)).body.text();
    assert.equal(good.connects.length, 1);
  });

  test('NO_PROXY matching: names and subdomains, leading dots and stars, ports, *', () => {
    const o = (url: string) => {
      const u = new URL(url);
      const port = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port);
      return {
        protocol: u.protocol as 'http:' | 'https:',
        hostname: u.hostname.replace(/^\[|\]$/g, ''),
        port,
        key: `${u.protocol}//${u.hostname}:${port}`,
      };
    };
    const list = 'example.com, .internal.test *.corp.example ,10.0.0.1 api.svc:8443 [::1]';
    assert.equal(shouldProxy(o('https://example.com'), list), false);
    assert.equal(shouldProxy(o('https://a.b.example.com'), list), false);
    assert.equal(shouldProxy(o('https://notexample.com'), list), true);
    assert.equal(shouldProxy(o('http://x.internal.test'), list), false);
    assert.equal(shouldProxy(o('http://internal.test'), list), false);
    assert.equal(shouldProxy(o('http://host.corp.example'), list), false);
    assert.equal(shouldProxy(o('http://10.0.0.1:9000'), list), false);
    assert.equal(shouldProxy(o('http://10.0.0.10'), list), true);
    assert.equal(shouldProxy(o('https://api.svc:8443'), list), false);
    assert.equal(shouldProxy(o('https://api.svc'), list), true);
    assert.equal(shouldProxy(o('http://[::1]:8080'), list), false);
    assert.equal(shouldProxy(o('https://anything'), '*'), false);
    assert.equal(shouldProxy(o('https://anything'), ''), true);
  });

  test('noProxy as an option exempts origins from an explicit proxy', async () => {
    clear();
    const proxy = await startProxy();
    const s = await origin('http');
    await using pool = createHttpPool({ proxy: proxy.url, noProxy: '127.0.0.1' });
    await (await pool.request(`${s.url}/`)).body.text();
    assert.equal(proxy.forwarded.length, 0);
  });
});
