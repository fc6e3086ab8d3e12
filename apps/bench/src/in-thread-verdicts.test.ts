import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FloorResult } from './floor.js';
import { judgeInThreadFloor, judgeInThreadStall } from './in-thread-verdicts.js';
import type { BenchRow } from './row.js';

/** The fields the verdicts read. */
function run(
  p99: number,
  extra: Partial<{ p999: number; longest: number; slotWaits: number; count: number }> = {},
): BenchRow {
  return {
    mode: 'in-thread',
    policy: 'qemu',
    quiescePauseNs: 1e5,
    writer: { p99, p999: extra.p999 ?? 2 * p99, count: extra.count ?? 100 },
    longestWriterStallNs: extra.longest ?? 3 * p99,
    extra: { slotWaits: extra.slotWaits ?? 0 },
  } as unknown as BenchRow;
}
const floor = (p99Ns: number): FloorResult => ({ p99Ns, p999Ns: 2 * p99Ns }) as unknown as FloorResult;
const us = (n: number): number => n * 1000;

describe('judgeInThreadFloor', () => {
  it('compares medians: ≤ 1.0 × the handler-thread floor and ≤ 1.5 × the in-thread floor', () => {
    const v = judgeInThreadFloor({
      runs: [run(us(900)), run(us(250)), run(us(300))], // median 300 µs; one disturbed run does not decide
      handlerThreadFloors: [floor(us(310)), floor(us(5000)), floor(us(290))], // median 310
      inThreadFloors: [floor(us(200)), floor(us(210)), floor(us(190))], // median 200: 1.5× = 300
    });
    expect(v.pass).toBe(true);
    expect(v.measured).toContain('0.97× handler-thread floor');
    expect(v.measured).toContain('1.50× in-thread floor');
    expect(v.measured).toMatch(/longest store 2\.70 ms/);
  });

  it('misses when either floor is beaten: above the handler-thread floor, or above 1.5 × the in-thread one', () => {
    const floors = { handlerThreadFloors: [floor(300), floor(300), floor(300)] };
    const above = judgeInThreadFloor({
      runs: [run(301), run(301), run(301)],
      ...floors,
      inThreadFloors: [floor(1000), floor(1000), floor(1000)],
    });
    expect(above.pass).toBe(false);
    const farFromSigbus = judgeInThreadFloor({
      runs: [run(250), run(250), run(250)],
      ...floors,
      inThreadFloors: [floor(166), floor(166), floor(166)],
    });
    expect(farFromSigbus.pass).toBe(false);
  });

  it('reports the in-thread floor beside a busy thread next to the verdict, without changing it', () => {
    const base = {
      runs: [run(us(60)), run(us(60)), run(us(60))],
      handlerThreadFloors: [floor(us(100)), floor(us(100)), floor(us(100))],
      inThreadFloors: [floor(us(30)), floor(us(30)), floor(us(30))], // 2.00×: a miss
    };
    const without = judgeInThreadFloor(base);
    const withBusy = judgeInThreadFloor({
      ...base,
      inThreadBusyFloors: [floor(us(40)), floor(us(50)), floor(us(45))], // median 45 µs
    });
    expect(withBusy.pass).toBe(false);
    expect(withBusy.pass).toBe(without.pass);
    expect(without.measured).not.toContain('busy thread');
    expect(withBusy.measured).toContain('one busy thread beside the writers');
    expect(withBusy.measured).toContain('1.33× that');
  });

  it('gives no verdict on fewer than three runs of any kind, or when in-thread was skipped', () => {
    const three = [floor(300), floor(300), floor(300)];
    const runs = [run(100), run(100), run(100)];
    expect(
      judgeInThreadFloor({ runs: runs.slice(0, 2), handlerThreadFloors: three, inThreadFloors: three }).pass,
    ).toBeUndefined();
    expect(
      judgeInThreadFloor({ runs, handlerThreadFloors: three.slice(1), inThreadFloors: three }).measured,
    ).toMatch(/handler-thread floor: 2 runs/);
    expect(judgeInThreadFloor({ runs, handlerThreadFloors: three, inThreadFloors: [] }).pass).toBeUndefined();
    // Runs without a single write fault say nothing about fault latency.
    expect(
      judgeInThreadFloor({
        runs: [...runs.slice(0, 2), run(100, { count: 0 })],
        handlerThreadFloors: three,
        inThreadFloors: three,
      }).pass,
    ).toBeUndefined();
    const skipped = judgeInThreadFloor({
      runs,
      handlerThreadFloors: three,
      inThreadFloors: three,
      skipped: 'no SIGBUS',
    });
    expect(skipped).toMatchObject({ pass: undefined, measured: 'not measured: no SIGBUS' });
  });

  it('passes exactly when the median p99 is within both bounds (any runs)', () =>
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 1e7 }), { minLength: 3, maxLength: 7 }),
        fc.array(fc.integer({ min: 1, max: 1e7 }), { minLength: 3, maxLength: 7 }),
        fc.array(fc.integer({ min: 1, max: 1e7 }), { minLength: 3, maxLength: 7 }),
        (p99s, polls, sigbuses) => {
          const median = (xs: number[]): number => {
            const s = [...xs].sort((a, b) => a - b);
            const m = s.length >> 1;
            return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
          };
          const v = judgeInThreadFloor({
            runs: p99s.map((p) => run(p)),
            handlerThreadFloors: polls.map(floor),
            inThreadFloors: sigbuses.map(floor),
          });
          expect(v.pass).toBe(median(p99s) <= median(polls) && median(p99s) <= 1.5 * median(sigbuses));
        },
      ),
    ));
});

describe('judgeInThreadStall', () => {
  it('compares the stalled median p99 with 1.5 × the unstalled one, and reports the buffer and slot waits', () => {
    const unstalled = [run(us(200)), run(us(400)), run(us(210))]; // median 210
    const ok = judgeInThreadStall({
      stalled: [run(us(315)), run(us(300)), run(us(2000), { slotWaits: 7 })],
      unstalled,
      copyBufferPages: 4096,
    });
    expect(ok.pass).toBe(true);
    expect(ok.measured).toContain('copy buffer 4096 pages, slot waits 0, 0, 7');
    const miss = judgeInThreadStall({
      stalled: [run(us(316)), run(us(320)), run(us(330))],
      unstalled,
      copyBufferPages: 4096,
    });
    expect(miss.pass).toBe(false);
    expect(judgeInThreadStall({ stalled: [run(1)], unstalled, copyBufferPages: 1024 }).pass).toBeUndefined();
    expect(
      judgeInThreadStall({ stalled: unstalled, unstalled: [], copyBufferPages: 1024 }).pass,
    ).toBeUndefined();
  });
});
