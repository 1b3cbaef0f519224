// The SSE parser against any build of weir, for before/after runs of two trees:
// `node --import tsx bench/ab/sse-parse.ts <dist> <case> [passes] [stream]` parses the
// stream of bench/sse.ts (100,000 events, or $EVENTS, in 16 KiB chunks) `passes` times
// and prints the events per second of the best pass. Under `valgrind --tool=callgrind
// node --single-threaded ...`, run for two values of `passes`, the difference of the two
// instruction totals divided by the difference of the events parsed is the cost of one
// event, free of start-up and of building the stream.
// Cases: bytes, text (weir fed Uint8Array chunks / pre-decoded strings), esp-bytes,
// esp-text (eventsource-parser 3, with a streaming TextDecoder / on pre-decoded strings).
// Streams: mixed (bench/sse.ts's, a non-ASCII character in every data line), ascii (the
// same without it).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createParser } from 'eventsource-parser';

interface Parser {
  feed(chunk: Uint8Array | string): void;
  end(): void;
}
type ParserClass = new (o: { onEvent: () => void }) => Parser;

const [dist = 'dist', which = 'bytes', passesArg = '5', stream = 'mixed'] = process.argv.slice(2);
const url = pathToFileURL(resolve(dist, 'sse/index.js')).href;
const { SseParser } = (await import(url)) as { SseParser: ParserClass };
const passes = Number(passesArg);

const EVENTS = Number(process.env.EVENTS ?? 100_000); // events a pass
const note = stream === 'ascii' ? 'e' : 'é';
let text = '';
for (let i = 0; i < EVENTS; i++) {
  if (i % 10 === 0) text += ': keep-alive\n\n';
  const data = JSON.stringify({ seq: i, symbol: 'WEIR', price: 100 + (i % 97) / 7, note });
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
  bytes: () => {
    let n = 0;
    const p = new SseParser({ onEvent: () => n++ });
    for (const c of chunks) p.feed(c);
    p.end();
    return n;
  },
  text: () => {
    let n = 0;
    const p = new SseParser({ onEvent: () => n++ });
    for (const s of strings) p.feed(s);
    p.end();
    return n;
  },
  'esp-bytes': () => {
    let n = 0;
    const p = createParser({ onEvent: () => n++ });
    const d = new TextDecoder();
    for (const c of chunks) p.feed(d.decode(c, { stream: true }));
    p.reset({ consume: false });
    return n;
  },
  'esp-text': () => {
    let n = 0;
    const p = createParser({ onEvent: () => n++ });
    for (const s of strings) p.feed(s);
    return n;
  },
};

const run = cases[which];
if (run === undefined) throw new Error(`no case ${which}`);
let best = 0;
for (let r = 0; r < passes; r++) {
  const t0 = performance.now();
  const n = run();
  const dt = performance.now() - t0;
  if (n !== EVENTS) throw new Error(`${which} parsed ${n} events, not ${EVENTS}`);
  best = Math.max(best, (n / dt) * 1000);
}
console.log(`${which} ${stream}: ${(best / 1e6).toFixed(2)}M events/s (best of ${passes})`);
