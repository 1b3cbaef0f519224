// Shared by the weir/redis tests: the server check, a unique key prefix per test (so
// parallel runs never share keys) with its cleanup, and child processes that run
// fixtures/worker.ts.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { needService } from '../helpers/services.js';

export const REDIS_HOST = '127.0.0.1';
export const REDIS_PORT = 6379;

export const skip = await needService('Redis', REDIS_HOST, REDIS_PORT);

/** A fresh prefix; `cleanup(redis, prefix)` deletes every key under it. */
export function uniquePrefix(): string {
  return `weir-test:${randomUUID().slice(0, 8)}:`;
}

export async function cleanup(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  for (let i = 0; i < 1000; i++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
    if (cursor === '0') return;
  }
}

/**
 * Resolves once `clock` holds a timer due before `before` ms: a wait booked from a Redis
 * reply. The reply comes in real time, so this yields to the event loop until it did; a
 * reply that takes 10 s of real time fails the test instead of leaving it hanging on a
 * fake clock nobody advances.
 */
export async function untilTimerBefore(
  clock: { readonly nextTimerAt: number | undefined },
  before: number,
): Promise<void> {
  const giveUp = Date.now() + 10_000;
  while (!((clock.nextTimerAt ?? before) < before)) {
    if (Date.now() > giveUp) throw new Error(`no timer due before ${before} ms after 10 s`);
    await new Promise((r) => setImmediate(r));
  }
}

export function client(port = REDIS_PORT, extra: Record<string, unknown> = {}): Redis {
  return new Redis({ host: REDIS_HOST, port, lazyConnect: false, ...extra });
}

/** A child process running fixtures/worker.ts, with its stdout as JSON lines. */
export interface Worker {
  readonly child: ChildProcess;
  /** Resolves with the next line whose `event` is `event`. */
  next(event: string): Promise<Record<string, unknown>>;
  /** Every line so far. */
  readonly lines: Record<string, unknown>[];
  /** Resolves with the exit code (or signal). */
  readonly exited: Promise<number | string>;
}

const workerPath = new URL('./fixtures/worker.ts', import.meta.url).pathname;

export function worker(config: Record<string, unknown>): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', workerPath, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  });
  const lines: Record<string, unknown>[] = [];
  const waiting: { event: string; seen: number; resolve: (l: Record<string, unknown>) => void }[] =
    [];
  const rl = createInterface({ input: child.stdout! });
  rl.on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(line);
    for (const w of [...waiting]) {
      if (line.event === w.event) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    child,
    lines,
    exited,
    next(event) {
      const seen = lines.find((l) => l.event === event && !(l as { taken?: boolean }).taken);
      if (seen !== undefined) {
        (seen as { taken?: boolean }).taken = true;
        return Promise.resolve(seen);
      }
      return new Promise((resolve, reject) => {
        const w = {
          event,
          seen: lines.length,
          resolve: (l: Record<string, unknown>) => {
            (l as { taken?: boolean }).taken = true;
            resolve(l);
          },
        };
        waiting.push(w);
        exited.then((code) =>
          reject(new Error(`worker exited (${code}) before sending "${event}"`)),
        );
      });
    },
  };
}
