// Keeps three lists equal: the codes weir raises (string literals in src/), the
// `WeirErrorCode` union, and the table in docs/errors.md. A code added in one place
// only fails here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('../../', import.meta.url).pathname;

// Codes of Node, OpenSSL and undici that weir only compares against (or a prefix it
// tests with startsWith). A new one is added here on purpose, never by accident.
const FOREIGN = new Set([
  'ERR_HTTP2_',
  'ERR_HTTP2_ERROR',
  'ERR_HTTP2_GOAWAY_SESSION',
  'ERR_HTTP2_INVALID_HEADER_VALUE',
  'ERR_HTTP2_INVALID_PSEUDOHEADER',
  'ERR_HTTP2_INVALID_SESSION',
  'ERR_HTTP2_SESSION_ERROR',
  'ERR_HTTP2_STREAM_CANCEL',
  'ERR_HTTP2_STREAM_ERROR',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL',
  'ERR_SSE_',
]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

function unionCodes(): Set<string> {
  const text = readFileSync(join(root, 'src/internal/errors.ts'), 'utf8');
  const block = /export type WeirErrorCode =([^;]*);/.exec(text);
  assert.ok(block, 'src/internal/errors.ts declares `export type WeirErrorCode = … ;`');
  return new Set([...block[1]!.matchAll(/'(ERR_[A-Z0-9_]+)'/g)].map((m) => m[1]!));
}

function sourceCodes(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of sources(join(root, 'src'))) {
    // The union itself does not count as raising a code.
    const text = readFileSync(file, 'utf8').replace(/export type WeirErrorCode =[^;]*;/, '');
    for (const m of text.matchAll(/['"`](ERR_[A-Z0-9_]+)['"`]/g)) {
      if (!found.has(m[1]!)) found.set(m[1]!, file.slice(root.length));
    }
  }
  return found;
}

function documentedCodes(): Set<string> {
  const text = readFileSync(join(root, 'docs/errors.md'), 'utf8');
  const codes = new Set<string>();
  for (const line of text.split('\n')) {
    const first = /^\|([^|]*)\|/.exec(line)?.[1];
    if (first === undefined) continue;
    for (const m of first.matchAll(/`(ERR_[A-Z0-9_]+)`/g)) codes.add(m[1]!);
  }
  return codes;
}

test('every code raised in src/ is in WeirErrorCode, and every member is raised', () => {
  const union = unionCodes();
  const raised = sourceCodes();
  for (const code of FOREIGN) raised.delete(code);
  const missing = [...raised].filter(([c]) => !union.has(c)).map(([c, f]) => `${c} (${f})`);
  assert.deepEqual(missing, [], 'codes raised in src/ but missing from WeirErrorCode');
  const unused = [...union].filter((c) => !raised.has(c));
  assert.deepEqual(unused, [], 'WeirErrorCode members that nothing in src/ raises');
});

test('docs/errors.md has a row for every code of WeirErrorCode, and no other', () => {
  const union = unionCodes();
  const documented = documentedCodes();
  assert.deepEqual(
    [...union].filter((c) => !documented.has(c)),
    [],
    'codes missing from the table in docs/errors.md',
  );
  assert.deepEqual(
    [...documented].filter((c) => !union.has(c)),
    [],
    'codes in docs/errors.md that WeirErrorCode does not have',
  );
});

test('the scan sees the codes that used to be missing from the table', () => {
  // ERR_CHANNEL_CLOSED and ERR_STREAM_TIMEOUT were raised but undocumented: guard the
  // scan itself, so that a broken regex cannot pass the tests above vacuously.
  const raised = sourceCodes();
  assert.ok(raised.has('ERR_CHANNEL_CLOSED'));
  assert.ok(raised.has('ERR_STREAM_TIMEOUT'));
  assert.ok(documentedCodes().has('ERR_CHANNEL_CLOSED'));
  assert.ok(documentedCodes().has('ERR_STREAM_TIMEOUT'));
  assert.ok(unionCodes().size >= 30);
});
