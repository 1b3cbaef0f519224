// Does a flat-out exchange through a channel let the rest of the program run?
//
// Two tasks exchange values as fast as they can (send/receive, select, and `for await`
// over the channel, at capacity 0 and 64). When the exchange starts, the script arms a
// 0 ms timer, writes one byte to a loopback echo server (two I/O callbacks: the server's
// read, then the client's), starts an `fs.stat` (one thread-pool callback) and an
// `fs.readFile` (about five in a row: open, fstat, read, read, close), and prints how long
// each took, plus the gaps between two turns of the event loop (a setImmediate re-armed
// for the whole run: the 99th percentile and the longest) and how many turns it had.
// Each cell is the median / the worst of the runs. A channel that only ever resumes its callers on
// microtasks shows every delay equal to the whole run.
//
//   npm run build --silent && TSX_TSCONFIG_PATH=tsconfig.build.json \
//     node --import tsx bench/faults/channel-fairness.ts
//
// (the build's tsconfig maps `weir/channel` to the built package, as `npm run bench` does;
// without it tsx resolves it to the sources). Bounded: a fixed number of messages per run
// and a fixed number of runs; MESSAGES and RUNS in the environment change them.
import { readFile, stat } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Channel, recv, select, send } from 'weir/channel';

const MESSAGES = Number(process.env.MESSAGES ?? 1_000_000);
const RUNS = Number(process.env.RUNS ?? 5);
const self = fileURLToPath(import.meta.url);

type Mode = 'send/receive' | 'select' | 'for await';

async function exchange(mode: Mode, capacity: number, n: number): Promise<void> {
  const ch = new Channel<number>(capacity);
  const producer = async (): Promise<void> => {
    if (mode === 'select') for (let i = 0; i < n; i++) await select([send(ch, i)]);
    else for (let i = 0; i < n; i++) await ch.send(i);
    ch.close();
  };
  const consumer = async (): Promise<void> => {
    if (mode === 'for await') {
      for await (const _ of ch);
    } else if (mode === 'select') {
      for (;;) if ((await select([recv(ch)])).done) break;
    } else for (;;) if ((await ch.receive()).done) break;
  };
  await Promise.all([producer(), consumer()]);
}

interface Sample {
  runMs: number;
  timerMs: number;
  echoMs: number;
  statMs: number;
  fsMs: number;
  p99GapMs: number;
  maxGapMs: number;
  turns: number;
}

async function measure(mode: Mode, capacity: number, client: Socket): Promise<Sample> {
  const at = { timer: -1, echo: -1, stat: -1, fs: -1 };
  const t0 = performance.now();
  setTimeout(() => {
    at.timer = performance.now();
  }, 0);
  client.once('data', () => {
    at.echo = performance.now();
  });
  client.write('x');
  stat(self, () => {
    at.stat = performance.now();
  });
  readFile(self, () => {
    at.fs = performance.now();
  });
  // The longest gap between two turns of the loop is the longest it was held.
  let running = true;
  let last = t0;
  const gaps: number[] = [];
  const tick = (): void => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await exchange(mode, capacity, MESSAGES);
  const end = performance.now();
  running = false;
  gaps.push(end - last);
  gaps.sort((a, b) => a - b);
  // Let the callbacks that the exchange held back run, so late ones are measured too.
  while (at.timer < 0 || at.echo < 0 || at.stat < 0 || at.fs < 0) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return {
    runMs: end - t0,
    timerMs: at.timer - t0,
    echoMs: at.echo - t0,
    statMs: at.stat - t0,
    fsMs: at.fs - t0,
    p99GapMs: gaps[Math.floor(gaps.length * 0.99)]!,
    maxGapMs: gaps[gaps.length - 1]!,
    turns: gaps.length - 1,
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const fmt = (xs: number[]): string => `${median(xs).toFixed(2)} / ${Math.max(...xs).toFixed(2)}`;

const server = createServer((s) => s.pipe(s));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
await new Promise((resolve) => client.once('connect', resolve));
client.setNoDelay(true);

console.log(
  `\nNode ${process.version}, ${MESSAGES} messages per run, ${RUNS} runs; median / max, ms\n`,
);
console.log(
  '| capacity | mode | run | 0 ms timer | socket echo | fs.stat | fs.readFile | p99 stall | longest stall | loop turns |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const capacity of [0, 64]) {
  for (const mode of ['send/receive', 'select', 'for await'] as Mode[]) {
    await measure(mode, capacity, client); // warm-up
    const samples: Sample[] = [];
    for (let r = 0; r < RUNS; r++) samples.push(await measure(mode, capacity, client));
    const col = (k: keyof Sample) => fmt(samples.map((s) => s[k]));
    console.log(
      `| ${capacity} | ${mode} | ${col('runMs')} | ${col('timerMs')} | ${col('echoMs')} | ${col('statMs')} | ${col('fsMs')} | ${col('p99GapMs')} | ${col('maxGapMs')} | ${median(samples.map((s) => s.turns))} |`,
    );
  }
}
client.destroy();
server.close();
