// Channel ping-pong as bench/channel.ts runs it, against any builds of weir, for
// before/after runs of two trees:
//   node --import tsx bench/ab/channel-paths.ts <case> <n> <rounds> <dist> [<dist>...]
// `case` is c0 or c64 (the channel's capacity), or floor (an array queue and one promise
// per message, no dist needed). With several dists (and `floor` as a dist name for the
// floor) the rounds alternate between them in one process and the best round of each is
// printed. With `rounds` 1 and two values of `n` under
// `valgrind --tool=callgrind node --single-threaded ...`, the difference of the two
// instruction totals divided by the difference of `n` is the cost of one message, free of
// start-up and of other load on the machine.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface Adapter {
  send(v: number): Promise<unknown>;
  receive(): Promise<unknown>;
}
interface Chan {
  send(v: number): Promise<void>;
  receive(): Promise<unknown>;
}

const [which = 'c0', nArg = '1000000', roundsArg = '5', ...dists] = process.argv.slice(2);
const n = Number(nArg);
const rounds = Number(roundsArg);
const capacity = which === 'c64' ? 64 : 0;

async function pingPong(make: () => Adapter, n: number): Promise<void> {
  const ch = make();
  const producer = async () => {
    for (let i = 0; i < n; i++) await ch.send(i);
  };
  const consumer = async () => {
    for (let i = 0; i < n; i++) await ch.receive();
  };
  await Promise.all([producer(), consumer()]);
}

const floor = (): Adapter => {
  const queue: number[] = [];
  let waiter: ((v: number) => void) | null = null;
  return {
    send(v) {
      if (waiter !== null) {
        const w = waiter;
        waiter = null;
        w(v);
      } else queue.push(v);
      return Promise.resolve();
    },
    receive() {
      if (queue.length > 0) return Promise.resolve(queue.shift());
      return new Promise<number>((resolve) => {
        waiter = resolve;
      });
    },
  };
};

const makers: { name: string; make: () => Adapter }[] = [];
for (const d of which === 'floor' && dists.length === 0 ? ['floor'] : dists) {
  if (d === 'floor') {
    makers.push({ name: 'floor', make: floor });
    continue;
  }
  const url = pathToFileURL(resolve(d, 'channel/index.js')).href;
  const { Channel } = (await import(url)) as { Channel: new (c: number) => Chan };
  makers.push({
    name: d,
    make: () => {
      const ch = new Channel(capacity);
      return { send: (v) => ch.send(v), receive: () => ch.receive() };
    },
  });
}

const best = makers.map(() => Infinity);
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < makers.length; i++) {
    const t0 = performance.now();
    await pingPong(makers[i]!.make, n);
    best[i] = Math.min(best[i]!, performance.now() - t0);
  }
}
for (let i = 0; i < makers.length; i++) {
  const rate = n / (best[i]! / 1000);
  console.log(`${which} ${makers[i]!.name}: ${(rate / 1e6).toFixed(2)}M msg/s (best of ${rounds})`);
}
