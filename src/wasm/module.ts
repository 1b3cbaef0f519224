// Where the compiled module comes from: bytes, a file, or a `WebAssembly.Module` the
// caller compiled. Compiled once per pool, asynchronously, so a large module (81 ms for
// 73 KB) never blocks the event loop at pool creation.

import { readFile } from 'node:fs/promises';
import { WebAssembly } from './webassembly.js';

/** What `module` may be: the bytes, a path or `file:` URL of a `.wasm` file, or a compiled module. */
export type WasmSource = WebAssembly.Module | Uint8Array | ArrayBuffer | string | URL;

/** @internal Checks the `module` option. @throws {TypeError} */
export function checkSource(value: unknown): WasmSource {
  if (
    value instanceof WebAssembly.Module ||
    value instanceof Uint8Array ||
    value instanceof ArrayBuffer ||
    value instanceof URL ||
    (typeof value === 'string' && value.length > 0)
  ) {
    return value as WasmSource;
  }
  throw new TypeError(
    'Expected `module` to be a WebAssembly.Module, the bytes of one (Uint8Array or ArrayBuffer), or a path or file: URL of a .wasm file',
  );
}

/** @internal Loads and compiles `source`; a given `WebAssembly.Module` is used as it is. */
export async function compileSource(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  const bytes =
    typeof source === 'string' || source instanceof URL ? await readFile(source) : source;
  return WebAssembly.compile(bytes);
}
