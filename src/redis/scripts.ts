// Running Lua scripts: EVALSHA first (the script body is sent only once per server), and
// EVAL when the server answers NOSCRIPT (after SCRIPT FLUSH, a restart or a failover),
// which also loads the script again. Every call has a deadline on weir's clock, so a Redis
// that does not answer turns into a typed error instead of a hang.

import { createHash } from 'node:crypto';
import type { Clock } from '../internal/clock.js';
import type { RedisArg } from './commands.js';
import { RedisUnavailableError } from './errors.js';

/** @internal Anything that can send a command. */
export interface Sender {
  send(args: readonly RedisArg[]): Promise<unknown>;
}

/** @internal A Lua script and its SHA1. */
export class Script {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script with `keys` and `args`, loading it again if the server lost it. */
  async run(r: Sender, keys: readonly string[], args: readonly RedisArg[]): Promise<unknown> {
    try {
      return await r.send(['EVALSHA', this.sha, keys.length, ...keys, ...args]);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return r.send(['EVAL', this.source, keys.length, ...keys, ...args]);
    }
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

// Replies that mean "the server cannot serve this now", as opposed to a wrong command.
const TRANSIENT = /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS)\b/;

/**
 * @internal Whether a client's error means Redis is unreachable or not serving (so the
 * `whenUnavailable` policy applies), rather than a reply to a wrong command.
 */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof RedisUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const name = error.name;
  // ioredis's ReplyError and node-redis's ErrorReply/SimpleError are answers of the server.
  if (name === 'ReplyError' || name === 'ErrorReply' || name === 'SimpleError') {
    return TRANSIENT.test(error.message);
  }
  return true;
}

/**
 * @internal Settles with `promise`, or rejects with {@link RedisUnavailableError} after
 * `ms` on `clock`; a connection error is turned into that error too, with it as `cause`.
 */
export function within<T>(clock: Clock, ms: number, what: string, promise: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer = clock.setTimeout(() => {
      if (done) return;
      done = true;
      reject(
        new RedisUnavailableError(
          `Redis did not answer ${what} within ${ms} ms (connectTimeoutMs); check that it is up and reachable`,
        ),
      );
    }, ms);
    promise.then(
      (value) => {
        if (done) return;
        done = true;
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (done) return;
        done = true;
        clock.clearTimeout(timer);
        reject(
          isUnavailable(error) && !(error instanceof RedisUnavailableError)
            ? new RedisUnavailableError(
                `Redis failed ${what}: ${error instanceof Error ? error.message : String(error)}`,
                { cause: error },
              )
            : error,
        );
      },
    );
  });
}
