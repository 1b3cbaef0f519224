// The published declarations of weir/wasm as a user's compiler sees them: a consumer is
// type-checked against dist/wasm/*.d.ts through the package's exports, with skipLibCheck
// off and without the DOM library (where TypeScript keeps the WebAssembly types), so a
// declaration that names a stripped internal, or a DOM type, fails here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const fixture = new URL('./fixtures/consumer/tsconfig.json', import.meta.url).pathname;
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

test('a consumer compiles against the built weir/wasm declarations without the DOM library', () => {
  const run = spawnSync(process.execPath, [tsc, '-p', fixture, '--listFiles'], {
    encoding: 'utf8',
  });
  const files = run.stdout.split('\n');
  const errors = files.filter((l) => l.includes('error TS'));
  assert.equal(run.status, 0, `tsc found errors:\n${errors.join('\n')}${run.stderr}`);
  assert.ok(files.some((f) => /\/dist\/wasm\/index\.d\.ts$/.test(f)));
  assert.ok(!files.some((f) => /\/src\/.*\.ts$/.test(f)));
  assert.ok(!files.some((f) => /lib\.dom\.d\.ts$/.test(f)));
});
