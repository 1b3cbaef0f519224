// `weir` re-exports the core modules; each is also its own subpath (`weir/pool`, …).
export * from './pool/index.js';
