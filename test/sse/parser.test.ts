import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isWeirError, type SseEvent, SseParser } from '../../src/sse/index.js';

interface Parsed {
  events: SseEvent[];
  retries: number[];
  comments: string[];
  lastEventId: string;
}

function parse(chunks: (string | Uint8Array)[], lastEventId?: string): Parsed {
  const out: Parsed = { events: [], retries: [], comments: [], lastEventId: '' };
  const p = new SseParser({
    onEvent: (e) => out.events.push(e),
    onRetry: (ms) => out.retries.push(ms),
    onComment: (c) => out.comments.push(c),
    lastEventId,
  });
  for (const c of chunks) p.feed(c);
  p.end();
  out.lastEventId = p.lastEventId;
  return out;
}

const ev = (data: string, event = 'message', id = ''): SseEvent => ({ event, data, id });

describe('SseParser follows the WHATWG event-stream rules', () => {
  test('data lines join with \\n; one leading space is removed, no more', () => {
    assert.deepEqual(parse(['data: a\ndata:b\ndata:  c\n\n']).events, [ev('a\nb\n c')]);
    assert.deepEqual(parse(['data\n\n']).events, [ev('')]);
    assert.deepEqual(parse(['data:\ndata:\n\n']).events, [ev('\n')]);
  });

  test('LF, CR and CRLF all end lines, mixed', () => {
    assert.deepEqual(parse(['data: 1\rdata: 2\r\ndata: 3\n\r\n']).events, [ev('1\n2\n3')]);
    assert.deepEqual(parse(['data: x\r\r']).events, [ev('x')]);
  });

  test('a blank line with no data dispatches nothing and resets the type', () => {
    assert.deepEqual(parse(['event: a\n\ndata: x\n\n']).events, [ev('x')]);
  });

  test('event sets the type; empty event means message', () => {
    assert.deepEqual(parse(['event: add\ndata: 1\n\nevent:\ndata: 2\n\n']).events, [
      ev('1', 'add'),
      ev('2'),
    ]);
  });

  test('id carries over from event to event, is reset by an empty id, ignored with NUL', () => {
    const r = parse(['id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid: 2\0x\ndata: d\n\n']);
    assert.deepEqual(r.events, [
      ev('a', 'message', '1'),
      ev('b', 'message', '1'),
      ev('c'),
      ev('d'),
    ]);
    // An id-only block updates the last event id without dispatching.
    const s = parse(['data: a\n\nid: 7\n\n']);
    assert.deepEqual(s.events, [ev('a')]);
    assert.equal(s.lastEventId, '7');
  });

  test('a new stream starts with an empty id buffer, the source keeps its last event id', () => {
    const r = parse(['data: a\n\n'], '41');
    assert.deepEqual(r.events, [ev('a')]);
    assert.equal(parse([':x\n'], '41').lastEventId, '41');
  });

  test('retry counts only when it is all ASCII digits', () => {
    assert.deepEqual(
      parse(['retry: 1500\nretry: 15a\nretry: -1\nretry:\nretry: 2.5\nretry: 07\n']).retries,
      [1500, 7],
    );
  });

  test('comments, unknown fields, field names with no colon', () => {
    const r = parse([': hello\n:\ndata: x\nfoo: bar\nDATA: no\ndata\n\n']);
    assert.deepEqual(r.comments, ['hello', '']);
    assert.deepEqual(r.events, [ev('x\n')]);
  });

  test('a leading BOM is skipped once; a second one is part of the line', () => {
    assert.deepEqual(parse(['\ufeffdata: a\n\n']).events, [ev('a')]);
    assert.deepEqual(parse(['\ufeff\ufeffdata: a\n\n']).events, []);
  });

  test('an event cut off by the end of the stream is discarded', () => {
    assert.deepEqual(parse(['data: a\n\ndata: b\n']).events, [ev('a')]);
    assert.deepEqual(parse(['data: a\n\ndata: b']).events, [ev('a')]);
  });

  test('invalid UTF-8 becomes U+FFFD; multi-byte text survives', () => {
    const bytes = Buffer.concat([
      Buffer.from('data: a'),
      Buffer.from([0xe2, 0x82]),
      Buffer.from('\ndata: é✓😀\n\n'),
    ]);
    assert.deepEqual(parse([bytes]).events, [ev('a\ufffd\né✓😀')]);
  });

  test('every split at every byte boundary gives the same events', () => {
    const text = Buffer.from(
      '\ufeff: c\r\nretry: 10\nid: 1\r\nevent: a\rdata: x\r\n\r\ndata: é✓😀\n\nid: 2\0\ndata: y\r\rdata\ndata: z\n\r\nid: 3\n\n: end\ndata: partial',
    );
    const whole = parse([text]);
    assert.deepEqual(whole.events, [
      ev('x', 'a', '1'),
      ev('é✓😀', 'message', '1'),
      ev('y', 'message', '1'),
      ev('\nz', 'message', '1'),
    ]);
    assert.equal(whole.lastEventId, '3');
    assert.deepEqual(whole.retries, [10]);
    for (let a = 0; a <= text.length; a++) {
      for (let b = a; b <= text.length; b++) {
        const r = parse([text.subarray(0, a), text.subarray(a, b), text.subarray(b)]);
        assert.deepEqual(r, whole, `split at ${a}, ${b}`);
      }
    }
    // And byte by byte.
    assert.deepEqual(parse([...text].map((b) => Uint8Array.of(b))), whole);
  });

  test('a line over maxLineLength or data over maxEventLength throws', () => {
    const p = new SseParser({ onEvent: () => {}, maxLineLength: 10 });
    assert.throws(
      () => p.feed('data: 0123456789\n'),
      (e) => isWeirError(e, 'ERR_SSE_LINE_TOO_LONG'),
    );
    const q = new SseParser({ onEvent: () => {}, maxLineLength: 10 });
    q.feed('data: 01');
    assert.throws(
      () => q.feed('23456789'),
      (e) => isWeirError(e, 'ERR_SSE_LINE_TOO_LONG'),
    );
    const r = new SseParser({ onEvent: () => {}, maxEventLength: 8 });
    assert.throws(
      () => r.feed('data: 1234\ndata: 5678\n'),
      (e) => isWeirError(e, 'ERR_SSE_EVENT_TOO_LARGE'),
    );
  });
});
