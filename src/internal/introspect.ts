// Symbols by which a module lets another read its parts without importing it: weir/metrics
// reads an HttpPool's keyed pool of origins through one, without loading undici.

/** @internal An HttpPool's keyed pool of per-origin pools: `pool[kKeyedPool]()`. */
export const kKeyedPool = Symbol.for('weir.keyedPool');
