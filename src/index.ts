// `weir` re-exports the core modules; each is also its own subpath (`weir/pool`, …).
export * from './channel/index.js';
export * from './pool/index.js';
// Both modules name an options type `TimeoutOptions`; the root keeps resilience's.
export type { TimeoutOptions } from './resilience/index.js';
export * from './resilience/index.js';
export type { TimeoutOptions as StreamTimeoutOptions } from './stream/index.js';
export * from './stream/index.js';
