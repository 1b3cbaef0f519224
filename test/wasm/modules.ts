// Modules for the wasm tests, built from WAT at test time with wabt.
import wabtInit from 'wabt';
import type { WebAssembly } from '../../src/wasm/webassembly.js';

const wabt = await wabtInit();

/** Compiles WAT text to the bytes of a module. */
export function wat(source: string): Uint8Array {
  const parsed = wabt.parseWat('test.wat', source);
  try {
    return parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
}

/**
 * A module with state in memory and in an exported mutable global, ways to grow, trap and
 * spin, and a `work` call that leaves a "busy" mark in memory if it traps halfway.
 */
export const STATEFUL = wat(`
(module
  (import "env" "host" (func $host (param i32)))
  (memory (export "memory") 1 1000)
  (global $counter (export "counter") (mut i32) (i32.const 0))
  (global $seed (export "seed") i32 (i32.const 42))
  (func (export "inc") (result i32)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (global.get $counter))
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "trap") unreachable)
  (func (export "spin") (loop $l (br $l)))
  (func (export "callHost") (param i32) (call $host (local.get 0)))
  ;; Returns -1 if an earlier call left the busy mark (a reused broken instance), else 1.
  (func (export "work") (param $trap i32) (result i32)
    (if (i32.load (i32.const 0)) (then (return (i32.const -1))))
    (i32.store (i32.const 0) (i32.const 1))
    (if (local.get $trap) (then unreachable))
    (i32.store (i32.const 0) (i32.const 0))
    (i32.const 1))
)`);

/** The exports of {@link STATEFUL}. */
export interface Stateful {
  memory: WebAssembly.Memory;
  counter: WebAssembly.Global;
  inc(): number;
  store(at: number, value: number): void;
  load(at: number): number;
  grow(pages: number): number;
  trap(): void;
  spin(): void;
  callHost(n: number): void;
  work(trap: number): number;
}

/** Imports for {@link STATEFUL}: `host(n)` throws when n is 13. */
export const hostImports = {
  env: {
    host: (n: number) => {
      if (n === 13) throw new Error('host import failed');
    },
  },
};

/** A module that imports its memory from the host. */
export const IMPORTED_MEMORY = wat(`
(module
  (import "env" "memory" (memory 1))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0))))`);

export const MIB = 1_048_576;
export const PAGE = 65_536;
