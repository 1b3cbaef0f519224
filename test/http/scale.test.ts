import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { createHttpPool } from '../../src/http/index.js';

// Many connections from one pool at once. The server (its own process, with its file limit
// raised to the hard limit) holds every response until N requests are in, so the pool must
// hold N connections open together; then it answers them all. The 10,000-connection run is
// in bench/http-scale.ts; this one is smaller so that the suite stays quick, and the same
// code path. WEIR_SCALE_CONNECTIONS sets N.
const N = Number(process.env.WEIR_SCALE_CONNECTIONS ?? 2_000);

const SERVER = `
const http = require('node:http');
const n = Number(process.argv[1]);
const held = [];
let released = false;
const server = http.createServer({ keepAlive: true }, (req, res) => {
  req.resume();
  if (released) return res.end('ok');
  held.push(res);
  if (held.length >= n) { released = true; for (const r of held.splice(0)) r.end('ok'); }
});
server.keepAliveTimeout = 600000;
server.headersTimeout = 600000;
server.requestTimeout = 0;
server.listen({ port: 0, host: '127.0.0.1', backlog: 65535 }, () => {
  console.log(String(server.address().port));
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

function limits(): { soft: number; hard: number } {
  const r = spawnSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' });
  const [soft, hard] = r.stdout
    .trim()
    .split('\n')
    .map((x) => (x === 'unlimited' ? Infinity : Number(x)));
  return { soft: soft ?? 0, hard: hard ?? 0 };
}

let server: ChildProcess | undefined;
after(() => {
  server?.stdin?.end();
  server?.kill();
});

function startServer(n: number): Promise<number> {
  const script = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';
  const child = spawn('sh', ['-c', script, 'sh', process.execPath, '-e', SERVER, String(n)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  server = child;
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    child.stdout!.once('data', (c: Buffer) => resolve(Number(c.toString().trim())));
  });
}

// This process opens N sockets (and the test runner's own few); the server raises its own.
const { soft, hard } = limits();
const need = N + 256;
const skip =
  soft < need
    ? `the file limit of this process (ulimit -n ${soft}) is below ${need}; raise it (hard limit ${hard}) to run it`
    : false;
if (skip) console.log(`# skipped: ${skip}`);

test(`${N} concurrent connections from one pool: every request answered, nothing left open`, {
  skip,
  timeout: 120_000,
}, async (t) => {
  const port = await startServer(N);
  const url = `http://127.0.0.1:${port}/`;
  await using pool = createHttpPool({
    connections: N,
    maxWaiting: N,
    idleTimeoutMs: 600_000,
    acquireTimeoutMs: 100_000,
    connectTimeoutMs: 100_000,
  });
  const gc = (globalThis as { gc?: () => void }).gc;
  const used = (): number => {
    gc?.();
    const m = process.memoryUsage();
    return m.heapUsed + m.external + m.arrayBuffers;
  };
  const before = used();
  const answers = await Promise.allSettled(
    Array.from({ length: N }, () => pool.request(url).then((r) => r.body.text())),
  );
  const failed = answers.filter((a) => a.status === 'rejected');
  assert.equal(
    failed.length,
    0,
    `first failure: ${String((failed[0] as PromiseRejectedResult | undefined)?.reason)}`,
  );
  assert.ok(answers.every((a) => a.status === 'fulfilled' && a.value === 'ok'));
  const st = pool.stats();
  // The server answered nobody before all N were in: N connections were open at once.
  assert.equal(st.connections, N);
  assert.equal(st.idle, N);
  assert.equal(st.opened, N);
  assert.equal(st.inFlight, 0);
  const perConnection = (used() - before) / N;
  t.diagnostic(
    `memory per idle connection: ${(perConnection / 1024).toFixed(1)} KB (heap + external${gc === undefined ? ', without --expose-gc' : ''})`,
  );
  // A free connection is taken without a wait: the pool's own figure over real requests.
  for (let i = 0; i < 500; i++) await (await pool.request(url)).body.text();
  assert.equal(pool.stats().opened, N, 'served by the idle connections');
  await pool.close();
  assert.equal(pool.stats().connections, 0);
});
