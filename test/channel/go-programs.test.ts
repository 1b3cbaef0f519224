// Go's own channel test programs (test/chan/ in the Go repository, and the runtime's
// select fairness test), re-expressed with weir channels and the same checks.
// Goroutines become un-awaited async functions; each test aborts them when it ends.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Channel, recv, select, send } from '../../src/channel/index.js';

/** Runs a "goroutine": an abort (the test is over) ends it quietly; anything else fails. */
function go(stop: AbortSignal, fn: () => Promise<void>): void {
  fn().catch((error) => {
    if (!stop.aborted) throw error;
  });
}

describe('Go test/chan programs', () => {
  test('sieve1.go: the concurrent prime sieve', async () => {
    const stop = new AbortController();
    const s = { signal: stop.signal };
    const generate = async (ch: Channel<number>) => {
      for (let i = 2; ; i++) await ch.send(i, s);
    };
    const filter = async (input: Channel<number>, out: Channel<number>, prime: number) => {
      for (;;) {
        const i = (await input.receive(s)).value!;
        if (i % prime !== 0) await out.send(i, s);
      }
    };
    const sieve = async (primes: Channel<number>) => {
      let ch = new Channel<number>();
      go(stop.signal, () => generate(ch));
      for (;;) {
        const prime = (await ch.receive(s)).value!;
        await primes.send(prime, s);
        const ch1 = new Channel<number>();
        const from = ch;
        go(stop.signal, () => filter(from, ch1, prime));
        ch = ch1;
      }
    };
    const primes = new Channel<number>();
    go(stop.signal, () => sieve(primes));
    const a = [
      2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
      97,
    ];
    for (const want of a) assert.equal((await primes.receive()).value, want);
    stop.abort();
  });

  test('runtime TestSelectFairness: a select picks among ready cases uniformly', async () => {
    const trials = 10_000;
    const c1 = new Channel<number>(trials + 1);
    const c2 = new Channel<number>(trials + 1);
    for (let i = 0; i < trials + 1; i++) {
      c1.trySend(1);
      c2.trySend(2);
    }
    const c3 = new Channel<number>();
    const c4 = new Channel<number>();
    const out = new Channel<number>();
    const done = new Channel<void>();
    void (async () => {
      for (;;) {
        const r = await select([recv(c3), recv(c4), recv(c1), recv(c2)]);
        const picked = await select([send(out, r.value as number), recv(done)]);
        if (picked.index === 1) return;
      }
    })();
    let cnt1 = 0;
    let cnt2 = 0;
    for (let i = 0; i < trials; i++) {
      const b = (await out.receive()).value;
      if (b === 1) cnt1++;
      else if (b === 2) cnt2++;
    }
    done.close();
    assert.equal(cnt1 + cnt2, trials);
    // Go's bound: the margin of error at a confidence level of six nines.
    const e = Math.abs(cnt1 / trials - 0.5);
    assert.ok(e <= 4.891676 / (2 * Math.sqrt(trials)), `unfair select: cnt1=${cnt1} cnt2=${cnt2}`);
  });

  test('nonblock.go: non-blocking sends and receives with default', async () => {
    const maxTries = 10_000;
    const sleep = () => new Promise<void>((r) => setImmediate(r));
    for (const [value, other] of [
      [123, 234],
      ['hello', 'hello again'],
    ] as const) {
      for (let buffer = 0; buffer < 2; buffer++) {
        const c = new Channel<number | string>(buffer);
        const sync = new Channel<boolean>();

        const blocked = await select([recv(c)], { default: true });
        assert.equal(blocked.index, -1, 'blocked receiver');
        const blockedSend = await select([send(c, value)], { default: buffer === 0 });
        if (buffer === 0) assert.equal(blockedSend.index, -1, 'blocked sender');
        else assert.equal((await c.receive()).value, value);

        const receiver = async () => {
          assert.equal((await c.receive()).value, value, 'receiver value');
          await sync.send(true);
        };
        const sender = async () => {
          await c.send(other);
          await sync.send(true);
        };

        void receiver();
        let tries = 0;
        for (;;) {
          const r = await select([send(c, value)], { default: true });
          if (r.index === 0) break;
          assert.ok(++tries <= maxTries, `receiver buffer=${buffer}`);
          await sleep();
        }
        await sync.receive();

        void sender();
        if (buffer > 0) await sync.receive();
        tries = 0;
        let got: unknown;
        for (;;) {
          const r = await select([recv(c)], { default: true });
          if (r.index === 0) {
            got = r.value;
            break;
          }
          assert.ok(++tries <= maxTries, `sender buffer=${buffer}`);
          await sleep();
        }
        assert.equal(got, other, 'sender value');
        if (buffer === 0) await sync.receive();
      }
    }
  });

  test('fifo.go: AsynchFifo keeps order in a buffered channel', async () => {
    const N = 10;
    const ch = new Channel<number>(N);
    for (let i = 0; i < N; i++) await ch.send(i);
    for (let i = 0; i < N; i++) assert.equal((await ch.receive()).value, i, 'bad receive');
  });

  test('fifo.go: SynchFifo threads a daisy chain that reads in sequence', async () => {
    const N = 10;
    const ch = new Channel<number>();
    const chain = async (val: number, input: Channel<number>, out: Channel<number>) => {
      await input.receive();
      assert.equal((await ch.receive()).value, val);
      await out.send(1);
    };
    let input = new Channel<number>();
    const start = input;
    const running: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const out = new Channel<number>();
      running.push(chain(i, input, out));
      input = out;
    }
    await start.send(0);
    for (let i = 0; i < N; i++) await ch.send(i);
    await input.receive();
    await Promise.all(running);
  });

  test('doubleselect.go: a select never runs two send cases in one iteration', async () => {
    const iterations = 20_000;
    const [c1, c2, c3, c4] = [0, 1, 2, 3].map(() => new Channel<number>()) as [
      Channel<number>,
      Channel<number>,
      Channel<number>,
      Channel<number>,
    ];
    const sender = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await select([send(c1, i), send(c2, i), send(c3, i), send(c4, i)]);
      }
      for (const c of [c1, c2, c3, c4]) c.close();
    };
    const cmux = new Channel<number>();
    const done = new Channel<boolean>();
    const mux = async (input: Channel<number>) => {
      for await (const v of input) await cmux.send(v);
      await done.send(true);
    };
    void sender(iterations);
    for (const c of [c1, c2, c3, c4]) void mux(c);
    void (async () => {
      for (let i = 0; i < 4; i++) await done.receive();
      cmux.close();
    })();
    const seen = new Set<number>();
    for await (const v of cmux) {
      assert.ok(!seen.has(v), `got duplicate value: ${v}`);
      seen.add(v);
    }
    assert.equal(seen.size, iterations);
  });

  describe('powser1.go: power series as channels of rationals', () => {
    type Rat = readonly [num: number, den: number];
    const gcd = (a: number, b: number): number => (b === 0 ? Math.abs(a) : gcd(b, a % b));
    const rat = (n: number, d = 1): Rat => {
      const g = gcd(n, d) || 1;
      const s = d < 0 ? -1 : 1;
      return [(s * n) / g, (s * d) / g];
    };
    const add = (a: Rat, b: Rat) => rat(a[0] * b[1] + b[0] * a[1], a[1] * b[1]);
    const mul = (a: Rat, b: Rat) => rat(a[0] * b[0], a[1] * b[1]);
    type PS = Channel<Rat>;

    function series(stop: AbortSignal, produce: (put: (r: Rat) => Promise<void>) => Promise<void>) {
      const out: PS = new Channel<Rat>();
      go(stop, () => produce((r) => out.send(r, { signal: stop })));
      return out;
    }
    const get = async (ps: PS, stop: AbortSignal) => (await ps.receive({ signal: stop })).value!;
    const rep = (stop: AbortSignal, c: Rat) =>
      series(stop, async (put) => {
        for (;;) await put(c);
      });
    const poly = (stop: AbortSignal, coeffs: Rat[]) =>
      series(stop, async (put) => {
        for (const c of coeffs) await put(c);
        for (;;) await put(rat(0));
      });
    const addPS = (stop: AbortSignal, u: PS, v: PS) =>
      series(stop, async (put) => {
        for (;;) await put(add(await get(u, stop), await get(v, stop)));
      });
    const cmul = (stop: AbortSignal, c: Rat, u: PS) =>
      series(stop, async (put) => {
        for (;;) await put(mul(c, await get(u, stop)));
      });
    // Cauchy product: term n needs the first n+1 terms of each, read one more at a time.
    const mulPS = (stop: AbortSignal, u: PS, v: PS) =>
      series(stop, async (put) => {
        const us: Rat[] = [];
        const vs: Rat[] = [];
        for (let n = 0; ; n++) {
          us.push(await get(u, stop));
          vs.push(await get(v, stop));
          let z = rat(0);
          for (let i = 0; i <= n; i++) z = add(z, mul(us[i]!, vs[n - i]!));
          await put(z);
        }
      });
    const integ = (stop: AbortSignal, c: Rat, u: PS) =>
      series(stop, async (put) => {
        await put(c);
        for (let i = 1; ; i++) await put(mul(await get(u, stop), rat(1, i)));
      });
    const deriv = (stop: AbortSignal, u: PS) =>
      series(stop, async (put) => {
        await get(u, stop);
        for (let i = 1; ; i++) await put(mul(await get(u, stop), rat(i)));
      });
    // Split copies a series into two; buffered outputs let the consumers drift apart.
    const split = (stop: AbortSignal, u: PS): [PS, PS] => {
      const a = new Channel<Rat>(64);
      const b = new Channel<Rat>(64);
      go(stop, async () => {
        for (;;) {
          const r = await get(u, stop);
          await Promise.all([a.send(r, { signal: stop }), b.send(r, { signal: stop })]);
        }
      });
      return [a, b];
    };
    // Exp(U) = Integ(1, Exp(U)·U'): the series is defined by a feedback loop through split.
    const exp = (stop: AbortSignal, u: PS): PS => {
      const z = new Channel<Rat>();
      const [z0, z1] = split(stop, z);
      const body = integ(stop, rat(1), mulPS(stop, z0, deriv(stop, u)));
      go(stop, async () => {
        for (;;) await z.send(await get(body, stop), { signal: stop });
      });
      return z1;
    };
    const take = async (ps: PS, n: number, stop: AbortSignal) => {
      const out: Rat[] = [];
      for (let i = 0; i < n; i++) out.push(await get(ps, stop));
      return out;
    };
    const check = async (name: string, make: (stop: AbortSignal) => PS, want: Rat[]) => {
      const stop = new AbortController();
      try {
        assert.deepEqual(await take(make(stop.signal), want.length, stop.signal), want, name);
      } finally {
        stop.abort();
      }
    };

    test('Add(Ones, Twos) = 3, 3, 3, …', () =>
      check('add', (s) => addPS(s, rep(s, rat(1)), rep(s, rat(2))), Array(8).fill(rat(3))));

    test('Cmul(1/2, Ones) and Ones·Ones = 1, 2, 3, …', async () => {
      await check('cmul', (s) => cmul(s, rat(1, 2), rep(s, rat(1))), Array(5).fill(rat(1, 2)));
      await check(
        'mul',
        (s) => mulPS(s, rep(s, rat(1)), rep(s, rat(1))),
        [1, 2, 3, 4, 5, 6, 7, 8].map((n) => rat(n)),
      );
    });

    test('Integ(0, Ones) = 0, 1, 1/2, 1/3, … and Deriv(Ones) = 1, 2, 3, …', async () => {
      await check('integ', (s) => integ(s, rat(0), rep(s, rat(1))), [
        rat(0),
        rat(1),
        rat(1, 2),
        rat(1, 3),
        rat(1, 4),
        rat(1, 5),
      ]);
      await check(
        'deriv',
        (s) => deriv(s, rep(s, rat(1))),
        [1, 2, 3, 4, 5].map((n) => rat(n)),
      );
    });

    test('Exp(x) = 1, 1, 1/2, 1/6, 1/24, … through a feedback loop of channels', () =>
      check('exp x', (s) => exp(s, poly(s, [rat(0), rat(1)])), [
        rat(1),
        rat(1),
        rat(1, 2),
        rat(1, 6),
        rat(1, 24),
        rat(1, 120),
        rat(1, 720),
      ]));

    test('Exp(Ones) = exp(x/(1-x)) = 1, 1, 3/2, 13/6, 73/24, 501/120', () =>
      check('exp ones', (s) => exp(s, rep(s, rat(1))), [
        rat(1),
        rat(1),
        rat(3, 2),
        rat(13, 6),
        rat(73, 24),
        rat(501, 120),
      ]));
  });
});
