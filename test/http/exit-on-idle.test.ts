import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { after, describe, test } from 'node:test';
import { type CountingServer, countingServer } from './counting-server.js';

const servers: CountingServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

const SOURCE = new URL('../../src/http/index.ts', import.meta.url).href;

// The child makes a request, waits until its pool holds two idle connections (one used,
// one pre-opened and never used), reports the sockets keeping it alive, then starts a
// request the server answers only once it read that report, reports again while that
// request is in flight, and reads the answer. With `close` it closes the pool; without, it
// just ends its script: the process must exit by itself.
const CHILD = `
const { createHttpPool } = await import(${JSON.stringify(SOURCE)});
const [url, options, closeAtEnd] = process.argv.slice(1);
const http = createHttpPool({ minConnections: 2, ...JSON.parse(options) });
const sockets = () => process.getActiveResourcesInfo().filter((t) => t === 'TCPSocketWrap').length;
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
await (await http.request(url + '/first')).body.text();
for (let i = 0; i < 20000 && http.stats().idle < 2; i++) await new Promise((r) => setImmediate(r));
// undici lets go of a socket one turn after its response (it unrefs it then).
await new Promise((r) => setImmediate(r));
say({ phase: 'idle', idle: http.stats().idle, sockets: sockets() });
const slow = http.request(url + '/slow');
for (let i = 0; i < 20000 && http.stats().inFlight < 1; i++) await new Promise((r) => setImmediate(r));
await new Promise((r) => setImmediate(r));
say({ phase: 'busy', sockets: sockets() });
say({ phase: 'done', body: await (await slow).body.text() });
if (closeAtEnd === 'close') {
  await http.close();
  say({ phase: 'closed', sockets: sockets() });
}
`;

interface Report {
  phase: string;
  idle?: number;
  sockets?: number;
  body?: string;
}

async function run(
  options: object,
  closeAtEnd: boolean,
  giveUpOn: (r: Report) => boolean = () => false,
): Promise<{ code: number | null; reports: Report[] }> {
  let slow: ServerResponse | undefined;
  let busy = false;
  const answer = () => {
    if (slow !== undefined && busy) slow.end('slow answer');
  };
  const s = await countingServer((req, res) => {
    if (req.url === '/slow') {
      slow = res;
      answer();
    } else res.end('ok');
  });
  servers.push(s);
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      CHILD,
      s.url,
      JSON.stringify(options),
      closeAtEnd ? 'close' : '',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const reports: Report[] = [];
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const r = JSON.parse(buffered.slice(0, nl)) as Report;
      buffered = buffered.slice(nl + 1);
      reports.push(r);
      // A child that will not exit by itself is stopped at once rather than waited for.
      if (giveUpOn(r)) child.kill();
      if (r.phase === 'busy') {
        busy = true;
        answer();
      }
    }
  });
  try {
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, reports };
  } finally {
    child.kill();
  }
}

describe('allowExitOnIdle', () => {
  test('by default an idle pool lets the process exit; a request in flight keeps it alive', {
    timeout: 30_000,
  }, async () => {
    const { code, reports } = await run({}, false, (r) => r.phase === 'idle' && r.sockets !== 0);
    assert.equal(code, 0);
    const [idle, busy, done] = reports;
    assert.deepEqual(idle, { phase: 'idle', idle: 2, sockets: 0 }, 'idle sockets are unref’d');
    assert.ok(busy!.sockets! >= 1, 'the socket of the request in flight keeps the process alive');
    assert.deepEqual(done, { phase: 'done', body: 'slow answer' });
  });

  test('allowExitOnIdle: false keeps the process alive while connections are open, until close()', {
    timeout: 30_000,
  }, async () => {
    const { code, reports } = await run(
      { allowExitOnIdle: false },
      true,
      (r) => r.phase === 'closed' && r.sockets !== 0,
    );
    assert.equal(code, 0);
    const idle = reports[0]!;
    assert.equal(idle.idle, 2);
    assert.equal(idle.sockets, 2, 'both idle connections keep the process alive');
    assert.deepEqual(reports.at(-1), { phase: 'closed', sockets: 0 });
  });

  test('allowExitOnIdle must be a boolean', async () => {
    const { createHttpPool } = await import('../../src/http/index.js');
    assert.throws(() => createHttpPool({ allowExitOnIdle: 'yes' as never }), /`allowExitOnIdle`/);
  });
});
