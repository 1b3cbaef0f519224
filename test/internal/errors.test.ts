import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Emitter } from '../../src/internal/emitter.js';
import {
  BrokenResourceError,
  describe as describeValue,
  isWeirError,
  TimeoutError,
  WeirError,
} from '../../src/internal/errors.js';
import { childController, onAbort } from '../../src/internal/signals.js';

test('WeirError carries code, name and cause, and is recognised across copies', () => {
  const cause = new Error('root');
  const e = new TimeoutError('slow', { cause });
  assert.equal(e.code, 'ERR_TIMEOUT');
  assert.equal(e.name, 'TimeoutError');
  assert.equal(e.cause, cause);
  assert.ok(e instanceof WeirError);
  assert.ok(e instanceof TimeoutError);
  assert.ok(!(new BrokenResourceError() instanceof TimeoutError));
  // An error from another copy of the library: same brand, different class.
  const foreign = Object.assign(new Error('x'), {
    code: 'ERR_POOL_TIMEOUT',
    [Symbol.for('weir.error')]: true,
  });
  assert.ok(foreign instanceof WeirError);
  assert.ok(isWeirError(foreign, 'ERR_POOL_TIMEOUT'));
  assert.ok(!isWeirError(foreign, 'ERR_POOL_CLOSED'));
  assert.ok(!isWeirError(new Error('plain')));
});

test('describe names values for option errors', () => {
  assert.equal(describeValue(0), '0 (number)');
  assert.equal(describeValue('x'), '"x" (string)');
  assert.equal(describeValue(null), 'null');
});

test('onAbort and childController never leave listeners behind', () => {
  const parent = new AbortController();
  let calls = 0;
  const dispose = onAbort(parent.signal, () => calls++);
  dispose();
  const child = childController(parent.signal);
  child.dispose();
  parent.abort(new Error('late'));
  assert.equal(calls, 0);
  assert.equal(child.controller.signal.aborted, false, 'a disposed child is detached');
  const p2 = new AbortController();
  const c2 = childController(p2.signal);
  p2.abort(new Error('why'));
  assert.equal((c2.controller.signal.reason as Error).message, 'why');
});

test('Emitter: once, off, listener errors do not break emit', async () => {
  class E extends Emitter<{ ping: (n: number) => void }> {
    fire(n: number) {
      this.emit('ping', n);
    }
  }
  const e = new E();
  const seen: number[] = [];
  e.once('ping', (n) => seen.push(n));
  const off = e.on('ping', (n) => seen.push(n * 10));
  e.fire(1);
  off();
  e.fire(2);
  assert.deepEqual(seen, [1, 10]);
  assert.equal(e.listenerCount('ping'), 0);
});
