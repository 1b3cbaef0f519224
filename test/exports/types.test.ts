// The published declarations, as a user's compiler sees them: fixtures/consumer.ts is
// type-checked by `tsc` against dist/*.d.ts through the package's own `exports` (no
// `paths` to the sources) with skipLibCheck off, so a declaration that does not resolve
// fails, and each `@ts-expect-error` in it asserts that an internal member stays hidden.
// `npm test` builds first.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const fixture = new URL('./fixtures/tsconfig.json', import.meta.url).pathname;
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

test('a consumer compiles against the built declarations, and internals stay hidden', () => {
  const run = spawnSync(process.execPath, [tsc, '-p', fixture, '--listFiles'], {
    encoding: 'utf8',
  });
  const files = run.stdout.split('\n');
  const errors = files.filter((l) => l.includes('error TS'));
  assert.equal(run.status, 0, `tsc found errors:\n${errors.join('\n')}${run.stderr}`);
  // The check must have read the built declarations, not the sources.
  assert.ok(files.some((f) => /\/dist\/pool\/index\.d\.ts$/.test(f)));
  assert.ok(files.some((f) => /\/dist\/testing\/index\.d\.ts$/.test(f)));
  assert.ok(!files.some((f) => /\/src\/.*\.ts$/.test(f)));
});
