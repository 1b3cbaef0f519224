import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { after, describe, test } from 'node:test';
import { fetch } from 'undici';
import { createHttpPool } from '../../src/http/index.js';
import { h2cServer, h2Server, type Running, testCert } from './servers.js';

const servers: Running[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

describe('HTTP/2', () => {
  test('ALPN picks h2: one session serves many requests at once (shared leases)', {
    timeout: 10_000,
  }, async () => {
    let peak = 0;
    let open = 0;
    const release: (() => void)[] = [];
    let batch = true;
    const s = await h2Server((req, res) => {
      if (!batch) {
        res.end(`v${req.httpVersion}`);
        return;
      }
      open++;
      peak = Math.max(peak, open);
      release.push(() => {
        open--;
        res.end(`v${req.httpVersion}`);
      });
      if (release.length === 20) for (const r of release.splice(0)) r();
    });
    servers.push(s);
    await using http = createHttpPool({ connections: 4, tls: { ca: (await testCert()).cert } });
    const bodies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        http.request(`${s.url}/${i}`).then((r) => r.body.text()),
      ),
    );
    assert.ok(bodies.every((b) => b === 'v2.0'));
    assert.equal(peak, 20, 'all twenty were in flight at once');
    const st = http.stats();
    assert.equal(st.opened, 1, 'one session, not one connection per request');
    assert.deepEqual(st.origins[0]!.h2Streams, [0]);
    batch = false;
    const f = await fetch(`${s.url}/fetch`, { dispatcher: http });
    assert.equal(await f.text(), 'v2.0');
  });

  test("the server's maxConcurrentStreams bounds a session; a second one opens when it is full", {
    timeout: 10_000,
  }, async () => {
    const held: http2.Http2ServerResponse[] = [];
    let arrived = 0;
    let wake: () => void = () => {};
    const s = await h2Server(
      (_req, res) => {
        held.push(res as unknown as http2.Http2ServerResponse);
        arrived++;
        wake();
      },
      { maxConcurrentStreams: 3 },
    );
    servers.push(s);
    await using http = createHttpPool({ connections: 4, tls: { ca: (await testCert()).cert } });
    // The first request learns the server's SETTINGS.
    const first = http.request(`${s.url}/0`);
    while (arrived < 1) await new Promise<void>((r) => (wake = r));
    held.shift()!.end('0');
    await (await first).body.text();
    const pending = Array.from({ length: 5 }, (_, i) => http.request(`${s.url}/${i + 1}`));
    while (arrived < 6) await new Promise<void>((r) => (wake = r));
    const st = http.stats().origins[0]!;
    assert.equal(st.opened, 2);
    assert.deepEqual(
      [...st.h2Streams].sort(),
      [2, 3],
      'three on the first session, the rest on a second',
    );
    for (const r of held.splice(0)) r.end('x');
    await Promise.all(pending.map((p) => p.then((r) => r.body.text())));
  });

  test('GOAWAY mid-load: refused requests are retried on a fresh session', {
    timeout: 10_000,
  }, async () => {
    let n = 0;
    const s = await h2Server((req, res) => {
      n++;
      if (n === 5) {
        // Tell the client to go away: streams up to this one are still answered (a graceful
        // GOAWAY), those after it are refused and must be retried on a fresh session.
        (req as unknown as { stream: http2.ServerHttp2Stream }).stream.session?.goaway(0);
      }
      setImmediate(() => res.end('ok'));
    });
    servers.push(s);
    await using http = createHttpPool({ connections: 4, tls: { ca: (await testCert()).cert } });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        http.request(`${s.url}/${i}`).then((r) => r.body.text()),
      ),
    );
    const failed = results.filter((r) => r.status === 'rejected');
    assert.equal(
      failed.length,
      0,
      String((failed[0] as PromiseRejectedResult | undefined)?.reason),
    );
    const st = http.stats();
    assert.ok(st.opened >= 2, 'a fresh session replaced the one that went away');
    assert.ok(st.retries >= 1);
  });

  test('h2c: HTTP/2 without TLS by prior knowledge', { timeout: 10_000 }, async () => {
    const s = await h2cServer((req, res) => res.end(`v${req.httpVersion}`));
    servers.push(s);
    await using http = createHttpPool({ h2c: true });
    const bodies = await Promise.all(
      Array.from({ length: 10 }, () => http.request(`${s.url}/`).then((r) => r.body.text())),
    );
    assert.ok(bodies.every((b) => b === 'v2.0'));
    assert.equal(http.stats().opened, 1);
  });
});
