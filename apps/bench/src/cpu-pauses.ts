import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { compileC, nativeBenchSource, programJson } from './bench-programs.js';
import { fmtNs } from './format.js';

const run = promisify(execFile);

/** A stretch of time, ns from the probe's start. */
export interface Gap {
  startNs: number;
  endNs: number;
}

/**
 * What the machine did to threads that never block while every CPU was busy (the native package's
 * `bench/cpu-pauses.c`). A gap on one thread is the kernel running something else on that CPU; a pause
 * is a stretch in which every thread was stopped at once: the whole machine, on a VM the host.
 */
export interface CpuPausesResult {
  seconds: number;
  threads: number;
  /** Whether every thread ran pinned to its own CPU; unpinned, a gap may also be a migration. */
  pinned: boolean;
  /** The shortest gap the program recorded. */
  thresholdNs: number;
  /** Gaps not recorded because a thread's list was full: the counts below are then too low. */
  dropped: number;
  /** Gaps over 5 ms, summed over the threads. */
  gapsOver5ms: number;
  longestGapNs: number;
  /** Stretches in which every thread was stopped at once, in order. */
  pauses: Gap[];
  pausesOver5ms: number;
  /** Sum of `pauses`. */
  pausedNs: number;
  longestPauseNs: number;
}

/** The common part of two sorted lists of disjoint stretches. */
function intersect(a: readonly Gap[], b: readonly Gap[]): Gap[] {
  const out: Gap[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const startNs = Math.max(a[i]!.startNs, b[j]!.startNs);
    const endNs = Math.min(a[i]!.endNs, b[j]!.endNs);
    if (startNs < endNs) out.push({ startNs, endNs });
    // The stretch that ends first cannot overlap anything later in the other list.
    if (a[i]!.endNs < b[j]!.endNs) i++;
    else j++;
  }
  return out;
}

/**
 * The stretches in which every thread was inside one of its gaps. Each thread's gaps must be sorted and
 * disjoint, as one thread's clock readings make them.
 */
export function sharedGaps(perThread: readonly (readonly Gap[])[]): Gap[] {
  if (perThread.length === 0) return [];
  return perThread.slice(1).reduce<Gap[]>((acc, g) => intersect(acc, g), [...perThread[0]!]);
}

/**
 * Parses the program's JSON line and works out gaps and shared pauses.
 * @throws Error naming what is missing when the output is not the program's.
 */
export function parseCpuPauses(text: string): CpuPausesResult {
  const json = programJson('cpu-pauses', text);
  if (!json) throw new Error(`cpu-pauses printed no result: ${text.trim().slice(0, 200)}`);
  const { fields: j, num } = json;
  const raw = j.gaps;
  if (!Array.isArray(raw)) throw new Error('cpu-pauses output lacks gaps');
  const perThread: Gap[][] = raw.map((t: unknown, i) => {
    if (!Array.isArray(t)) throw new Error(`cpu-pauses output: gaps of thread ${i} are not a list`);
    return t.map((g: unknown) => {
      if (!Array.isArray(g) || typeof g[0] !== 'number' || typeof g[1] !== 'number' || g[1] < g[0]) {
        throw new Error(`cpu-pauses output: thread ${i} has a malformed gap ${JSON.stringify(g)}`);
      }
      return { startNs: g[0], endNs: g[1] };
    });
  });
  const threads = num('threads');
  if (perThread.length !== threads) {
    throw new Error(`cpu-pauses output: ${perThread.length} gap lists for ${threads} threads`);
  }
  const gaps = perThread.flat();
  const pauses = sharedGaps(perThread);
  const length = (g: Gap): number => g.endNs - g.startNs;
  return {
    seconds: num('seconds'),
    threads,
    pinned: j.pinned === true,
    thresholdNs: num('thresholdNs'),
    dropped: num('dropped'),
    gapsOver5ms: gaps.filter((g) => length(g) > 5e6).length,
    longestGapNs: Math.max(0, ...gaps.map(length)),
    pauses,
    pausesOver5ms: pauses.filter((g) => length(g) > 5e6).length,
    pausedNs: pauses.reduce((s, g) => s + length(g), 0),
    longestPauseNs: Math.max(0, ...pauses.map(length)),
  };
}

/**
 * The probe in words: `every CPU busy for 10 s (no userfaultfd): all 2 CPUs stopped at once 3 times over
 * 5 ms (longest 33.4 ms, 80 ms in all); any one CPU: longest stop 33.4 ms, 7 stops over 5 ms`.
 */
export function cpuPausesText(m: CpuPausesResult): string {
  const all = m.threads === 1 ? 'the CPU stopped' : `all ${m.threads} CPUs stopped at once`;
  return (
    `every CPU busy for ${m.seconds} s (no userfaultfd${m.pinned ? '' : ', threads not pinned'}): ` +
    `${all} ${m.pausesOver5ms} time${m.pausesOver5ms === 1 ? '' : 's'} over 5 ms` +
    (m.pauses.length ? ` (longest ${fmtNs(m.longestPauseNs)}, ${fmtNs(m.pausedNs)} in all)` : '') +
    `; any one CPU: longest stop ${fmtNs(m.longestGapNs)}, ${m.gapsOver5ms} stop${m.gapsOver5ms === 1 ? '' : 's'} over 5 ms` +
    (m.dropped > 0 ? ` (${m.dropped} more gaps not recorded: the program's lists were full)` : '')
  );
}

/** Options of {@link runCpuPauses}. */
export interface CpuPausesOptions {
  /** Threads; default one per CPU online. */
  threads?: number;
  /** Shortest gap recorded, µs; default 1000. */
  thresholdUs?: number;
}

/**
 * Compiles the native package's `bench/cpu-pauses.c` into `outDir` and runs it for `seconds`.
 * @throws Error when the package does not ship the program, or it fails to build or run.
 */
export async function runCpuPauses(
  outDir: string,
  seconds: number,
  o: CpuPausesOptions = {},
): Promise<CpuPausesResult> {
  const source = nativeBenchSource('cpu-pauses.c');
  if (!source) throw new Error('cpu-pauses.c not found in the native package bench/');
  const bin = await compileC(source, outDir, 'cpu-pauses');
  // The program reads its arguments by position: threads must be given for a threshold to follow.
  const args = [String(seconds), String(o.threads ?? 0), String(o.thresholdUs ?? 1000)];
  const { stdout } = await run(bin, args, { timeout: (seconds + 60) * 1000, maxBuffer: 64 * 2 ** 20 });
  return parseCpuPauses(stdout);
}
