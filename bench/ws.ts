// WebSocket messages per second and round-trip p99 through weir's connectWs and through a
// multiplexed weir stream, against raw `ws` 8 and reconnecting-websocket 4 in the same run;
// and memory per idle connection. The echo servers run in a worker thread, so that the
// client side measured here has the main thread to itself. Each case pipelines MESSAGES
// 64-byte messages through an echo and waits for all of them back; the senders respect
// backpressure where the library has any (raw `ws` and reconnecting-websocket have none:
// they write into an unbounded buffer). Median of ROUNDS alternating rounds.
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import RwsModule from 'reconnecting-websocket';
import { connectWs, createWsPool, type WsConnection, type WsStream } from 'weir/ws';
import WebSocket from 'ws';
import { percentile, rate, table } from './lib.js';

const MESSAGES = 20_000;
const ROUNDS = 5;
const RTT_SAMPLES = 2_000;
const IDLE = 500;
const payload = 'x'.repeat(64);
// The package's types describe its ES module build; Node loads its CommonJS build, whose
// default export is the class itself.
const ReconnectingWebSocket = RwsModule as unknown as typeof RwsModule.default;

const wsEntry = fileURLToPath(import.meta.resolve('weir/ws'));
const server = new Worker(
  `
  const { parentPort, workerData } = require('node:worker_threads');
  const { WebSocketServer } = require('ws');
  (async () => {
    const { acceptWsStreams } = await import(workerData.entry);
    const plain = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    plain.on('connection', (ws) => ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary })));
    const muxed = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    acceptWsStreams(muxed, {
      onStream: async (s) => {
        for await (const m of s) await s.write(m);
      },
    });
    await Promise.all([plain, muxed].map((s) => new Promise((r) => s.once('listening', r))));
    parentPort.postMessage({ plain: plain.address().port, muxed: muxed.address().port });
  })();
  `,
  { eval: true, workerData: { entry: wsEntry } },
);
const [ports] = (await once(server, 'message')) as [{ plain: number; muxed: number }];
const plainUrl = `ws://127.0.0.1:${ports.plain}/`;
const muxedUrl = `ws://127.0.0.1:${ports.muxed}/`;

interface Peer {
  name: string;
  /** Pipelines `n` messages through the echo; resolves when all came back. */
  flood(n: number): Promise<void>;
  /** One round trip. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

async function rawWs(): Promise<Peer> {
  const ws = new WebSocket(plainUrl);
  await once(ws, 'open');
  let want = 0;
  let got = 0;
  let done: () => void = () => {};
  ws.on('message', () => {
    if (++got === want) done();
  });
  const wait = (n: number) =>
    new Promise<void>((resolve) => {
      got = 0;
      want = n;
      done = resolve;
    });
  return {
    name: 'raw ws 8',
    async flood(n) {
      const all = wait(n);
      for (let i = 0; i < n; i++) ws.send(payload);
      await all;
    },
    async ping() {
      const one = wait(1);
      ws.send(payload);
      await one;
    },
    async close() {
      ws.close();
      await once(ws, 'close');
    },
  };
}

async function reconnecting(): Promise<Peer> {
  const rws = new ReconnectingWebSocket(plainUrl, [], { WebSocket });
  await new Promise<void>((resolve) => rws.addEventListener('open', () => resolve()));
  let want = 0;
  let got = 0;
  let done: () => void = () => {};
  rws.addEventListener('message', () => {
    if (++got === want) done();
  });
  const wait = (n: number) =>
    new Promise<void>((resolve) => {
      got = 0;
      want = n;
      done = resolve;
    });
  return {
    name: 'reconnecting-websocket 4',
    async flood(n) {
      const all = wait(n);
      for (let i = 0; i < n; i++) rws.send(payload);
      await all;
    },
    async ping() {
      const one = wait(1);
      rws.send(payload);
      await one;
    },
    async close() {
      rws.close();
    },
  };
}

async function weirConnection(): Promise<Peer> {
  const conn: WsConnection = connectWs(plainUrl);
  await conn.opened();
  const it = conn[Symbol.asyncIterator]();
  return {
    name: 'weir connectWs',
    async flood(n) {
      const reading = (async () => {
        for (let i = 0; i < n; i++) await it.next();
      })();
      for (let i = 0; i < n; i++) await conn.send(payload);
      await reading;
    },
    async ping() {
      await conn.send(payload);
      await it.next();
    },
    close: () => conn.close(),
  };
}

async function weirConnectionStream(): Promise<Peer> {
  const conn: WsConnection = connectWs(plainUrl);
  await conn.opened();
  const messages = conn.messages();
  return {
    name: 'weir connectWs, read as messages()',
    async flood(n) {
      const reading = messages.take(n).count();
      for (let i = 0; i < n; i++) await conn.send(payload);
      await reading;
    },
    async ping() {
      await conn.send(payload);
      await messages.first();
    },
    close: () => conn.close(),
  };
}

async function weirStream(): Promise<Peer> {
  const pool = createWsPool({ url: muxedUrl, streams: { window: 512 } });
  const s: WsStream = await pool.openStream();
  const it = s[Symbol.asyncIterator]();
  return {
    name: 'weir multiplexed stream',
    async flood(n) {
      const reading = (async () => {
        for (let i = 0; i < n; i++) await it.next();
      })();
      for (let i = 0; i < n; i++) await s.write(payload);
      await reading;
    },
    async ping() {
      await s.write(payload);
      await it.next();
    },
    close: () => pool.close(),
  };
}

const peers = [
  await rawWs(),
  await weirConnection(),
  await weirConnectionStream(),
  await weirStream(),
  await reconnecting(),
];
for (const p of peers) await p.flood(MESSAGES); // warm up
const rates = new Map<string, number[]>(peers.map((p) => [p.name, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const p of peers) {
    const t0 = performance.now();
    await p.flood(MESSAGES);
    rates.get(p.name)!.push((MESSAGES / (performance.now() - t0)) * 1000);
  }
}
const rtts = new Map<string, number[]>(peers.map((p) => [p.name, []]));
for (let r = 0; r < RTT_SAMPLES; r++) {
  for (const p of peers) {
    const t0 = performance.now();
    await p.ping();
    rtts.get(p.name)!.push(performance.now() - t0);
  }
}
for (const p of peers) await p.close();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const raw = median(rates.get(peers[0]!.name)!);
const rws = median(rates.get(peers[4]!.name)!);
console.log(
  `${MESSAGES} messages of ${payload.length} bytes echoed per round, median of ${ROUNDS} rounds; round trip over ${RTT_SAMPLES} sequential pings\n`,
);
table(
  [
    'client',
    'messages/s (echoed)',
    '÷ raw ws',
    '÷ reconnecting-websocket',
    'round trip p50',
    'p99',
  ],
  peers.map((p) => {
    const own = median(rates.get(p.name)!);
    const rtt = rtts.get(p.name)!;
    return [
      p.name,
      rate(own),
      (own / raw).toFixed(2),
      (own / rws).toFixed(2),
      `${percentile(rtt, 50).toFixed(3)} ms`,
      `${percentile(rtt, 99).toFixed(3)} ms`,
    ];
  }),
);

// ---- memory per idle connection ----------------------------------------------------

const gc = (globalThis as { gc?: () => void }).gc;
async function settle(): Promise<{ heap: number; rss: number }> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.external + m.arrayBuffers, rss: m.rss };
}

async function idle(name: string, open: () => Promise<() => Promise<void> | void>) {
  const before = await settle();
  const closers: (() => Promise<void> | void)[] = [];
  for (let i = 0; i < IDLE; i++) closers.push(await open());
  const after = await settle();
  await Promise.all(closers.map((c) => c()));
  return [
    name,
    `${((after.heap - before.heap) / IDLE / 1024).toFixed(1)} KB`,
    `${((after.rss - before.rss) / IDLE / 1024).toFixed(1)} KB`,
  ];
}

console.log(`\nMemory per idle connection (${IDLE} open, client side; gc ${gc ? 'on' : 'off'})\n`);
table(
  ['client', 'heap + external', 'rss'],
  [
    await idle('raw ws 8', async () => {
      const ws = new WebSocket(plainUrl);
      await once(ws, 'open');
      return () => ws.terminate();
    }),
    await idle('weir connectWs (heartbeat on)', async () => {
      const conn = connectWs(plainUrl);
      await conn.opened();
      return () => conn.close();
    }),
    await idle('reconnecting-websocket 4', async () => {
      const r = new ReconnectingWebSocket(plainUrl, [], { WebSocket });
      await new Promise<void>((resolve) => r.addEventListener('open', () => resolve()));
      return () => r.close();
    }),
  ],
);
await server.terminate();
