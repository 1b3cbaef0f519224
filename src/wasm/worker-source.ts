// The program each worker runs, as source text: evaluated (`eval: true`) so that it needs
// no file next to the built one and no loader, whether weir runs from dist/ or from its
// sources. It holds one instance of the module it was given, answers calls in order, and
// resets on request; messages are handled one at a time, so a reset posted after a call
// is done before the next call starts.

/** @internal */
export const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { module, importsUrl, snapshot: wantSnapshot } = workerData;
const MIB = 1048576;
let makeImports;
let instance;
let memories = [];
let snap;
let instantiateMs = 0.082;
let restoreMsPerMiB = 0.028;

function memoriesOf(inst, imports) {
  const found = [];
  for (const v of Object.values(inst.exports)) {
    if (v instanceof WebAssembly.Memory && !found.includes(v)) found.push(v);
  }
  if (imports) {
    for (const ns of Object.values(imports)) {
      if (typeof ns !== 'object' || ns === null) continue;
      for (const v of Object.values(ns)) {
        if (v instanceof WebAssembly.Memory && !found.includes(v)) found.push(v);
      }
    }
  }
  return found;
}

function bytes() {
  let n = 0;
  for (const m of memories) n += m.buffer.byteLength;
  return n;
}

function instantiate() {
  const imports = makeImports === undefined ? undefined : makeImports();
  const t0 = performance.now();
  instance = new WebAssembly.Instance(module, imports);
  instantiateMs = performance.now() - t0;
  memories = memoriesOf(instance, imports);
}

function takeSnapshot() {
  const globals = [];
  for (const [name, g] of Object.entries(instance.exports)) {
    if (!(g instanceof WebAssembly.Global)) continue;
    try {
      g.value = g.value;
      globals.push([name, g.value]);
    } catch {}
  }
  snap = { memories: memories.map((m) => new Uint8Array(m.buffer).slice()), globals };
}

function restore() {
  if (snap === undefined || memories.length !== snap.memories.length) return false;
  for (let i = 0; i < memories.length; i++) {
    if (memories[i].buffer.byteLength !== snap.memories[i].byteLength) return false;
  }
  const t0 = performance.now();
  for (let i = 0; i < memories.length; i++) new Uint8Array(memories[i].buffer).set(snap.memories[i]);
  for (const [name, value] of snap.globals) instance.exports[name].value = value;
  const n = bytes();
  if (n >= MIB / 16) restoreMsPerMiB = ((performance.now() - t0) * MIB) / n;
  return true;
}

function isTrap(error) {
  return (
    error instanceof WebAssembly.RuntimeError ||
    (error instanceof RangeError && /call stack/i.test(error.message))
  );
}

function post(message) {
  try {
    parentPort.postMessage(message);
  } catch (error) {
    // A value that cannot be cloned: say so instead of leaving the caller waiting.
    parentPort.postMessage({ t: 'error', id: message.id, trap: false, benign: true, bytes: bytes(),
      error: new TypeError('The result could not be posted from the worker: ' + error.message) });
  }
}

parentPort.on('message', (m) => {
  if (m.t === 'call') {
    const fn = instance.exports[m.name];
    if (typeof fn !== 'function') {
      post({ t: 'error', id: m.id, trap: false, benign: true, bytes: bytes(),
        error: new TypeError('The module has no exported function "' + m.name + '"') });
      return;
    }
    let value;
    try {
      value = fn(...m.args);
    } catch (error) {
      post({ t: 'error', id: m.id, trap: isTrap(error), error, bytes: bytes() });
      return;
    }
    post({ t: 'done', id: m.id, value, bytes: bytes() });
  } else if (m.t === 'reset') {
    try {
      let how = m.how;
      if (how === 'auto') how = (bytes() / MIB) * restoreMsPerMiB < instantiateMs ? 'snapshot' : 'reinstantiate';
      if (how === 'snapshot' && !restore()) how = 'reinstantiate';
      if (how === 'reinstantiate') instantiate();
      post({ t: 'reset', bytes: bytes() });
    } catch (error) {
      post({ t: 'resetFailed', error, bytes: bytes() });
    }
  }
});

(async () => {
  try {
    if (importsUrl !== undefined) {
      const loaded = await import(importsUrl);
      const d = loaded.default;
      makeImports = typeof d === 'function' ? d : () => d;
    }
    instantiate();
    if (wantSnapshot) takeSnapshot();
    post({ t: 'ready', bytes: bytes() });
  } catch (error) {
    post({ t: 'failed', error, bytes: 0 });
  }
})();
`;
