import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeBenchSource } from './bench-programs.js';
import { cpuPausesText, type Gap, parseCpuPauses, runCpuPauses, sharedGaps } from './cpu-pauses.js';

/** One thread's gaps as the program records them: sorted, disjoint, from a mask of unit time steps. */
function runsOf(mask: readonly boolean[]): Gap[] {
  const out: Gap[] = [];
  for (let t = 0; t < mask.length; t++) {
    if (!mask[t]) continue;
    const last = out[out.length - 1];
    if (last && last.endNs === t) last.endNs = t + 1;
    else out.push({ startNs: t, endNs: t + 1 });
  }
  return out;
}

describe('sharedGaps', () => {
  it('covers exactly the time steps in which every thread was in a gap', () => {
    const masks = fc
      .integer({ min: 1, max: 60 })
      .chain((len) =>
        fc.array(fc.array(fc.boolean(), { minLength: len, maxLength: len }), { minLength: 1, maxLength: 4 }),
      );
    fc.assert(
      fc.property(masks, (ms) => {
        const shared = sharedGaps(ms.map(runsOf));
        for (let i = 1; i < shared.length; i++) {
          expect(shared[i]!.startNs).toBeGreaterThanOrEqual(shared[i - 1]!.endNs);
        }
        for (let t = 0; t < ms[0]!.length; t++) {
          const inShared = shared.some((g) => g.startNs <= t && t + 1 <= g.endNs);
          expect(inShared, `step ${t}`).toBe(ms.every((m) => m[t]));
        }
      }),
    );
  });

  it('is empty without threads', () => {
    expect(sharedGaps([])).toEqual([]);
  });
});

describe('parseCpuPauses', () => {
  const out = (gaps: unknown, extra = ''): string =>
    `{"seconds":1.000,"threads":2,"pinned":true,"thresholdNs":1000000,"dropped":0${extra},"gaps":${JSON.stringify(gaps)}}\n`;

  it('tells gaps of one CPU from pauses of all of them', () => {
    const r = parseCpuPauses(
      out([
        [
          [1e6, 8e6], // shared from 2 ms to 8 ms: a 6 ms pause
          [20e6, 27e6], // this CPU only
        ],
        [
          [2e6, 9e6],
          [40e6, 41.5e6],
        ],
      ]),
    );
    expect(r.pauses).toEqual([{ startNs: 2e6, endNs: 8e6 }]);
    expect(r.pausesOver5ms).toBe(1);
    expect(r.pausedNs).toBe(6e6);
    expect(r.longestPauseNs).toBe(6e6);
    expect(r.gapsOver5ms).toBe(3);
    expect(r.longestGapNs).toBe(7e6);
    expect(r).toMatchObject({ seconds: 1, threads: 2, pinned: true, thresholdNs: 1e6 });
  });

  it('reads as what the machine did', () => {
    const twoCpus = parseCpuPauses(out([[[1e6, 8e6]], [[2e6, 9e6]]]));
    expect(cpuPausesText(twoCpus)).toBe(
      'every CPU busy for 1 s (no userfaultfd): all 2 CPUs stopped at once 1 time over 5 ms (longest 6.00 ms, 6.00 ms in all); any one CPU: longest stop 7.00 ms, 2 stops over 5 ms',
    );
    const quiet = parseCpuPauses(out([[], []]).replace('"pinned":true', '"pinned":false'));
    expect(cpuPausesText(quiet)).toBe(
      'every CPU busy for 1 s (no userfaultfd, threads not pinned): all 2 CPUs stopped at once 0 times over 5 ms; any one CPU: longest stop 0 ns, 0 stops over 5 ms',
    );
    const full = parseCpuPauses(out([[], []]).replace('"dropped":0', '"dropped":12'));
    expect(full.dropped).toBe(12);
    expect(cpuPausesText(full)).toMatch(/\(12 more gaps not recorded: the program's lists were full\)$/);
  });

  it('names what is wrong with output that is not the program’s', () => {
    expect(() => parseCpuPauses('cpu-pauses: bad arguments')).toThrow(/printed no result/);
    expect(() => parseCpuPauses(out([[]]))).toThrow(/1 gap lists for 2 threads/);
    expect(() => parseCpuPauses(out([[[5, 1]], []]))).toThrow(/thread 0 has a malformed gap \[5,1\]/);
    expect(() => parseCpuPauses('{"threads":2,"gaps":[[],[]]}')).toThrow(/lacks seconds/);
  });
});

const source = nativeBenchSource('cpu-pauses.c');
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bgsnap-cpu-pauses-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runCpuPauses', () => {
  it.skipIf(!source)(
    'builds and runs the native package’s program; its gaps lie inside the run, in order',
    async () => {
      // A 20 µs threshold records every timer interrupt, so the lists are never empty.
      const r = await runCpuPauses(dir, 0.3, { threads: 2, thresholdUs: 20 });
      expect(r.threads).toBe(2);
      expect(r.thresholdNs).toBe(20_000);
      expect(r.longestGapNs).toBeGreaterThan(20_000);
      expect(r.longestPauseNs).toBeLessThanOrEqual(r.longestGapNs);
      expect(r.pausedNs).toBeLessThanOrEqual(0.3e9 + r.longestGapNs);
      for (const p of r.pauses) {
        expect(p.startNs).toBeGreaterThanOrEqual(0);
        expect(p.endNs).toBeLessThanOrEqual(0.3e9 + r.longestGapNs);
      }
    },
    30_000,
  );

  it.skipIf(!source)('turns the program’s refusal of bad arguments into an error', async () => {
    await expect(runCpuPauses(dir, 0)).rejects.toThrow(/seconds must be in \(0, 3600\]/);
  });
});
