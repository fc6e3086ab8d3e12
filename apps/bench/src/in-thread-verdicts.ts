import type { FloorResult } from './floor.js';
import { fmtNs } from './format.js';
import { median } from './memcpy.js';
import type { BenchRow } from './row.js';
import { ratioText, type Verdict } from './verdict.js';

/** Runs a median needs before a verdict is given: one disturbed run must not decide it. */
export const MIN_VERDICT_RUNS = 3;

/** Target (b) for in-thread mode: its writer p99 against both kinds of floor serving the same writers. */
export const IN_THREAD_FLOOR_GOAL = { handlerThread: 1.0, inThread: 1.5 } as const;

/** Target (c) for in-thread mode: p99 with the stalling sink against its own p99 without stalls. */
export const IN_THREAD_STALL_GOAL = 1.5;

/** The policy the in-thread verdicts are taken with: bgsnap's default limiter (the QEMU patch's). */
export const IN_THREAD_VERDICT_POLICY = 'qemu';

/** What {@link judgeInThreadFloor} compares. */
export interface InThreadFloorInput {
  /** The in-thread case's runs (writers parked around protect, the verdict policy, no stalls). */
  runs: readonly BenchRow[];
  /** The C handler-thread floor (`poll`) under the same writers, interleaved with `runs`. */
  handlerThreadFloors: readonly FloorResult[];
  /** The C in-thread floor (`sigbus`) under the same writers, interleaved with `runs`. */
  inThreadFloors: readonly FloorResult[];
  /**
   * The C in-thread floor with one busy thread beside the same writers, interleaved with `runs`:
   * reported beside the verdict (each release then waits for a TLB-flush interrupt to the busy CPU, as
   * bgsnap's writers do beside the save loop), not part of it.
   */
  inThreadBusyFloors?: readonly FloorResult[] | undefined;
  /** Why in-thread mode was not measured (kernel, or left out of `--modes`). */
  skipped?: string | undefined;
}

const medianP99 = (rows: readonly BenchRow[]): number => median(rows.map((r) => r.writer.p99));
const floorP99 = (floors: readonly FloorResult[]): number => median(floors.map((f) => f.p99Ns));
const each = (values: readonly number[]): string => values.map(fmtNs).join(', ');

/** Why a set of runs cannot decide a verdict, or undefined when it can. */
function tooFew(what: string, n: number): string | undefined {
  return n < MIN_VERDICT_RUNS
    ? `${what}: ${n} run${n === 1 ? '' : 's'}, a verdict needs ${MIN_VERDICT_RUNS}`
    : undefined;
}

/**
 * Target (b), in-thread: the median writer-observed fault p99 ≤ 1.0 × the median C handler-thread floor
 * and ≤ 1.5 × the median C in-thread floor, all serving the same writers; p99.9 and the longest store
 * beside them. Undefined (not measured) with fewer than {@link MIN_VERDICT_RUNS} runs of any of the three.
 */
export function judgeInThreadFloor(i: InThreadFloorInput): Verdict {
  const target = '(b) in-thread: writer fault p99 vs both C floors, same writers';
  const goal = `≤ ${IN_THREAD_FLOOR_GOAL.handlerThread.toFixed(1)} × handler-thread floor (poll) and ≤ ${IN_THREAD_FLOOR_GOAL.inThread.toFixed(1)} × in-thread floor (sigbus); medians of ≥ ${MIN_VERDICT_RUNS} interleaved runs`;
  if (i.skipped) return { target, goal, measured: `not measured: ${i.skipped}`, pass: undefined };
  const runs = i.runs.filter((r) => r.writer.count > 0);
  const missing =
    tooFew('in-thread runs with faults', runs.length) ??
    tooFew('handler-thread floor', i.handlerThreadFloors.length) ??
    tooFew('in-thread floor', i.inThreadFloors.length);
  if (missing) return { target, goal, measured: `not measured (${missing})`, pass: undefined };
  const p99 = medianP99(runs);
  const poll = floorP99(i.handlerThreadFloors);
  const sigbus = floorP99(i.inThreadFloors);
  const p999 = median(runs.map((r) => r.writer.p999));
  const longest = Math.max(...runs.map((r) => r.longestWriterStallNs));
  const busyFloors = i.inThreadBusyFloors ?? [];
  const busy =
    busyFloors.length > 0
      ? `; for comparison, the in-thread floor with one busy thread beside the writers (as the save loop is): ${fmtNs(floorP99(busyFloors))} (runs: ${each(busyFloors.map((f) => f.p99Ns))}), bgsnap ${ratioText(p99, floorP99(busyFloors))} that`
      : '';
  return {
    target,
    goal,
    measured:
      `p99 ${fmtNs(p99)} (runs: ${each(runs.map((r) => r.writer.p99))}) = ${ratioText(p99, poll)} handler-thread floor ${fmtNs(poll)} ` +
      `(runs: ${each(i.handlerThreadFloors.map((f) => f.p99Ns))}), ${ratioText(p99, sigbus)} in-thread floor ${fmtNs(sigbus)} ` +
      `(runs: ${each(i.inThreadFloors.map((f) => f.p99Ns))}); p99.9 ${fmtNs(p999)} (floors ${fmtNs(median(i.handlerThreadFloors.map((f) => f.p999Ns)))} / ${fmtNs(median(i.inThreadFloors.map((f) => f.p999Ns)))}); longest store ${fmtNs(longest)}${busy}`,
    pass: p99 <= IN_THREAD_FLOOR_GOAL.handlerThread * poll && p99 <= IN_THREAD_FLOOR_GOAL.inThread * sigbus,
  };
}

/** What {@link judgeInThreadStall} compares. */
export interface InThreadStallInput {
  /** In-thread runs with the stalling sink. */
  stalled: readonly BenchRow[];
  /** The same case without stalls, interleaved with `stalled` in the same run. */
  unstalled: readonly BenchRow[];
  /** The copy buffer those runs had, pages. */
  copyBufferPages: number;
  skipped?: string | undefined;
}

/** Slot waits (writers that found the copy buffer full) of a run, 0 when not recorded. */
export const slotWaits = (r: BenchRow): number => Number(r.extra?.slotWaits ?? 0);

/**
 * Target (c), in-thread: the median p99 with the stalling sink ≤ 1.5 × the median p99 of the same case
 * without stalls, interleaved in the same run; the copy buffer and the writers' slot waits beside it.
 */
export function judgeInThreadStall(i: InThreadStallInput): Verdict {
  const target = '(c) in-thread: p99 with the stalling sink vs its own p99 without stalls';
  const goal = `≤ ${IN_THREAD_STALL_GOAL} × (medians of ≥ ${MIN_VERDICT_RUNS} interleaved runs)`;
  if (i.skipped) return { target, goal, measured: `not measured: ${i.skipped}`, pass: undefined };
  const stalled = i.stalled.filter((r) => r.writer.count > 0);
  const unstalled = i.unstalled.filter((r) => r.writer.count > 0);
  const missing =
    tooFew('stalled runs with faults', stalled.length) ?? tooFew('runs without stalls', unstalled.length);
  if (missing) return { target, goal, measured: `not measured (${missing})`, pass: undefined };
  const withStalls = medianP99(stalled);
  const without = medianP99(unstalled);
  const waits = stalled.map(slotWaits);
  return {
    target,
    goal,
    measured:
      `p99 ${fmtNs(withStalls)} (runs: ${each(stalled.map((r) => r.writer.p99))}) vs ${fmtNs(without)} without stalls ` +
      `(runs: ${each(unstalled.map((r) => r.writer.p99))}) = ${ratioText(withStalls, without)}; ` +
      `copy buffer ${i.copyBufferPages} pages, slot waits ${waits.join(', ')}`,
    pass: withStalls <= IN_THREAD_STALL_GOAL * without,
  };
}
