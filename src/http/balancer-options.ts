// The options of a balanced HTTP pool: the upstreams by region and how traffic is routed
// among them, on top of the connection settings every endpoint's pool takes. Validated
// here, once, so that a bad option throws at construction and names itself.
import { describe } from '../internal/errors.js';
import {
  checkFn,
  checkInt,
  checkKeys,
  checkMs,
  checkObject,
  checkRatio,
  optionKeys,
} from '../internal/options.js';
import { HTTP_POOL_KEYS, type HttpPoolOptions } from './options.js';
import { type Origin, originOf } from './origin.js';
import type { OutlierOptions, ResolvedOutlier } from './outlier.js';

/** How a balanced pool picks an endpoint among those of the regions in use. */
export type Routing = 'peak-ewma' | 'round-robin' | 'least-pending';

/** What a balanced pool does when no endpoint is healthy. */
export type PanicMode = 'route' | 'fail';

/** Options of {@link createBalancedHttpPool}. */
export interface BalancedHttpPoolOptions extends HttpPoolOptions {
  /**
   * The endpoints of the service by region: `{ eu: ['https://eu-1.example.com',
   * 'https://eu-2.example.com'], us: ['https://us-1.example.com'] }`. Each is an origin
   * (scheme, host, port; no path); an origin may appear once. At least one endpoint.
   */
  upstreams: Record<string, readonly string[]>;
  /**
   * The region that gets all the traffic while it has a healthy endpoint and is not much
   * slower than the fastest region (see `regionSwitchRatio`). Without it, every healthy
   * region that is not much slower than the fastest shares the traffic.
   */
  prefer?: string;
  /**
   * How an endpoint is picked among those of the regions in use: `peak-ewma` (two at
   * random, the one with the lower latency average times requests in flight plus one),
   * `least-pending` (two at random, the one with fewer requests in flight) or
   * `round-robin`. @default 'peak-ewma'
   */
  routing?: Routing;
  /**
   * Time constant of the latency averages: the weight of a sample falls by e every
   * `decayMs`, and an endpoint without traffic looks cheaper at that rate until it is tried
   * again. A spike replaces the average at once. @default 10_000 ms
   */
  decayMs?: number;
  /**
   * A region counts as much slower, and stops getting traffic, when its latency exceeds
   * the fastest region's times this plus `regionSwitchMarginMs`; it gets traffic back
   * within half that band (so a region near the edge does not go back and forth).
   * @default 1.5
   */
  regionSwitchRatio?: number;
  /** Added to the band of `regionSwitchRatio`, so that regions a few ms apart count as equal. @default 5 ms */
  regionSwitchMarginMs?: number;
  /**
   * After traffic moved between regions for latency, the next such move waits this long,
   * unless a region in use became `regionSwitchRatio`² times slower than the fastest.
   * Moves for health (a region lost its last healthy endpoint, or got one back) never
   * wait. @default 60_000 ms
   */
  regionHoldMs?: number;
  /**
   * Share of requests sent to a healthy region out of use, so that its latency stays
   * known and it can win traffic back. Real requests, measured as any other. 0 turns it
   * off. @default 0.02
   */
  exploreShare?: number;
  /** Passive outlier detection and ejection; `false` turns it off. @default {} (on, with its defaults) */
  outlier?: OutlierOptions | false;
  /**
   * When no endpoint is healthy: `route` sends requests to every endpoint regardless
   * (they fail or succeed on their own); `fail` fails them at once with
   * `ERR_HTTP_NO_HEALTHY_UPSTREAM`, except one request per endpoint whose time out is up,
   * which probes it. @default 'route'
   */
  panic?: PanicMode;
  /**
   * Other endpoints an idempotent request with a replayable body is sent to after it
   * could not be sent to one (connection refused or timed out, TLS failure, circuit
   * open, connection retired unsent); another region first. @default 2
   */
  retries?: number;
  /** Source of randomness in [0, 1), for the random choices of routing and exploring. @default Math.random */
  random?: () => number;
}

/** The keys the balanced pool itself takes; the rest go to the pool of connections. */
const OWN_KEYS = optionKeys<Omit<BalancedHttpPoolOptions, keyof HttpPoolOptions>>({
  upstreams: 1,
  prefer: 1,
  routing: 1,
  decayMs: 1,
  regionSwitchRatio: 1,
  regionSwitchMarginMs: 1,
  regionHoldMs: 1,
  exploreShare: 1,
  outlier: 1,
  panic: 1,
  retries: 1,
  random: 1,
});
const ALL_KEYS: ReadonlySet<string> = new Set([...OWN_KEYS, ...HTTP_POOL_KEYS]);
const OUTLIER_KEYS = optionKeys<OutlierOptions>({
  consecutiveFailures: 1,
  rise: 1,
  baseEjectionMs: 1,
  maxEjectionMs: 1,
  maxEjectionPercent: 1,
});
const ROUTINGS: readonly Routing[] = ['peak-ewma', 'round-robin', 'least-pending'];
const PANICS: readonly PanicMode[] = ['route', 'fail'];

/** @internal The balanced pool's own settings after defaults and validation. */
export interface ResolvedBalancer {
  regions: { name: string; origins: Origin[] }[];
  prefer: string | undefined;
  routing: Routing;
  decayMs: number;
  ratio: number;
  marginMs: number;
  holdMs: number;
  exploreShare: number;
  outlier: ResolvedOutlier | false;
  panic: PanicMode;
  retries: number;
  random: () => number;
  /** What is left for the pool of connections. */
  http: HttpPoolOptions;
}

function oneOf<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw new TypeError(
      `Expected \`${name}\` to be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`,
    );
  }
  return value as T;
}

function checkNumber(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`Expected \`${name}\` to be a number, got ${describe(value)}`);
  }
  if (!Number.isFinite(value) || value < min) {
    throw new RangeError(
      `Expected \`${name}\` to be a finite number >= ${min}, got ${describe(value)}`,
    );
  }
  return value;
}

function resolveOutlier(o: OutlierOptions | false | undefined): ResolvedOutlier | false {
  if (o === false) return false;
  checkObject('outlier', o);
  checkKeys("createBalancedHttpPool's `outlier`", o, OUTLIER_KEYS);
  const baseMs = checkMs('outlier.baseEjectionMs', o?.baseEjectionMs ?? 30_000, 1, false);
  const maxMs = checkMs('outlier.maxEjectionMs', o?.maxEjectionMs ?? 300_000, 1, false);
  if (maxMs < baseMs) {
    throw new RangeError(
      `Expected \`outlier.maxEjectionMs\` (${maxMs}) to be >= \`outlier.baseEjectionMs\` (${baseMs})`,
    );
  }
  return {
    fall: checkInt('outlier.consecutiveFailures', o?.consecutiveFailures ?? 5, 1),
    rise: checkInt('outlier.rise', o?.rise ?? 2, 1),
    baseMs,
    maxMs,
    maxPercent: checkRatio('outlier.maxEjectionPercent', o?.maxEjectionPercent ?? 50, 0, 100),
  };
}

/**
 * @internal Validates the options of a balanced pool and splits off the pool of
 * connections' share.
 * @throws {TypeError|RangeError} naming the option.
 */
export function resolveBalancer(options: BalancedHttpPoolOptions): ResolvedBalancer {
  checkObject('options', options);
  if (options === undefined) throw new TypeError('Expected options with `upstreams`');
  checkKeys('createBalancedHttpPool', options, ALL_KEYS);
  const up = options.upstreams;
  if (typeof up !== 'object' || up === null || Array.isArray(up)) {
    throw new TypeError(
      `Expected \`upstreams\` to be an object of region name to a list of origins, got ${describe(up)}`,
    );
  }
  const seen = new Set<string>();
  const regions: ResolvedBalancer['regions'] = [];
  for (const [name, list] of Object.entries(up)) {
    if (!Array.isArray(list)) {
      throw new TypeError(
        `Expected \`upstreams.${name}\` to be an array of origins, got ${describe(list)}`,
      );
    }
    const origins: Origin[] = [];
    for (const url of list as unknown[]) {
      if (typeof url !== 'string' && !(url instanceof URL)) {
        throw new TypeError(
          `Expected the endpoints of \`upstreams.${name}\` to be URLs, got ${describe(url)}`,
        );
      }
      const origin = originOf(url);
      const u = typeof url === 'string' ? new URL(url) : url;
      if ((u.pathname !== '/' && u.pathname !== '') || u.search !== '') {
        throw new TypeError(
          `Expected the endpoints of \`upstreams.${name}\` to be origins without a path, got one for ${origin.key}`,
        );
      }
      if (seen.has(origin.key)) {
        throw new TypeError(
          `Expected each endpoint once in \`upstreams\`; ${origin.key} is listed twice`,
        );
      }
      seen.add(origin.key);
      origins.push(origin);
    }
    regions.push({ name, origins });
  }
  if (seen.size === 0) {
    throw new RangeError('Expected at least one endpoint in `upstreams`');
  }
  const prefer = options.prefer;
  if (prefer !== undefined && !regions.some((r) => r.name === prefer && r.origins.length > 0)) {
    throw new RangeError(
      `Expected \`prefer\` to name a region of \`upstreams\` with endpoints, got ${describe(prefer)}`,
    );
  }
  const http: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!OWN_KEYS.has(k)) http[k] = v;
  return {
    regions: regions.filter((r) => r.origins.length > 0),
    prefer,
    routing: oneOf('routing', options.routing, ROUTINGS, 'peak-ewma'),
    decayMs: checkMs('decayMs', options.decayMs ?? 10_000, 1, false),
    ratio: checkNumber('regionSwitchRatio', options.regionSwitchRatio, 1.5, 1),
    marginMs: checkMs('regionSwitchMarginMs', options.regionSwitchMarginMs ?? 5, 0, false),
    holdMs: checkMs('regionHoldMs', options.regionHoldMs ?? 60_000, 0, false),
    exploreShare: checkRatio('exploreShare', options.exploreShare ?? 0.02, 0, 0.5),
    outlier: resolveOutlier(options.outlier),
    panic: oneOf('panic', options.panic, PANICS, 'route'),
    retries: checkInt('retries', options.retries ?? 2, 0),
    random: checkFn<() => number>('random', options.random, false) ?? Math.random,
    http: http as HttpPoolOptions,
  };
}
