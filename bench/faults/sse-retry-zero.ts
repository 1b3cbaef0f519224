// A server that answers 200 with `retry: 0` and closes at once, with no event (an
// overloaded backend behind a proxy) or with one event each time. Counts how many
// connections connectSse opens in WINDOW_MS of real time. Bounded: each case stops itself
// with a signal after WINDOW_MS.
//   node --import tsx bench/faults/sse-retry-zero.ts
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectSse } from '../../src/sse/index.js';

const WINDOW_MS = 3000;

async function run(body: string): Promise<{ connections: number; events: number }> {
  let connections = 0;
  const server = createServer((_req, res) => {
    connections++;
    res.writeHead(200, { 'content-type': 'text/event-stream' }).end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  let events = 0;
  try {
    for await (const _ of connectSse(url, { signal: AbortSignal.timeout(WINDOW_MS) })) events++;
  } catch (error) {
    if ((error as Error).name !== 'TimeoutError') throw error;
  }
  server.closeAllConnections();
  server.close();
  return { connections, events };
}

for (const [name, body] of [
  ['no event', 'retry: 0\n\n'],
  ['one event', 'retry: 0\ndata: x\n\n'],
] as const) {
  const r = await run(body);
  console.log(
    `${name}: ${r.connections} connections, ${r.events} events in ${WINDOW_MS} ms (${((r.connections * 1000) / WINDOW_MS).toFixed(1)} connections/s)`,
  );
}
