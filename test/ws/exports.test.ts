// weir/ws through the package's own exports map, on the built files.
import assert from 'node:assert/strict';
import { test } from 'node:test';

test('weir/ws resolves to the built files and exports its surface', async () => {
  const ws = await import('weir/ws');
  for (const name of [
    'connectWs',
    'createWsPool',
    'acceptWsStreams',
    'WsConnection',
    'WsPool',
    'WsStream',
    'WsStreamServer',
    'WsError',
    'isWeirError',
    'defaultIsFatalClose',
  ]) {
    assert.equal(typeof (ws as Record<string, unknown>)[name], 'function', name);
  }
  assert.match(import.meta.resolve('weir/ws'), /\/dist\/ws\/index\.js$/);
  assert.equal(ws.defaultIsFatalClose(1008), true);
  assert.equal(ws.defaultIsFatalClose(1001), false);
});
