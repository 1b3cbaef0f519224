/**
 * One message received from a {@link RedisChannel}. It stays pending in the consumer group
 * until `ack()`: a consumer that dies before acknowledging leaves it to be reclaimed by
 * another consumer after `claimAfterMs`, so processing must tolerate a second delivery
 * (`deliveries` says how many there were).
 * @example
 * for await (const m of channel) {
 *   await handle(m.value);
 *   await m.ack();
 * }
 */
export class RedisMessage<T> {
  /** The stream entry's id (`<ms>-<seq>`), unique within the channel. */
  readonly id: string;
  /** The value sent. */
  readonly value: T;
  /** How many times this message has been delivered, this time included (1 the first time). */
  readonly deliveries: number;
  readonly #settle: (how: 'ack' | 'bury', reason: string) => Promise<boolean>;

  /** @internal Messages are made by {@link RedisChannel.receive}. */
  constructor(
    id: string,
    value: T,
    deliveries: number,
    settle: (how: 'ack' | 'bury', reason: string) => Promise<boolean>,
  ) {
    this.id = id;
    this.value = value;
    this.deliveries = deliveries;
    this.#settle = settle;
  }

  /**
   * Acknowledges the message: it leaves the channel, making room for one more send.
   * Works after the channel's `close()` too, so work in flight can finish.
   * @returns true if this call acknowledged it; false if it was no longer pending (already
   * acknowledged, or dead-lettered after another consumer reclaimed it), so exactly one
   * `ack()` across the fleet returns true for a message.
   * @throws {RedisUnavailableError} `ERR_REDIS_UNAVAILABLE` when Redis does not answer
   * within `connectTimeoutMs`; the message stays pending and is delivered again later.
   */
  ack(): Promise<boolean> {
    return this.#settle('ack', '');
  }

  /**
   * Moves the message to the dead-letter stream now (a message that can never be
   * processed), with `reason`.
   * @returns false if it was no longer pending.
   * @throws {RedisUnavailableError} `ERR_REDIS_UNAVAILABLE` as {@link ack} does.
   */
  deadLetter(reason = 'rejected'): Promise<boolean> {
    return this.#settle('bury', reason);
  }
}
