// A controllable Manager for the managed-pool tests: it logs every call in order, can
// fail, hang or gate its connects, and counts how many connections are open at once.
import type { Manager } from '../../src/managed/index.js';

export interface Conn {
  id: number;
  /** What isBroken answers. */
  broken: boolean;
  closed: number;
  /** The `retire` its connect was given. */
  retire: (reason?: unknown) => void;
  /** The signal its connect was given. */
  signal: AbortSignal;
}

export interface FakeOptions {
  /** Adds `check`; the function decides, `true` always passes. */
  check?: true | ((c: Conn, signal: AbortSignal) => boolean | Promise<boolean>);
  /** Adds `reset`; the function runs, `true` does nothing. */
  reset?: true | ((c: Conn) => void | Promise<void>);
  /** Adds `isBroken` (answers `conn.broken`). */
  isBroken?: boolean;
  /** Adds `ref`/`unref`. */
  refs?: boolean;
  /** Runs inside connect before the connection exists: throw to fail, await to delay. */
  before?: (attempt: number, signal: AbortSignal, retire: (reason?: unknown) => void) => unknown;
}

export function fakeManager(o: FakeOptions = {}) {
  const log: string[] = [];
  const conns: Conn[] = [];
  let attempts = 0;
  const state = { open: 0, peak: 0, attempts: 0 };
  const manager: Manager<Conn> = {
    async connect(signal, retire) {
      const attempt = ++attempts;
      state.attempts = attempts;
      log.push(`connect #${attempt}`);
      await o.before?.(attempt, signal, retire);
      const c: Conn = { id: conns.length + 1, broken: false, closed: 0, retire, signal };
      conns.push(c);
      state.open++;
      state.peak = Math.max(state.peak, state.open);
      log.push(`open ${c.id}`);
      return c;
    },
    close(c) {
      c.closed++;
      state.open--;
      log.push(`close ${c.id}`);
    },
  };
  if (o.check !== undefined) {
    const check = o.check;
    manager.check = (c, signal) => {
      log.push(`check ${c.id}`);
      return check === true ? true : check(c, signal);
    };
  }
  if (o.reset !== undefined) {
    const reset = o.reset;
    manager.reset = (c) => {
      log.push(`reset ${c.id}`);
      return reset === true ? undefined : reset(c);
    };
  }
  if (o.isBroken) manager.isBroken = (c) => c.broken;
  if (o.refs) {
    manager.ref = (c) => void log.push(`ref ${c.id}`);
    manager.unref = (c) => void log.push(`unref ${c.id}`);
  }
  return { manager, log, conns, state };
}
