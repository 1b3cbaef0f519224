import { WeirError } from '../internal/errors.js';

/**
 * A send on a closed channel, a send still waiting when its channel closed, or a second
 * `close()`. Code `ERR_CHANNEL_CLOSED`. Receives never fail this way: they learn that a
 * channel is closed from `{ done: true }`.
 */
export class ChannelClosedError extends WeirError {
  constructor(message: string) {
    super('ERR_CHANNEL_CLOSED', message);
  }
}
