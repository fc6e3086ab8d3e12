import { describe, expect, it } from 'vitest';
import type { FloorResult } from './floor.js';
import type { BenchRow } from './row.js';
import { judge, SNAPSHOT_GOAL, type TargetsResult, targetsMarkdown } from './targets.js';

/** The fields `judge` reads. */
function row(
  mode: BenchRow['mode'],
  policy: string,
  p99: number,
  o: { quiesce?: boolean; bps?: number } = {},
): BenchRow {
  return {
    id: `${mode}-${policy}-${p99}`,
    mode,
    policy,
    quiescePauseNs: o.quiesce === false ? undefined : 1e5,
    writer: { p50: p99 / 2, p99, p999: 2 * p99, max: 3 * p99, count: p99 > 0 ? 100 : 0 },
    longestWriterStallNs: 1e6,
    throughputBytesPerSec: o.bps ?? 0,
    durationNs: 1e9,
    protectNs: 1e5,
    pages: { total: 4096, faulted: 100, scanned: 3996, zero: 0 },
    writesOver5ms: 0,
    throttledNs: 0,
    sinkStalledNs: 0,
    true: { p99: 0 },
    sinceFetch: { p99: 0 },
    upperBound: { p99: 0 },
    extra: { batchPages: 'default', slotWaits: 0 },
  } as unknown as BenchRow;
}
const floor = (p99Ns: number): FloorResult => ({
  variant: 'sleep',
  thp: true,
  faults: 2000,
  p50Ns: p99Ns / 2,
  p99Ns,
  p999Ns: 2 * p99Ns,
  maxNs: 3 * p99Ns,
  protectNs: 1e4,
  load: { writers: 2, rate: 20000, busy: 0 },
  raw: '',
});
const three = <T>(x: T): T[] => [x, x, x];

function measured(over: Partial<TargetsResult> = {}): Omit<TargetsResult, 'verdicts' | 'results'> {
  return {
    memcpyBytesPerSec: three(10e9),
    noWriterRuns: three(row('plain', 'unlimited', 0, { bps: 7.2e9 })),
    tunedRuns: [],
    floor: { benchLoadRuns: three(floor(300e3)), sigbusLoadRuns: three(floor(200e3)) },
    latencyRuns: [
      ...three(row('in-thread', 'qemu', 250e3)),
      // Other cases of the same mode must not decide the in-thread verdict.
      ...three(row('in-thread', 'unlimited', 9e6)),
      ...three(row('in-thread', 'qemu', 9e6, { quiesce: false })),
      ...three(row('copy-on-fault', 'qemu', 9e6)),
    ],
    stallRuns: [...three(row('in-thread', 'qemu', 300e3)), ...three(row('plain', 'qemu', 9e6))],
    stallReferenceRuns: three(row('in-thread', 'qemu', 250e3)),
    copyBufferPages: 4096,
    ...over,
  };
}

const verdict = (vs: ReturnType<typeof judge>, prefix: string) =>
  vs.find((v) => v.target.startsWith(prefix))!;

describe('judge (targets)', () => {
  it('(a) is met at 0.7 × memcpy, no longer at 0.6', () => {
    expect(SNAPSHOT_GOAL).toBe(0.7);
    expect(verdict(judge(measured()), '(a)')).toMatchObject({ goal: '≥ 0.7 × memcpy', pass: true });
    const at065 = measured({ noWriterRuns: three(row('plain', 'unlimited', 0, { bps: 6.5e9 })) });
    expect(verdict(judge(at065), '(a)').pass).toBe(false);
  });

  it('(b) and (c) judge the in-thread case with the default policy, against both floors and its own unstalled runs', () => {
    const vs = judge(measured());
    expect(verdict(vs, '(b) in-thread').pass).toBe(true);
    expect(verdict(vs, '(c) in-thread').pass).toBe(true); // 300 ≤ 1.5 × 250
    const slower = judge(measured({ stallRuns: three(row('in-thread', 'qemu', 380e3)) }));
    expect(verdict(slower, '(c) in-thread').pass).toBe(false);
    const aboveFloor = judge(
      measured({ floor: { benchLoadRuns: three(floor(240e3)), sigbusLoadRuns: three(floor(200e3)) } }),
    );
    expect(verdict(aboveFloor, '(b) in-thread').pass).toBe(false);
  });

  it('says why (b) has no verdict when a floor could not run', () => {
    const t = measured({
      floor: { benchLoadRuns: three(floor(300e3)), sigbusError: 'no SIGBUS in this build' },
    });
    expect(verdict(judge(t), '(b) in-thread')).toMatchObject({
      pass: undefined,
      measured: 'not measured: the in-thread floor: no SIGBUS in this build',
    });
  });

  it('states why in-thread mode was not judged', () => {
    const vs = judge(
      measured({ inThreadSkipped: 'the kernel lacks UFFD_FEATURE_SIGBUS', latencyRuns: [], stallRuns: [] }),
    );
    for (const p of ['(b) in-thread', '(c) in-thread']) {
      expect(verdict(vs, p)).toMatchObject({
        pass: undefined,
        measured: 'not measured: the kernel lacks UFFD_FEATURE_SIGBUS',
      });
    }
  });
});

describe('targetsMarkdown', () => {
  it("keeps (c)'s unstalled in-thread baseline out of the stalled rows, and lists it apart", () => {
    const t = measured({ stallReferenceRuns: [row('in-thread', 'qemu', 111e3)] });
    const md = targetsMarkdown({ ...t, verdicts: judge(t), results: [] });
    const cRow = md
      .split('\n')
      .filter((l) => l.startsWith('| in-thread | qemu |'))
      .at(-1)!;
    expect(cRow).toContain('300.0 µs, 300.0 µs, 300.0 µs');
    expect(cRow).not.toContain('111.0 µs');
    expect(md).toMatch(/baseline of \(c\).*qemu p99 111\.0 µs/);
  });
});
