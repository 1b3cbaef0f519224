// What `npm publish` would ship: packs the package (scripts skipped; `npm test` has just
// built dist/) into a temporary directory, installs nothing, and checks the tarball's files:
// the licence, the build behind every export, no tests or benchmarks, source maps whose
// sources are shipped, README links that resolve inside the package. Also checks that
// CommonJS can require() the package where Node can load ES modules that way.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { after, before, test } from 'node:test';

const root = new URL('../../', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, null | string | Record<string, string>>;
  license: string;
  repository?: { url?: string };
  bugs?: { url?: string };
  homepage?: string;
};
let dir = '';
let files = new Set<string>();

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'weir-pack-'));
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const out = execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
    cwd: root,
    encoding: 'utf8',
  });
  const [packed] = JSON.parse(out) as [{ filename: string }];
  // The tarball itself, not npm's report of it.
  const listing = execFileSync('tar', ['-tzf', join(dir, packed.filename)], { encoding: 'utf8' });
  files = new Set(
    listing
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.replace(/^package\//, '')),
  );
});

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

test('the tarball holds the licence, the README, the docs and the build of every export', () => {
  for (const f of ['LICENSE', 'README.md', 'package.json', 'docs/errors.md']) {
    assert.ok(files.has(f), `${f} is in the tarball`);
  }
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (target === null || subpath.includes('*')) continue;
    const paths = typeof target === 'string' ? [target] : Object.values(target);
    for (const p of paths) assert.ok(files.has(p.replace(/^\.\//, '')), `${subpath}: ${p}`);
  }
  const licence = readFileSync(join(root, 'LICENSE'), 'utf8');
  assert.equal(pkg.license, 'MIT');
  assert.match(licence, /^MIT License/);
  assert.match(licence, /Copyright \(c\) 2026 the weir authors/);
  assert.equal(pkg.repository?.url, 'git+https://github.com/weir-js/weir.git');
  assert.equal(pkg.bugs?.url, 'https://github.com/weir-js/weir/issues');
  assert.equal(pkg.homepage, 'https://github.com/weir-js/weir#readme');
});

test('no tests, benchmarks, examples or tooling are shipped', () => {
  const stray = [...files].filter((f) =>
    /^(test|bench|examples|node_modules|\.ci|\.git)\/|^(tsconfig.*|biome)\.json$|\.test\.ts$|\.tgz$/.test(
      f,
    ),
  );
  assert.deepEqual(stray, []);
});

test('every source map points at sources in the tarball', () => {
  const maps = [...files].filter((f) => f.endsWith('.map'));
  assert.ok(maps.length > 100, `${maps.length} source maps`);
  const missing: string[] = [];
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(root, map), 'utf8')) as { sources: string[] };
    for (const s of sources) {
      const resolved = normalize(join(dirname(map), s));
      if (!files.has(resolved)) missing.push(`${map} -> ${resolved}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('every relative link of the README points at a file in the tarball', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!);
  assert.ok(links.length > 0);
  const broken = links.filter((l) => !/^[a-z]+:/.test(l) && !files.has(normalize(l)));
  assert.deepEqual(broken, []);
});

// require(esm) without a flag: Node 20.19+ and 22.12+ (process.features.require_module).
const requireEsm = (process.features as { require_module?: boolean }).require_module === true;

test('CommonJS code can require() every entry', {
  skip: !requireEsm && 'no require(esm) here',
}, () => {
  const entries = Object.keys(pkg.exports)
    .filter((k) => !k.includes('*') && k !== './package.json' && pkg.exports[k] !== null)
    .map((k) => `weir${k.slice(1)}`);
  const script = `
    const names = ${JSON.stringify(entries)};
    for (const n of names) if (Object.keys(require(n)).length === 0) throw new Error(n + ' is empty');
    const { createPool } = require('weir/pool');
    const { FakeClock } = require('weir/testing');
    createPool({ create: () => 1, clock: new FakeClock() }).use((r) => r).then((r) => {
      if (r !== 1) throw new Error('use() gave ' + r);
      process.stdout.write('ok');
    });`;
  // Run from inside the package, which resolves `weir` to itself through `exports`.
  const run = spawnSync(process.execPath, ['--input-type=commonjs', '-e', script], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, 'ok');
});
