// The part of the WebAssembly JS API that weir/wasm uses, typed here: Node 20's type
// definitions do not declare it (it lives in TypeScript's DOM library), and weir must not
// ask its users to compile with the DOM library. The value is the runtime's own global.

/** @internal Constructors of the JS API that weir/wasm uses. */
export interface WebAssemblyApi {
  Module: {
    new (bytes: ArrayBuffer | ArrayBufferView): WebAssembly.Module;
    prototype: WebAssembly.Module;
    exports(module: WebAssembly.Module): WebAssembly.ModuleExportDescriptor[];
  };
  Instance: {
    new (module: WebAssembly.Module, imports?: WebAssembly.Imports): WebAssembly.Instance;
    prototype: WebAssembly.Instance;
  };
  Memory: {
    new (descriptor: { initial: number; maximum?: number }): WebAssembly.Memory;
    prototype: WebAssembly.Memory;
  };
  Global: {
    new (descriptor: { value: string; mutable?: boolean }, value?: unknown): WebAssembly.Global;
    prototype: WebAssembly.Global;
  };
  RuntimeError: { new (message?: string): Error; prototype: Error };
  compile(bytes: ArrayBuffer | ArrayBufferView): Promise<WebAssembly.Module>;
}

/** @internal The runtime's `WebAssembly` object. */
export const WebAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** The WebAssembly types weir/wasm's API mentions, compatible with the DOM library's. */
export declare namespace WebAssembly {
  /** A compiled module (`WebAssembly.Module`). */
  interface Module {
    readonly [Symbol.toStringTag]: string;
  }
  /** An instance (`WebAssembly.Instance`). */
  interface Instance {
    readonly exports: Exports;
  }
  /** A linear memory (`WebAssembly.Memory`). */
  interface Memory {
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  /** A global (`WebAssembly.Global`). */
  interface Global {
    value: unknown;
  }
  /** An import object: module name, then field name. */
  type Imports = Record<string, Record<string, unknown>>;
  /** An instance's exports. */
  type Exports = Record<string, unknown>;
  /** One entry of `WebAssembly.Module.exports(module)`. */
  interface ModuleExportDescriptor {
    name: string;
    kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
  }
}
