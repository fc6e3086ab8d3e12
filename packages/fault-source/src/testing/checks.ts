import type { WriteFault } from '../types.js';
import { caught, check, prng, tick } from './assert.js';
import type { ResolvedHarness } from './harness.js';
import { type Session, type TrackedWrite, withSession } from './session.js';

/** One rule of the FaultSource contract, checkable against any backend. */
export interface ConformanceCheck {
  /** Stable kebab-case identifier, for filtering and reports. */
  readonly id: string;
  /** What the rule says, as a test title. */
  readonly title: string;
  /** The backend mode the rule is about; absent when it applies to every backend. */
  readonly appliesTo?: 'plain' | 'copy-on-fault';
  /**
   * Runs the check on fresh subjects from the harness. Resolves `'skipped'` when the rule does not
   * apply to this backend (for example copy-on-fault rules on a plain backend), `'passed'` when the
   * backend keeps it, and rejects (usually with a {@link ConformanceError}) when it breaks it.
   */
  run(h: ResolvedHarness): Promise<'passed' | 'skipped'>;
}

interface Rule {
  readonly id: string;
  readonly title: string;
  readonly appliesTo?: 'plain' | 'copy-on-fault';
  run(h: ResolvedHarness): Promise<unknown>;
}

const STATE_ERROR = 'FaultSourceStateError';

async function expectStateError(
  s: Session,
  method: string,
  call: () => unknown,
  state: string,
): Promise<void> {
  const e = (await caught(call)) as { name?: string; state?: string; method?: string } | undefined;
  check(e !== undefined, `${method} in state '${state}' succeeded; expected a FaultSourceStateError`);
  check(
    e?.name === STATE_ERROR,
    () => `${method} in state '${state}' threw ${String(e)}; expected a FaultSourceStateError`,
  );
  check(e.state === state, `${method}: FaultSourceStateError.state is '${e.state}', expected '${state}'`);
  check(s.source.state === state, `${method} changed the state to '${s.source.state}'`);
}

function stateCalls(s: Session): [string, () => unknown][] {
  const src = s.source;
  return [
    ['takeFaults()', () => src.takeFaults()],
    ['waitForFaults(0)', () => src.waitForFaults(0)],
    ['claim(0, 0, 1)', () => src.claim(0, 0, 1)],
    ['read(0, 0, 1)', () => src.read(0, 0, 1)],
    ['release(0, 0, 1)', () => src.release(0, 0, 1)],
  ];
}

async function expectRangeError(call: () => unknown, what: string, argument: string): Promise<void> {
  const e = (await caught(call)) as { name?: string; message?: string } | undefined;
  check(e !== undefined, `${what} succeeded; expected a RangeError naming '${argument}'`);
  check(
    e?.name === 'RangeError',
    () => `${what} threw ${String(e)}; expected a RangeError naming '${argument}'`,
  );
  check(
    String(e.message).includes(argument),
    `${what}: the RangeError message "${e.message}" does not name the argument '${argument}'`,
  );
}

/** Saves every page once, QEMU-style, while random writers write; checks contents and exactly-once. */
async function saveRace(s: Session, seed: number): Promise<void> {
  const { source, h } = s;
  const rnd = prng(seed);
  const regions = source.regions;
  const saved = regions.map((r) => new Uint8Array(r.pageCount));
  const cof = s.copiesOnFault;
  const ctx = `(seed ${seed})`;

  const save = (region: number, page: number, bytes: Uint8Array, how: string) => {
    const flags = saved[region]!;
    check(flags[page] === 0, `region ${region} page ${page} was saved twice (second time by ${how}) ${ctx}`);
    flags[page] = 1;
    s.checkContents(region, page, bytes, `page saved by ${how} ${ctx}`);
  };
  const service = (events: readonly WriteFault[]) => {
    for (const e of events) {
      if (cof) {
        if (e.contents) save(e.region, e.page, e.contents, 'a copy-on-fault event');
        continue;
      }
      if (saved[e.region]![e.page]) continue;
      const bytes = source.read(e.region, e.page, 1);
      save(e.region, e.page, bytes.subarray(0, regions[e.region]!.pageSize), 'the fault path');
      source.release(e.region, e.page, 1);
    }
  };

  await s.start();
  const writes: TrackedWrite[] = [];
  let issued = 0;
  let inFlight = 0;
  const launch = () => {
    while (inFlight < h.concurrentWriters && issued < h.randomWrites) {
      const r = Math.floor(rnd() * regions.length);
      const p = Math.floor(rnd() * regions[r]!.pageCount);
      const w = s.write(r, p);
      issued++;
      inFlight++;
      w.promise.then(() => {
        inFlight--;
        launch();
      });
      writes.push(w);
    }
  };
  launch();

  for (let r = 0; r < regions.length; r++) {
    const size = regions[r]!.pageSize;
    let p = 0;
    while (p < regions[r]!.pageCount) {
      service(s.take());
      await tick();
      service(await s.wait(0));
      if (saved[r]![p]) {
        p++;
        continue;
      }
      const want = Math.min(1 + Math.floor(rnd() * 8), regions[r]!.pageCount - p);
      const n = source.claim(r, p, want);
      check(Number.isInteger(n) && n >= 0 && n <= want, `claim(${r}, ${p}, ${want}) returned ${n} ${ctx}`);
      if (!cof)
        check(n === want, `a plain backend's claim(${r}, ${p}, ${want}) returned ${n}, expected ${want}`);
      if (n === 0) {
        p++; // owned by the fault path: it arrives as an event with contents
        continue;
      }
      const bytes = source.read(r, p, n);
      check(
        bytes.length >= n * size,
        `read(${r}, ${p}, ${n}) returned ${bytes.length} bytes, expected ${n * size}`,
      );
      for (let i = 0; i < n; i++) {
        if (cof || !saved[r]![p + i])
          save(r, p + i, bytes.subarray(i * size, (i + 1) * size), 'the linear scan');
      }
      source.release(r, p, n);
      p += n;
    }
  }
  const missing = () => {
    const out: string[] = [];
    saved.forEach((f, r) => {
      f.forEach((v, p) => {
        if (!v) out.push(`${r}:${p}`);
      });
    });
    return out;
  };
  // Pages the fault path owns must all arrive as events.
  while (missing().length > 0) {
    const got = await s.wait(h.eventTimeoutNs);
    check(
      got.length > 0,
      () => `pages never saved (no event with contents arrived): ${missing().slice(0, 10).join(', ')} ${ctx}`,
    );
    service(got);
  }
  await s.guard(
    Promise.all(writes.map((w) => w.promise)),
    `writes after every page was saved and released ${ctx}`,
  );
}

const rules: readonly Rule[] = [
  {
    id: 'lifecycle',
    title: "state moves 'ready' → 'tracking' → 'stopped'; start() twice throws; stop() is idempotent",
    run: (h) =>
      withSession(h, async (s) => {
        await s.start();
        await expectStateError(s, 'start() while tracking', () => s.source.start(), 'tracking');
        await s.guard(s.source.stop(), 'stop()');
        check(s.source.state === 'stopped', `state after stop() is '${s.source.state}'`);
        await s.guard(s.source.stop(), 'second stop()');
        await s.guard(s.source.stop(), 'third stop()');
        check(s.source.state === 'stopped', `state after repeated stop() is '${s.source.state}'`);
      }),
  },
  {
    id: 'stop-before-start',
    title: "stop() before start() moves to 'stopped' and start() then throws",
    run: (h) =>
      withSession(h, async (s) => {
        await s.guard(s.source.stop(), 'stop() before start()');
        check(s.source.state === 'stopped', `state after stop() before start() is '${s.source.state}'`);
        await expectStateError(s, 'start() after stop()', () => s.source.start(), 'stopped');
      }),
  },
  {
    id: 'state-before-start',
    title: 'every method except start() and stop() throws FaultSourceStateError before start()',
    run: (h) =>
      withSession(h, async (s) => {
        for (const [what, call] of stateCalls(s)) await expectStateError(s, what, call, 'ready');
        await s.start();
      }),
  },
  {
    id: 'state-after-stop',
    title: 'every method throws FaultSourceStateError after stop()',
    run: (h) =>
      withSession(h, async (s) => {
        await s.start();
        await s.guard(s.source.stop(), 'stop()');
        for (const [what, call] of stateCalls(s)) await expectStateError(s, what, call, 'stopped');
        await expectStateError(s, 'start()', () => s.source.start(), 'stopped');
      }),
  },
  {
    id: 'argument-validation',
    title: 'arguments out of range throw a RangeError naming the argument',
    run: (h) =>
      withSession(h, async (s) => {
        await s.start();
        const src = s.source;
        const nr = src.regions.length;
        const pc = src.regions[0]!.pageCount;
        const ranged: [string, (r: number, f: number, c: number) => unknown][] = [
          ['claim', (r, f, c) => src.claim(r, f, c)],
          ['read', (r, f, c) => src.read(r, f, c)],
          ['release', (r, f, c) => src.release(r, f, c)],
        ];
        for (const [name, fn] of ranged) {
          for (const r of [-1, nr, 0.5, Number.NaN])
            await expectRangeError(() => fn(r, 0, 1), `${name}(${r}, 0, 1)`, 'region');
          for (const f of [-1, pc, 1.5, Number.NaN])
            await expectRangeError(() => fn(0, f, 1), `${name}(0, ${f}, 1)`, 'first');
          for (const c of [-1, 1.5, pc + 1, Number.NaN])
            await expectRangeError(() => fn(0, 0, c), `${name}(0, 0, ${c})`, 'count');
          await expectRangeError(() => fn(0, pc - 1, 2), `${name}(0, ${pc - 1}, 2)`, 'count');
        }
        for (const t of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
          await expectRangeError(() => src.waitForFaults(t), `waitForFaults(${t})`, 'timeoutNs');
        }
        for (const m of [-1, 0.5]) {
          await expectRangeError(() => src.takeFaults(m), `takeFaults(${m})`, 'max');
          await expectRangeError(() => src.waitForFaults(0, m), `waitForFaults(0, ${m})`, 'max');
        }
        check(src.state === 'tracking', `invalid arguments changed the state to '${src.state}'`);
      }),
  },
  {
    id: 'write-blocks-until-release',
    appliesTo: 'plain',
    title: 'plain: a write to a protected page faults, names that page, and blocks until release()',
    run: (h) =>
      withSession(
        h,
        async (s) => {
          await s.start();
          const r = s.source.regions.length - 1;
          const { page: p, w, e } = await s.faultMid(r);
          check(e.contents === undefined, 'a plain backend delivered contents');
          check(!w.done, `the write to region ${r} page ${p} completed before its page was released`);
          await s.eventsFor(r, p); // give a broken backend time to let the writer through
          check(!w.done, `the write to region ${r} page ${p} completed while its page was still protected`);
          s.checkContents(r, p, s.source.read(r, p, 1).subarray(0, s.source.regions[r]!.pageSize), 'read()');
          s.source.release(r, p, 1);
          await s.completes(w, 'after release()');
        },
        'plain',
      ),
  },
  {
    id: 'released-never-faults',
    title: 'a released page never faults again (released by the fault path or by the scan)',
    run: (h) =>
      withSession(h, async (s) => {
        await s.start();
        const src = s.source;
        const r = 0;
        // Released by the fault path.
        const { page: p, w: w1, e } = await s.faultMid(r);
        if (!e.contents) src.release(r, p, 1);
        await s.completes(w1, 'after its fault was handled');
        const w2 = s.write(r, p);
        await s.completes(w2, 'to an already released page');
        const again = await s.eventsFor(r, p);
        check(again.length === 0, `a write to released page ${r}:${p} faulted again`);
        // Released by the scan, several pages at once.
        const q = s.mid(r, 2);
        const n = src.claim(r, q, 3);
        check(n === 3, `claim(${r}, ${q}, 3) on untouched pages returned ${n}`);
        src.read(r, q, 3);
        src.release(r, q, 3);
        for (let i = 0; i < 3; i++) await s.completes(s.write(r, q + i), 'to a page released by the scan');
        for (let i = 0; i < 3; i++) {
          const late = s.events.filter((x) => x.region === r && x.page === q + i);
          check(late.length === 0, `a write to page ${r}:${q + i}, released by the scan, faulted`);
        }
        const more = await s.eventsFor(r, q);
        check(more.length === 0, `a write to page ${r}:${q}, released by the scan, faulted`);
        // Releasing twice is allowed.
        src.release(r, q, 3);
      }),
  },
  {
    id: 'reads-never-fault',
    title: 'reads of protected pages never fault and never block',
    run: (h) =>
      withSession(h, async (s) => {
        await s.start();
        for (let r = 0; r < s.source.regions.length; r++) {
          const pc = s.source.regions[r]!.pageCount;
          for (const p of [0, s.mid(r), pc - 1])
            await s.guard(s.subject.read(r, p), `read of protected page ${r}:${p}`);
        }
        const got = await s.wait(h.quietNs);
        check(
          got.length === 0,
          () => `reads raised fault events: ${JSON.stringify(got.map((e) => [e.region, e.page]))}`,
        );
      }),
  },
  {
    id: 'stop-releases-writers',
    title: 'stop() releases every blocked writer',
    run: (h) =>
      withSession(h, async (s) => {
        await s.start();
        const k = Math.min(3, h.concurrentWriters);
        const r = 0;
        const first = s.mid(r);
        // Copy-on-fault backends release writers themselves, unless the scan holds the page.
        if (s.copiesOnFault)
          check(s.source.claim(r, first, k) === k, `claim(${r}, ${first}, ${k}) fell short`);
        const writes = Array.from({ length: k }, (_, i) => s.write(r, first + i));
        if (!s.copiesOnFault) for (let i = 0; i < k; i++) await s.expectFault(r, first + i);
        else await s.eventsFor(r, first);
        check(
          writes.every((w) => !w.done),
          'a write to a protected, unreleased page completed before stop()',
        );
        await s.guard(s.source.stop(), 'stop() with blocked writers');
        for (const w of writes) await s.completes(w, 'after stop()');
        check(s.source.state === 'stopped', `state after stop() is '${s.source.state}'`);
      }),
  },
  {
    id: 'wait-resolves-on-stop',
    title: 'a pending waitForFaults() resolves with no faults when stop() is called',
    run: (h) =>
      withSession(h, async (s) => {
        await s.start();
        const pending = s.source.waitForFaults(h.eventTimeoutNs * 1000);
        await tick();
        await s.guard(s.source.stop(), 'stop() during waitForFaults()');
        const got = await s.guard(pending, 'waitForFaults() pending across stop()');
        check(
          Array.isArray(got) && got.length === 0,
          `waitForFaults() across stop() resolved with ${JSON.stringify(got)}`,
        );
      }),
  },
  {
    id: 'wait-wakes-on-fault',
    title: 'a pending waitForFaults() resolves with a fault raised while it waits',
    run: (h) =>
      withSession(h, async (s) => {
        await s.start();
        const r = 0;
        const p = s.mid(r);
        // Timers may fire early (libuv schedules them from a cached loop time), so a backend that only
        // returns at its timeout could come in just under it. Waiting twice the event time and
        // requiring a return within one event time keeps a wide margin between the two outcomes.
        const timeoutNs = 2 * h.eventTimeoutNs;
        const t0 = s.source.clock.now();
        const pending = s.wait(timeoutNs);
        const w = s.write(r, p);
        const got = await pending;
        const waited = s.source.clock.now() - t0;
        check(
          got.some((e) => e.region === r && e.page === p),
          `waitForFaults(${timeoutNs}) returned ${got.length} events after ${waited} ns, none for the write to ${r}:${p}`,
        );
        check(
          waited < h.eventTimeoutNs,
          `waitForFaults(${timeoutNs}) returned after ${waited} ns, not within ${h.eventTimeoutNs} ns: it did not wake on the fault`,
        );
        if (!got.find((e) => e.region === r && e.page === p)?.contents) s.source.release(r, p, 1);
        await s.completes(w, 'after release()');
      }),
  },
  {
    id: 'wait-timeout',
    title: "waitForFaults() honours its timeout on the source's clock; timeout 0 polls",
    run: (h) =>
      withSession(h, async (s) => {
        await s.start();
        const clock = s.source.clock;
        const tolerance = 1e6; // timers may fire up to a millisecond early
        let t0 = clock.now();
        let got = await s.wait(h.quietNs);
        let dt = clock.now() - t0;
        check(got.length === 0, 'waitForFaults() returned faults although nothing was written');
        check(dt >= h.quietNs - tolerance, `waitForFaults(${h.quietNs}) returned after only ${dt} ns`);
        check(dt <= h.quietNs + h.timingSlackNs, `waitForFaults(${h.quietNs}) returned after ${dt} ns`);
        t0 = clock.now();
        got = await s.wait(0);
        dt = clock.now() - t0;
        check(got.length === 0, 'waitForFaults(0) returned faults although nothing was written');
        check(dt <= h.timingSlackNs, `waitForFaults(0) took ${dt} ns; it must only poll`);
      }),
  },
  {
    id: 'take-faults',
    title: 'takeFaults() never blocks, returns [] when nothing is pending, and honours max',
    run: (h) =>
      withSession(h, async (s) => {
        await s.start();
        check(s.take().length === 0, 'takeFaults() returned faults although nothing was written');
        const k = Math.min(3, h.concurrentWriters);
        const r = 0;
        const first = s.mid(r);
        const writes = Array.from({ length: k }, (_, i) => s.write(r, first + i));
        await new Promise((resolve) => setTimeout(resolve, Math.min(h.quietNs / 1e6, 50)));
        const named = new Set<number>();
        const one = s.take(1);
        check(one.length <= 1, `takeFaults(1) returned ${one.length} events`);
        for (const e of one) named.add(e.page);
        const deadline = s.source.clock.now() + h.eventTimeoutNs;
        while (named.size < k && s.source.clock.now() < deadline) {
          const got = await s.wait(h.eventTimeoutNs, 1);
          check(got.length <= 1, `waitForFaults(t, 1) returned ${got.length} events`);
          for (const e of got) named.add(e.page);
        }
        check(named.size === k, `only ${named.size} of ${k} faulting writes produced events`);
        for (const w of writes) {
          if (!s.copiesOnFault) s.source.release(w.region, w.page, 1);
          await s.completes(w, 'after release()');
        }
      }),
  },
  {
    id: 'events-in-range',
    title: 'random writes: every event names a written page inside the tracked regions',
    run: async (h) => {
      for (let run = 0; run < h.randomRuns; run++) {
        const seed = h.seed + run;
        await withSession(h, async (s) => {
          const rnd = prng(seed);
          const regions = s.source.regions;
          await s.start();
          const written = regions.map((r) => new Uint8Array(r.pageCount));
          const writes: Promise<void>[] = [];
          let issued = 0;
          let inFlight = 0;
          const launch = () => {
            while (inFlight < h.concurrentWriters && issued < h.randomWrites) {
              const r = Math.floor(rnd() * regions.length);
              const p = Math.floor(rnd() * regions[r]!.pageCount);
              written[r]![p] = 1;
              issued++;
              inFlight++;
              const w = s.write(r, p);
              writes.push(w.promise);
              w.promise.then(() => {
                inFlight--;
                launch();
              });
            }
          };
          launch();
          const all = Promise.all(writes);
          let done = false;
          const finished = s
            .guard(
              (async () => {
                while (issued < h.randomWrites || inFlight > 0) await tick();
                await Promise.all(writes);
              })(),
              `random writes (seed ${seed})`,
            )
            .then(() => {
              done = true;
            });
          while (!done) {
            const got = await s.wait(Math.min(h.quietNs, h.eventTimeoutNs));
            for (const e of got) {
              check(
                written[e.region]![e.page] === 1,
                `event named page ${e.region}:${e.page}, which no writer wrote (seed ${seed})`,
              );
              if (!e.contents) s.source.release(e.region, e.page, 1);
            }
            if (rnd() < 0.2) {
              // Mix in scan-style releases.
              const r = Math.floor(rnd() * regions.length);
              const p = Math.floor(rnd() * regions[r]!.pageCount);
              const n = s.source.claim(r, p, 1);
              if (n > 0) {
                s.source.read(r, p, 1);
                s.source.release(r, p, 1);
              }
            }
            await tick();
          }
          await finished;
          await all;
        });
      }
    },
  },
  {
    id: 'save-race',
    title:
      'scan and faults racing under random writes: every page saved exactly once, with its contents at start',
    run: async (h) => {
      for (let run = 0; run < h.randomRuns; run++) {
        await withSession(h, (s) => saveRace(s, h.seed + 1000 + run));
      }
    },
  },
  {
    id: 'plain-claim-all',
    appliesTo: 'plain',
    title: 'plain: claim() claims every requested page',
    run: (h) =>
      withSession(
        h,
        async (s) => {
          await s.start();
          const r = 0;
          const { w } = await s.faultMid(r);
          const pc = s.source.regions[r]!.pageCount;
          const n = s.source.claim(r, 0, pc);
          check(n === pc, `claim(${r}, 0, ${pc}) returned ${n} on a plain backend`);
          s.source.release(r, 0, pc);
          await s.completes(w, 'after release()');
        },
        'plain',
      ),
  },
  {
    id: 'cof-contents',
    appliesTo: 'copy-on-fault',
    title: 'copy-on-fault: events carry the contents at start, the writer is released without release()',
    run: (h) =>
      withSession(
        h,
        async (s) => {
          await s.start();
          const r = s.source.regions.length - 1;
          const { page: p, w, e } = await s.faultMid(r);
          check(e.contents !== undefined, `the event for unclaimed page ${r}:${p} carries no contents`);
          s.checkContents(r, p, e.contents, 'the event contents');
          await s.completes(w, 'released by the copy-on-fault backend');
          const again = s.write(r, p);
          await s.completes(again, 'to a page saved by copy-on-fault');
          const late = await s.eventsFor(r, p);
          check(
            late.every((x) => !x.contents),
            `page ${r}:${p} was delivered with contents twice`,
          );
        },
        'copy-on-fault',
      ),
  },
  {
    id: 'cof-claimed-not-delivered',
    appliesTo: 'copy-on-fault',
    title: 'copy-on-fault: a claimed page is never delivered with contents; its writer waits for release()',
    run: (h) =>
      withSession(
        h,
        async (s) => {
          await s.start();
          const r = 0;
          const p = s.mid(r);
          const size = s.source.regions[r]!.pageSize;
          check(s.source.claim(r, p, 2) === 2, `claim(${r}, ${p}, 2) on untouched pages fell short`);
          const w = s.write(r, p);
          const hits = await s.eventsFor(r, p);
          check(
            hits.every((e) => !e.contents),
            `claimed page ${r}:${p} was delivered with contents`,
          );
          check(!w.done, `a write to claimed page ${r}:${p} completed before release()`);
          const bytes = s.source.read(r, p, 2);
          s.checkContents(r, p, bytes.subarray(0, size), 'read() of a claimed page');
          s.checkContents(r, p + 1, bytes.subarray(size, 2 * size), 'read() of a claimed page');
          s.source.release(r, p, 2);
          await s.completes(w, 'after the scan released it');
          const late = await s.eventsFor(r, p);
          check(
            late.every((e) => !e.contents),
            `claimed page ${r}:${p} was delivered with contents after release`,
          );
        },
        'copy-on-fault',
      ),
  },
  {
    id: 'cof-claim-stops',
    appliesTo: 'copy-on-fault',
    title: 'copy-on-fault: claim() returns 0 for a fault-owned page and stops before it',
    run: (h) =>
      withSession(
        h,
        async (s) => {
          await s.start();
          const r = 0;
          const { page: p, w, e } = await s.faultMid(r);
          check(e.contents !== undefined, `the event for unclaimed page ${r}:${p} carries no contents`);
          await s.completes(w, 'released by the copy-on-fault backend');
          const zero = s.source.claim(r, p, 1);
          check(zero === 0, `claim(${r}, ${p}, 1) returned ${zero} for a page the fault path already saved`);
          const n = s.source.claim(r, p - 2, 4);
          check(n === 2, `claim(${r}, ${p - 2}, 4) returned ${n}; it must stop at fault-owned page ${p}`);
          s.source.read(r, p - 2, 2);
          s.source.release(r, p - 2, 2);
        },
        'copy-on-fault',
      ),
  },
];

/** Every rule of the contract, in a sensible order; see each `title`. */
export const faultSourceChecks: readonly ConformanceCheck[] = rules.map((r) => ({
  id: r.id,
  title: r.title,
  ...(r.appliesTo ? { appliesTo: r.appliesTo } : {}),
  run: async (h: ResolvedHarness) => ((await r.run(h)) === 'skipped' ? 'skipped' : 'passed'),
}));
