// Server-sent events parsed per second: weir's SseParser against eventsource-parser 3.x,
// over the same 100,000-event stream cut into 16 KiB network-sized chunks. weir takes the
// bytes; eventsource-parser takes text, so it is measured both with the UTF-8 decoding a
// client must do (bytes in, as for weir) and fed pre-decoded strings (its best case).
import { createParser } from 'eventsource-parser';
import { SseParser } from 'weir/sse';
import { rate, table } from './lib.js';

const EVENTS = 100_000;
const ROUNDS = 7;

let text = '';
for (let i = 0; i < EVENTS; i++) {
  if (i % 10 === 0) text += ': keep-alive\n\n';
  const data = JSON.stringify({ seq: i, symbol: 'WEIR', price: 100 + (i % 97) / 7, note: 'é' });
  if (i % 20 === 0) text += `id: ${i}\nevent: batch\ndata: ${data}\ndata: ${data}\r\n\r\n`;
  else text += `id: ${i}\nevent: tick\ndata: ${data}\n\n`;
}
const bytes = Buffer.from(text);
const CHUNK = 16 * 1024;
const chunks: Uint8Array[] = [];
for (let o = 0; o < bytes.length; o += CHUNK) {
  chunks.push(new Uint8Array(bytes.subarray(o, Math.min(o + CHUNK, bytes.length))));
}
const strings = (() => {
  const d = new TextDecoder();
  return chunks.map((c) => d.decode(c, { stream: true }));
})();

const cases: Record<string, () => number> = {
  'weir SseParser (bytes)': () => {
    let n = 0;
    const p = new SseParser({ onEvent: () => n++ });
    for (const c of chunks) p.feed(c);
    p.end();
    return n;
  },
  'weir SseParser (pre-decoded strings)': () => {
    let n = 0;
    const p = new SseParser({ onEvent: () => n++ });
    for (const s of strings) p.feed(s);
    p.end();
    return n;
  },
  'eventsource-parser 3 (bytes, TextDecoder)': () => {
    let n = 0;
    const p = createParser({ onEvent: () => n++ });
    const d = new TextDecoder();
    for (const c of chunks) p.feed(d.decode(c, { stream: true }));
    p.reset({ consume: false });
    return n;
  },
  'eventsource-parser 3 (pre-decoded strings)': () => {
    let n = 0;
    const p = createParser({ onEvent: () => n++ });
    for (const s of strings) p.feed(s);
    return n;
  },
};

const names = Object.keys(cases);
for (const name of names) for (let i = 0; i < 3; i++) cases[name]!(); // warm up
const rates = new Map<string, number[]>(names.map((n) => [n, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const name of names) {
    const t0 = performance.now();
    const n = cases[name]!();
    const dt = performance.now() - t0;
    if (n !== EVENTS) throw new Error(`${name} parsed ${n} events, not ${EVENTS}`);
    rates.get(name)!.push((n / dt) * 1000);
  }
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const weir = median(rates.get(names[0]!)!);
console.log(
  `${EVENTS} events, ${(bytes.length / 2 ** 20).toFixed(1)} MiB in ${chunks.length} chunks\n`,
);
table(
  ['parser', 'events/s', 'MiB/s', 'weir ÷ this'],
  names.map((name) => {
    const own = median(rates.get(name)!);
    return [
      name,
      rate(own),
      ((own * bytes.length) / EVENTS / 2 ** 20).toFixed(0),
      name === names[0] ? '-' : (weir / own).toFixed(2),
    ];
  }),
);
