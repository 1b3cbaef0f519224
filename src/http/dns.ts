// The DNS cache of one origin: host names resolved once per TTL (by `dns.lookup` or the
// caller's own lookup), handed to `net.connect` as its `lookup`, and every address tried
// in turn by Node's own connection attempts (`autoSelectFamily`). An address that refused
// moves to the back, so the next connection starts with one that answered.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import type { Socket } from 'node:net';
import type { Clock } from '../internal/clock.js';
import { checkFn, checkKeys, checkMs, checkObject, optionKeys } from '../internal/options.js';

/**
 * A resolver with the signature of `dns.lookup` (the form with a callback). weir always
 * asks for every address (`all: true`).
 */
export type HttpLookupFunction = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/** The DNS cache of an origin's connections; see `HttpPoolOptions.dns`. */
export interface HttpDnsOptions {
  /**
   * How long the addresses of a host name are reused before it is resolved again. A
   * connection opened after that (a new one, or one replacing a connection retired at
   * `maxLifetimeMs`) goes to the addresses the name has then. @default 10_000 ms
   */
  ttlMs?: number;
  /**
   * Resolves host names; `dns.lookup` unless given (the system resolver, `/etc/hosts`
   * included). Inject one to resolve elsewhere or in tests.
   */
  lookup?: HttpLookupFunction;
}

const DNS_KEYS = optionKeys<HttpDnsOptions>({ ttlMs: 1, lookup: 1 });

/**
 * @internal Checks the `dns` option; undefined means the default cache.
 * @throws {TypeError|RangeError} naming the option.
 */
export function checkDnsOptions(dns: unknown): false | HttpDnsOptions {
  if (dns === false) return false;
  if (dns === undefined) return {};
  checkObject('dns', dns);
  checkKeys("createHttpPool's `dns`", dns, DNS_KEYS);
  const o = dns as HttpDnsOptions;
  if (o.ttlMs !== undefined) checkMs('dns.ttlMs', o.ttlMs, 0);
  checkFn('dns.lookup', o.lookup, false);
  return o;
}

/** The `lookup` that `net.connect` accepts (its `all: true` form is the one weir gets). */
type NetLookup = (
  hostname: string,
  options: { all?: boolean; family?: number | string },
  callback: (
    error: NodeJS.ErrnoException | null,
    address: string | LookupAddress[],
    family?: number,
  ) => void,
) => void;

interface Entry {
  addresses: LookupAddress[];
  expires: number;
}

type Waiter = (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void;

const systemLookup: HttpLookupFunction = (hostname, options, callback) =>
  dnsLookup(hostname, options, callback);

/**
 * @internal Resolved addresses of host names, kept for `ttlMs` on the pool's clock. One
 * lookup runs per host name at a time: the connections opened meanwhile share its answer.
 */
export class DnsCache {
  readonly #ttlMs: number;
  readonly #resolve: HttpLookupFunction;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();
  readonly #pending = new Map<string, Waiter[]>();
  /** Lookups made (not answered from the cache). */
  lookups = 0;

  constructor(options: HttpDnsOptions, clock: Clock) {
    this.#ttlMs = options.ttlMs ?? 10_000;
    this.#resolve = options.lookup ?? systemLookup;
    this.#clock = clock;
  }

  /** The `lookup` option for `net.connect`/`tls.connect`. */
  readonly lookup: NetLookup = (hostname, options, callback) => {
    this.#addresses(hostname, (error, addresses) => {
      if (error !== null) {
        callback(error, options.all === true ? [] : '', undefined);
        return;
      }
      if (options.all === true) {
        callback(null, addresses);
        return;
      }
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };

  #addresses(hostname: string, callback: Waiter): void {
    const entry = this.#entries.get(hostname);
    if (entry !== undefined && entry.expires > this.#clock.now()) {
      // A copy: Node walks the list while it connects, and a refusal reorders ours.
      callback(null, entry.addresses.slice());
      return;
    }
    const waiting = this.#pending.get(hostname);
    if (waiting !== undefined) {
      waiting.push(callback);
      return;
    }
    const waiters: Waiter[] = [callback];
    this.#pending.set(hostname, waiters);
    this.lookups++;
    let answered = false;
    const done = (error: NodeJS.ErrnoException | null, found: LookupAddress[]): void => {
      if (answered) return;
      answered = true;
      this.#pending.delete(hostname);
      const addresses = error === null ? dedupe(found) : [];
      if (error === null && addresses.length === 0) {
        error = Object.assign(new Error(`No address found for ${hostname}`), {
          code: 'ENOTFOUND',
          hostname,
        });
      }
      if (error === null) {
        this.#entries.set(hostname, { addresses, expires: this.#clock.now() + this.#ttlMs });
      } else {
        this.#entries.delete(hostname);
      }
      for (const w of waiters) w(error, error === null ? addresses.slice() : []);
    };
    try {
      this.#resolve(hostname, { all: true }, done);
    } catch (error) {
      done(error as NodeJS.ErrnoException, []);
    }
  }

  /**
   * Watches a socket being opened: an address it could not connect to goes to the back of
   * its host's list, and a host none of whose addresses answered is resolved afresh next
   * time.
   */
  watch(socket: Socket, hostname: string): void {
    let connected = false;
    socket.on('connectionAttemptFailed', (address: string) => this.#demote(hostname, address));
    socket.once('connect', () => {
      connected = true;
    });
    socket.once('error', () => {
      if (!connected) this.#entries.delete(hostname);
    });
  }

  #demote(hostname: string, address: string): void {
    const entry = this.#entries.get(hostname);
    if (entry === undefined) return;
    const i = entry.addresses.findIndex((a) => a.address === address);
    if (i < 0 || i === entry.addresses.length - 1) return;
    const [failed] = entry.addresses.splice(i, 1);
    entry.addresses.push(failed!);
  }
}

function dedupe(found: LookupAddress[] | undefined): LookupAddress[] {
  if (!Array.isArray(found)) return [];
  const seen = new Set<string>();
  const out: LookupAddress[] = [];
  for (const a of found) {
    if (typeof a?.address !== 'string' || seen.has(a.address)) continue;
    seen.add(a.address);
    out.push({ address: a.address, family: a.family === 6 ? 6 : 4 });
  }
  return out;
}
