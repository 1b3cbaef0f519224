// The few Redis verbs weir/redis needs, behind one small interface, so that an ioredis 5
// client and a node-redis 5 client both work through a thin adapter and tests can pass a
// fake. Nothing here imports either library: the adapters are typed structurally.

import { describe } from '../internal/errors.js';

/** One argument of a Redis command. */
export type RedisArg = string | number;

/**
 * What weir/redis asks of a Redis client. Build one with {@link fromIoredis} or
 * {@link fromNodeRedis}, or pass the client itself where an option takes `redis`.
 */
export interface RedisCommands {
  /** Sends one command (`['EVALSHA', sha, 1, key, …]`) and resolves with its reply. */
  send(args: readonly RedisArg[]): Promise<unknown>;
  /**
   * Listens to a pub/sub channel on a connection of its own. Resolves once the server
   * confirmed the subscription, with a function that removes this listener.
   */
  subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>>;
  /** A new connection to the same server, for blocking commands; close it when done. */
  duplicate(): Promise<DedicatedConnection>;
}

/** A connection of its own, from {@link RedisCommands.duplicate}. */
export interface DedicatedConnection {
  send(args: readonly RedisArg[]): Promise<unknown>;
  /** Closes the connection; a command still waiting on it rejects. */
  close(): Promise<void>;
}

/** The part of an ioredis 5 client the adapter uses. */
export interface IoredisLike {
  call(command: string, args: (string | number)[]): Promise<unknown>;
  duplicate(): IoredisLike;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** The part of a node-redis 5 client the adapter uses. */
export interface NodeRedisLike {
  sendCommand(args: readonly string[]): Promise<unknown>;
  duplicate(): NodeRedisLike;
  connect(): Promise<unknown>;
  subscribe(channels: string, listener: (message: string, channel: string) => void): Promise<void>;
  unsubscribe(
    channels: string,
    listener?: (message: string, channel: string) => void,
  ): Promise<void>;
  close(): Promise<void>;
  destroy(): void;
}

// Listeners per channel on one subscriber connection, opened on the first subscribe.
type Listener = (message: string) => void;

/**
 * The listeners of each channel, shared by both adapters: `subscribe` asks the server only
 * for a channel's first listener, and the returned unsubscribe tells the adapter, through
 * `leave`, when its channel (`'channel'`) or every channel (`'all'`) has no listener left.
 */
class Listeners {
  readonly #byChannel = new Map<string, Set<Listener>>();

  dispatch(channel: string, message: string): void {
    const set = this.#byChannel.get(channel);
    if (set === undefined) return;
    for (const fn of set) fn(message);
  }

  async subscribe(
    channel: string,
    listener: Listener,
    join: (first: boolean) => Promise<unknown>,
    leave: (what: 'channel' | 'all') => Promise<void>,
  ): Promise<() => Promise<void>> {
    let set = this.#byChannel.get(channel);
    const first = set === undefined;
    if (set === undefined) {
      set = new Set();
      this.#byChannel.set(channel, set);
    }
    set.add(listener);
    try {
      await join(first);
    } catch (error) {
      set.delete(listener);
      if (set.size === 0) this.#byChannel.delete(channel);
      throw error;
    }
    const own = set;
    return async () => {
      own.delete(listener);
      if (own.size !== 0 || this.#byChannel.get(channel) !== own) return;
      this.#byChannel.delete(channel);
      await leave(this.#byChannel.size === 0 ? 'all' : 'channel');
    };
  }
}

/**
 * Adapts an ioredis 5 client. Pub/sub and blocking reads run on duplicates of it, opened
 * when first needed.
 * @example
 * import Redis from 'ioredis';
 * const redis = fromIoredis(new Redis());
 */
export function fromIoredis(client: IoredisLike): RedisCommands {
  const listeners = new Listeners();
  let subscriber: IoredisLike | undefined;
  const sub = (): IoredisLike => {
    if (subscriber === undefined) {
      subscriber = client.duplicate();
      subscriber.on('message', (channel, message) =>
        listeners.dispatch(String(channel), String(message)),
      );
      // Failures reach the callers through their commands' deadlines; without a listener
      // ioredis would print every reconnect attempt.
      subscriber.on('error', () => {});
    }
    return subscriber;
  };
  return {
    send: (args) =>
      client.call(String(args[0]), args.slice(1) as (string | number)[]) as Promise<unknown>,
    subscribe: (channel, listener) =>
      listeners.subscribe(
        channel,
        listener,
        // ioredis counts subscriptions itself: asking again for a channel is harmless.
        () => sub().subscribe(channel),
        async (what) => {
          const s = subscriber;
          if (what === 'all') {
            // Nothing left to hear: close the connection, so it does not hold the process.
            subscriber = undefined;
            s?.disconnect();
          } else await s?.unsubscribe(channel);
        },
      ),
    async duplicate() {
      const c = client.duplicate();
      // As for the subscriber: failures reach the callers through their commands.
      c.on('error', () => {});
      return {
        send: (args) =>
          c.call(String(args[0]), args.slice(1) as (string | number)[]) as Promise<unknown>,
        async close() {
          // A connection blocked in XREADGROUP would answer QUIT only after the block.
          c.disconnect();
        },
      };
    },
  };
}

/**
 * Adapts a connected node-redis 5 client (`createClient(...).connect()`). Pub/sub and
 * blocking reads run on duplicates of it, connected when first needed.
 * @example
 * import { createClient } from 'redis';
 * const redis = fromNodeRedis(await createClient().connect());
 */
export function fromNodeRedis(client: NodeRedisLike): RedisCommands {
  const listeners = new Listeners();
  let subscriber: Promise<NodeRedisLike> | undefined;
  const sub = (): Promise<NodeRedisLike> => {
    if (subscriber === undefined) {
      const c = client.duplicate();
      subscriber = c.connect().then(() => c);
      subscriber.catch(() => {
        subscriber = undefined;
      });
    }
    return subscriber;
  };
  const onMessage = (message: string, channel: string): void =>
    listeners.dispatch(channel, message);
  const send = (c: NodeRedisLike, args: readonly RedisArg[]): Promise<unknown> =>
    c.sendCommand(args.map(String));
  return {
    send: (args) => send(client, args),
    subscribe: (channel, listener) =>
      listeners.subscribe(
        channel,
        listener,
        async (first) => {
          if (first) await (await sub()).subscribe(channel, onMessage);
        },
        async (what) => {
          const s = subscriber;
          if (what === 'all') {
            subscriber = undefined;
            (await s)?.destroy();
          } else await (await s)?.unsubscribe(channel, onMessage);
        },
      ),
    async duplicate() {
      const c = client.duplicate();
      await c.connect();
      return {
        send: (args) => send(c, args),
        async close() {
          c.destroy();
        },
      };
    },
  };
}

const adapted = new WeakMap<object, RedisCommands>();

/** @internal Whether `value` already is a {@link RedisCommands}. */
function isCommands(value: object): value is RedisCommands {
  const v = value as Partial<RedisCommands>;
  return (
    typeof v.send === 'function' &&
    typeof v.subscribe === 'function' &&
    typeof v.duplicate === 'function'
  );
}

/**
 * @internal The `redis` option as {@link RedisCommands}: taken as is, or adapted from an
 * ioredis client (it has `call`) or a node-redis client (it has `sendCommand`).
 * @throws {TypeError} for anything else.
 */
export function toCommands(value: unknown): RedisCommands {
  if (typeof value === 'object' && value !== null) {
    if (isCommands(value)) return value;
    // One adapter per client, so that every object built on it shares one subscriber.
    const known = adapted.get(value);
    if (known !== undefined) return known;
    let made: RedisCommands | undefined;
    if (typeof (value as IoredisLike).call === 'function') made = fromIoredis(value as IoredisLike);
    else if (typeof (value as NodeRedisLike).sendCommand === 'function') {
      made = fromNodeRedis(value as NodeRedisLike);
    }
    if (made !== undefined) {
      adapted.set(value, made);
      return made;
    }
  }
  throw new TypeError(
    `Expected \`redis\` to be an ioredis client, a node-redis client or RedisCommands, got ${describe(value)}`,
  );
}
