// Messages per second through a channel: capacity 0 (rendezvous: every message is a
// hand-off between the two sides) and capacity 64 (one producer, one consumer), against
// channel libraries from npm and a floor (an array queue, one awaited promise per message).
import { Channel as ThingChannel } from '@thi.ng/csp';
import { Channel as AsyncChannel } from 'async-channel';
import { Chan } from 'ts-chan';
import { Channel } from 'weir/channel';
import { type Case, compare, rate, table } from './lib.js';

interface Adapter {
  send(v: number): Promise<unknown>;
  receive(): Promise<unknown>;
}

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

const weir = (capacity: number) => (): Adapter => {
  const ch = new Channel<number>(capacity);
  return { send: (v) => ch.send(v), receive: () => ch.receive() };
};

const tsChan = (capacity: number) => (): Adapter => {
  const ch = new Chan<number>(capacity);
  return { send: (v) => ch.send(v), receive: () => ch.recv() };
};

// async-channel's Channel is itself a thenable, so it must never be returned from an
// async function or resolved into a promise: only its methods are used.
const asyncChannel = (capacity: number) => (): Adapter => {
  const ch = new AsyncChannel<number>(capacity);
  return { send: (v) => ch.push(v), receive: () => ch.get() };
};

const thing = (capacity: number) => (): Adapter => {
  const ch = new ThingChannel<number>(capacity);
  return { send: (v) => ch.write(v), receive: () => ch.read() };
};

// The floor: an unbounded array queue; each side awaits one promise per message.
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

async function row(capacity: number): Promise<(string | number)[][]> {
  const cases: Case[] = [
    { name: 'weir', run: (n) => pingPong(weir(capacity), n) },
    { name: 'ts-chan', run: (n) => pingPong(tsChan(capacity), n) },
    { name: 'async-channel', run: (n) => pingPong(asyncChannel(capacity), n) },
    // @thi.ng/csp has no rendezvous channel (its buffers need capacity >= 1).
    ...(capacity > 0
      ? [{ name: '@thi.ng/csp', run: (n: number) => pingPong(thing(capacity), n) }]
      : []),
    { name: 'floor (array queue + 1 promise/msg)', run: (n) => pingPong(floor, n) },
  ];
  const results = await compare(cases);
  const weirRate = results[0]!.opsPerSec;
  const peers = results.slice(1, -1);
  const best = Math.max(...peers.map((r) => r.opsPerSec));
  return results.map((r) => [
    `capacity ${capacity}`,
    r.name,
    rate(r.opsPerSec),
    r.name === 'weir'
      ? `${(weirRate / best).toFixed(2)}x fastest peer`
      : (weirRate / r.opsPerSec).toFixed(2),
  ]);
}

const rows = [...(await row(0)), ...(await row(64))];
console.log(`\nNode ${process.version}, messages per second (median of 5 rounds)\n`);
table(['channel', 'library', 'msg/s', 'weir ÷ this'], rows);
