// The pool's events on `node:diagnostics_channel`, for APM tools that subscribe by name
// without an adapter (`weir:pool:acquire`, …). A message is built and published only while
// its channel has a subscriber: with none, the pool pays one `hasSubscribers` read where
// it already asks whether anyone listens.
import { type Channel, channel } from 'node:diagnostics_channel';
import { Emitter } from '../internal/emitter.js';
import type { PoolEvents } from './stats.js';

/**
 * The channel names, one per pool event published: each message is the event's payload
 * plus `pool` (the `Pool` that published it) and `name` (the pool's name). See
 * docs/metrics.md for each message's fields.
 * @example
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe(POOL_CHANNELS.timeout, (m) => log.warn(`${m.name} waited ${m.waitedMs} ms`));
 */
export const POOL_CHANNELS = Object.freeze({
  acquire: 'weir:pool:acquire',
  release: 'weir:pool:release',
  create: 'weir:pool:create',
  destroy: 'weir:pool:destroy',
  timeout: 'weir:pool:timeout',
  createError: 'weir:pool:createError',
} as const);

type Published = keyof typeof POOL_CHANNELS;

/**
 * The message published on a pool's diagnostics channel for event `E`.
 * @example
 * subscribe('weir:pool:acquire', (m) => histogram.record((m as PoolChannelMessage<'acquire'>).waitedMs));
 */
export type PoolChannelMessage<E extends Published, T = unknown> = Parameters<
  PoolEvents<T>[E]
>[0] & { pool: unknown; name: string };

const acquireChannel = channel(POOL_CHANNELS.acquire);
const releaseChannel = channel(POOL_CHANNELS.release);
const createChannel = channel(POOL_CHANNELS.create);
const destroyChannel = channel(POOL_CHANNELS.destroy);
const channels: { readonly [K in keyof PoolEvents<unknown>]?: Channel } = {
  acquire: acquireChannel,
  release: releaseChannel,
  create: createChannel,
  destroy: destroyChannel,
  timeout: channel(POOL_CHANNELS.timeout),
  createError: channel(POOL_CHANNELS.createError),
};

/**
 * The emitter of a pool: its listeners, and the diagnostics channels of the events above,
 * which count as listening while they have subscribers.
 */
export abstract class PoolEmitter<T> extends Emitter<PoolEvents<T>> {
  abstract get name(): string;

  /** @internal */
  protected override hasListeners(event: keyof PoolEvents<T>): boolean {
    if (super.hasListeners(event)) return true;
    // Compared one by one: the acquire path asks with a constant, and a keyed lookup of
    // `channels[event]` here cost it a fifth more instructions (callgrind).
    const ch =
      event === 'acquire'
        ? acquireChannel
        : event === 'release'
          ? releaseChannel
          : event === 'create'
            ? createChannel
            : event === 'destroy'
              ? destroyChannel
              : undefined;
    return ch?.hasSubscribers === true;
  }

  /** @internal */
  protected override emit<K extends keyof PoolEvents<T>>(
    event: K,
    ...args: Parameters<PoolEvents<T>[K]>
  ): void {
    super.emit(event, ...args);
    const ch = channels[event];
    if (ch?.hasSubscribers) ch.publish({ ...args[0], pool: this, name: this.name });
  }
}
