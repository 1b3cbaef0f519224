// weir/testing: the clock every weir module takes as its `clock` option, and a fake one
// that moves only when a test says so, for driving timeouts, backoffs and tickers in
// your own tests without sleeping. See FakeClock for an example.
export { type Clock, FakeClock, realClock, type TimerHandle } from '../internal/clock.js';
