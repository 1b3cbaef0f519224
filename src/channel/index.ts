export { isWeirError, TimeoutError, WeirError, type WeirErrorCode } from '../internal/errors.js';
export { Channel, type Received, type WaitOptions } from './channel.js';
export { ChannelClosedError } from './errors.js';
export { type FanOutOptions, fanOut, merge } from './merge.js';
export {
  type DefaultResult,
  type ReceiveCase,
  type ReceiveResult,
  recv,
  type SelectCase,
  type SelectOptions,
  type SelectResult,
  type SendCase,
  type SendResult,
  select,
  send,
} from './select.js';
export { after, type TimerOptions, ticker } from './timers.js';
