#!/usr/bin/env node
// `npm run check:cycles`: fails when the modules under src/ import each other in a circle.
// Reads the relative `import`/`export … from './x.js'` specifiers of every src/**/*.ts
// (type-only imports included: a circle of types is still a circle of meaning), resolves
// them to files, and reports each circle found by a depth-first search once.
// A circle listed in scripts/cycles-allowed.txt (one per line, the files joined by " -> ",
// starting at the alphabetically first) is reported but does not fail the check; the list
// is meant to be empty.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

// `from '…'` after import/export, and bare `import '…'`; comments are stripped first so a
// specifier quoted in a doc comment is not an edge.
const SPEC = /(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\1/g;

function edgesOf(file) {
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const out = new Set();
  for (const m of text.matchAll(SPEC)) {
    const target = resolve(dirname(file), m[2].replace(/\.js$/, '.ts'));
    const candidates = [target, `${target}.ts`, join(target, 'index.ts')];
    const hit = candidates.find((c) => c.endsWith('.ts') && existsSync(c));
    if (hit !== undefined) out.add(hit);
  }
  return [...out];
}

const files = walk(src).sort();
const graph = new Map(files.map((f) => [f, edgesOf(f)]));
const name = (f) => relative(root, f);

// Iterative colouring DFS; a back edge to a node on the stack closes a circle.
const WHITE = 0;
const GREY = 1;
const BLACK = 2;
const colour = new Map(files.map((f) => [f, WHITE]));
const cycles = new Map();
for (const start of files) {
  if (colour.get(start) !== WHITE) continue;
  const stack = [[start, 0]];
  const path = [start];
  colour.set(start, GREY);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const next = graph.get(top[0])[top[1]++];
    if (next === undefined) {
      colour.set(top[0], BLACK);
      stack.pop();
      path.pop();
    } else if (colour.get(next) === GREY) {
      const circle = path.slice(path.indexOf(next)).map(name);
      // Rotated to start at its smallest name, so one circle is reported once.
      const i = circle.indexOf([...circle].sort()[0]);
      const key = [...circle.slice(i), ...circle.slice(0, i)].join(' -> ');
      cycles.set(key, true);
    } else if (colour.get(next) === WHITE) {
      colour.set(next, GREY);
      stack.push([next, 0]);
      path.push(next);
    }
  }
}

const allowFile = join(root, 'scripts', 'cycles-allowed.txt');
const allowed = new Set(
  existsSync(allowFile)
    ? readFileSync(allowFile, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'))
    : [],
);
let failing = 0;
for (const key of cycles.keys()) {
  const ok = allowed.has(key);
  if (!ok) failing++;
  console.log(`${ok ? 'allowed' : 'cycle'}: ${key} -> ${key.split(' -> ')[0]}`);
}
for (const key of allowed) {
  if (!cycles.has(key)) console.log(`stale allowance (no longer a cycle): ${key}`);
}
console.log(`check-cycles: ${files.length} files, ${cycles.size} cycle(s), ${failing} not allowed`);
process.exit(failing === 0 ? 0 : 1);
