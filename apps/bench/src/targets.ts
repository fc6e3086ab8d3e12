import { fillMemory } from 'bgsnap';
import { groupCaseRuns } from './case-runs.js';
import { type CpuPausesResult, cpuPausesText, runCpuPauses } from './cpu-pauses.js';
import {
  compileFloor,
  type FloorLoad,
  type FloorResult,
  findFloorSource,
  loadText,
  runFloor,
} from './floor.js';
import { fmtNs, fmtRate, fmtSize, markdownTable } from './format.js';
import {
  IN_THREAD_VERDICT_POLICY,
  judgeInThreadFloor,
  judgeInThreadStall,
  slotWaits,
} from './in-thread-verdicts.js';
import { median, memcpyBaseline, protectedMemcpyThroughput } from './memcpy.js';
import { NATIVE_MODES, type NativeMode } from './modes.js';
import { BENCH_POLICIES, type BenchPolicy } from './policies.js';
import { type RedisBgsaveResult, runRedisBgsave } from './redis-bgsave.js';
import type { BenchResult, BenchRow } from './row.js';
import { type NativeCase, runNativeCase } from './run-native.js';
import type { StallProfile } from './stall-profile.js';
import { passText, ratioText, type Verdict } from './verdict.js';

/** Options of {@link runTargets}. */
export interface TargetOptions {
  outDir: string;
  sizeBytes: number;
  writers: number;
  ratePerWriter: number;
  seed: number;
  sampleNs: number;
  /**
   * Runs of each (b) and (c) case, and passes of the memcpy baseline and the no-writer snapshot of (a)
   * (at least 5 of those): medians are compared.
   */
  reps: number;
  /** Faults the floor program takes per variant. */
  floorFaults: number;
  floorSource?: string | undefined;
  /** Seconds of the machine probe beside target (b) (see {@link TargetsResult.machine}); 0 skips it. */
  probeSeconds?: number | undefined;
  /** Target (d): the redis-server to measure BGSAVE with, same size; undefined quotes the reference. */
  redisServer?: string | undefined;
  /** The stall profile of target (c). */
  stallProfile: StallProfile;
  /** Pages per scan step; default: the save loop's own default. Target (a) also tries 512 and 4096. */
  batchPages?: number | undefined;
  /** Native modes of (b) and (c); default all three. */
  modes?: readonly NativeMode[] | undefined;
  /** Why in-thread mode is not measured (the kernel lacks it): its verdicts say so. */
  inThreadSkipped?: string | undefined;
  /** Copy buffer of the in-thread runs, pages (see {@link copyBufferPagesFor}); default the backend's. */
  copyBufferPages?: number | undefined;
  log: (line: string) => void;
}

export type { Verdict } from './verdict.js';

/** Everything {@link runTargets} measured, in one run. */
export interface TargetsResult {
  /** memcpy passes over the (a) region, interleaved with the snapshots of `noWriterRuns`. */
  memcpyBytesPerSec: number[];
  /** The first memcpy pass over the freshly filled region, not compared (absent in older results). */
  memcpyWarmupBytesPerSec?: number | undefined;
  /**
   * The same copy right after the first write-protection of freshly allocated memory, fresh memory
   * per pass: what the host's first-protection cost does to any reader (absent in older results).
   */
  protectedMemcpyBytesPerSec?: number[] | undefined;
  /** The first snapshot of the (a) region: its first write-protection (absent in older results). */
  coldRuns?: BenchRow[] | undefined;
  /**
   * Snapshots of one region, no writers, at the configured batch. Repeated snapshots of the region
   * that `coldRuns` took first (older results: fresh memory per pass).
   */
  noWriterRuns: BenchRow[];
  /** The same with larger scan batches (512 and 4096 pages), for comparison only. */
  tunedRuns: BenchRow[];
  floor: {
    /** The handler sleeping in poll(2), pages like the bench's memory (THP when it has them). */
    sleep?: FloorResult | undefined;
    /** The handler spinning, same pages. */
    spin?: FloorResult | undefined;
    /** The handler sleeping, 4 KiB pages (when the bench's memory is THP). */
    sleep4k?: FloorResult | undefined;
    /**
     * The handler sleeping, serving the bench's own writer load (its writer count at its rate, paced
     * alike) instead of one writer back to back: what the machine gives that load at best. Absent in
     * older results, or when the program cannot take a load (`loadError`).
     */
    benchLoad?: FloorResult | undefined;
    /** The same with one thread spinning beside it, as a snapshot's scan or sink does. */
    benchLoadBusy?: FloorResult | undefined;
    /**
     * The handler-thread floor (`poll`) and the in-thread floor (`sigbus`) serving the bench's writers,
     * one of each per rep, interleaved with the (b) runs: target (b) compares medians (absent in older
     * results). `benchLoad` is the median run of `benchLoadRuns`.
     */
    benchLoadRuns?: FloorResult[] | undefined;
    sigbusLoadRuns?: FloorResult[] | undefined;
    /**
     * The in-thread floor under the same writers with one thread spinning beside them, one per rep: a
     * release that makes a page writable flushes the TLB of every CPU running the process, so once
     * another thread of it runs (as bgsnap's save loop does) each fault waits for that interrupt.
     */
    sigbusBusyRuns?: FloorResult[] | undefined;
    /** The in-thread floor, one writer back to back (the classic load), beside `sleep`. */
    sigbus?: FloorResult | undefined;
    sigbusError?: string | undefined;
    loadError?: string | undefined;
    source?: string | undefined;
    error?: string | undefined;
  };
  /**
   * The machine with every CPU busy and no userfaultfd (`bench/cpu-pauses.c`): how long it stops a
   * thread that never blocks, and how often it stops all of them at once. No writer of any latency
   * figure can do better. Absent in older results or when skipped.
   */
  machine?: { result?: CpuPausesResult | undefined; error?: string | undefined } | undefined;
  /** Every (b) run; repeated runs of a case share mode, policy and quiesce (see `groupCaseRuns`). */
  latencyRuns: BenchRow[];
  /** Every (c) run, likewise. */
  stallRuns: BenchRow[];
  /**
   * The in-thread (c) case without stalls, interleaved with its stalled runs: the baseline of the
   * in-thread (c) verdict (absent in older results).
   */
  stallReferenceRuns?: BenchRow[] | undefined;
  /** Why in-thread mode was not measured, when it was not (absent in older results). */
  inThreadSkipped?: string | undefined;
  /** The in-thread runs' copy buffer, pages (absent in older results). */
  copyBufferPages?: number | undefined;
  /** Target (d) measured on this machine, when a redis-server was given (absent in older results). */
  redis?: { result?: RedisBgsaveResult | undefined; error?: string | undefined } | undefined;
  verdicts: Verdict[];
  /** Plot data of the median run of each (b) and (c) case. */
  results: BenchResult[];
}

/** Anchors §3: Redis BGSAVE measured on these machines (quoted, not re-run). */
export const REDIS_REFERENCE =
  'Redis BGSAVE (fork + copy-on-write), 3.1 GiB dataset, measured on these machines (anchors.md §3): fork froze the server 77 ms; ' +
  'BGSAVE took 14 s; 830 MiB copied on write; SET p99 0.135 → 0.279 ms; throughput 56k → 24k req/s during the save.';

function policy(name: string): BenchPolicy {
  return BENCH_POLICIES.find((p) => p.name === name)!;
}

/**
 * Measures the app-level targets side by side in one run: (a) snapshot vs memcpy of the same region,
 * (b) writer-observed fault latency vs the C floor program, and writer stalls, (c) p99 under a stalling
 * sink per policy, (d) Redis BGSAVE of the same size when a redis-server is given, else the quoted reference.
 */
export async function runTargets(o: TargetOptions): Promise<TargetsResult> {
  const uffd = await import('@bgsnap/fault-source-uffd');
  const base: Omit<NativeCase, 'mode' | 'policy' | 'profile'> = {
    sizeBytes: o.sizeBytes,
    writers: o.writers,
    ratePerWriter: o.ratePerWriter,
    seed: o.seed,
    sink: 'file',
    outDir: o.outDir,
    quiesce: true,
    sampleNs: o.sampleNs,
    batchPages: o.batchPages,
  };
  const none: StallProfile = { kind: 'none' };

  // (a) One region, filled like every run, then memcpy passes and snapshots of that region (no writers,
  // discarding sink), interleaved so that both see the same state of a shared host. The first snapshot
  // is the region's first write-protection, which on these VMs makes the next read of freshly
  // host-backed memory several times slower once (BENCHMARKS.md); it is reported on its own, and the
  // verdict compares the repeated snapshots, as a long-lived application takes them, with warm memcpy
  // passes (the first memcpy pass over fresh memory is a warm-up, reported but not compared).
  // A pass takes a fraction of a second, and one disturbed pass out of three moved the median (memcpy
  // 8.29, 5.40, 7.77 GiB/s at 12:17 where 12-15 GiB/s is usual): at least five.
  const passes = Math.max(o.reps, 5);
  o.log(
    `targets (a): ${passes} memcpy passes and ${passes} snapshots of one ${fmtSize(o.sizeBytes)} region, interleaved`,
  );
  const memory = uffd.TrackedMemory.allocate(o.sizeBytes);
  const thp = memory.hugePages;
  const memcpyBytesPerSec: number[] = [];
  let memcpyWarmupBytesPerSec: number;
  const coldRuns: BenchRow[] = [];
  const noWriterRuns: BenchRow[] = [];
  const tuned: BenchRow[] = [];
  try {
    fillMemory(memory, o.seed);
    const memcpyPass = memcpyBaseline(memory);
    memcpyWarmupBytesPerSec = memcpyPass();
    const noWriters = (batchPages: number | undefined, tag: string): Promise<BenchResult> =>
      runNativeCase({
        ...base,
        mode: 'plain',
        policy: policy('unlimited'),
        profile: none,
        writers: 0,
        sink: 'discard',
        quiesce: false,
        batchPages,
        tag,
        memory,
      });
    o.log('targets (a): snapshot, no writers, discard sink: the first of this region (cold)');
    coldRuns.push((await noWriters(o.batchPages, 'a-cold')).row);
    for (let i = 0; i < passes; i++) {
      memcpyBytesPerSec.push(memcpyPass());
      o.log(
        `targets (a): memcpy pass, then snapshot of the same region, configured batch, ${i + 1}/${passes}`,
      );
      noWriterRuns.push((await noWriters(o.batchPages, `a${o.batchPages ?? 'default'}-${i + 1}`)).row);
    }
    // Larger, THP-aligned batches beside it, for comparison: each scan step has a fixed cost.
    for (const batchPages of [512, 4096].filter((b) => b !== o.batchPages)) {
      for (let i = 0; i < o.reps; i++) {
        o.log(`targets (a): snapshot of the same region, batch ${batchPages} pages, pass ${i + 1}/${o.reps}`);
        tuned.push((await noWriters(batchPages, `a${batchPages}-${i + 1}`)).row);
      }
    }
  } finally {
    memory.release();
  }
  o.log(`targets (a): a plain copy right after the first write-protection of fresh memory, ${o.reps} passes`);
  const protectedMemcpyBytesPerSec = await protectedMemcpyThroughput(uffd, o.sizeBytes, o.reps);

  // (b) what the machine itself does to threads, then the floor program, then 2 writers + file sink.
  let machine: TargetsResult['machine'];
  if ((o.probeSeconds ?? 0) > 0) {
    o.log(`targets (b): machine probe, every CPU busy for ${o.probeSeconds} s`);
    try {
      machine = { result: await runCpuPauses(o.outDir, o.probeSeconds!) };
    } catch (error) {
      machine = { error: (error as Error).message };
    }
  }
  const floor: TargetsResult['floor'] = {};
  const modes = (o.modes ?? NATIVE_MODES).filter((m) => m !== 'in-thread' || !o.inThreadSkipped);
  const inThread = modes.includes('in-thread');
  const source = findFloorSource(o.floorSource);
  const load: FloorLoad = { writers: o.writers, rate: o.ratePerWriter, busy: 0 };
  const mib = Math.max(1, Math.round(o.sizeBytes / 2 ** 20));
  const pages = thp ? 'THP' : '4 KiB pages';
  let bin: string | undefined;
  if (!source) {
    floor.error = 'uffd-floor.c not found (looked in the native package bench/ and ../shared/tools/)';
  } else {
    floor.source = source;
    try {
      bin = await compileFloor(source, o.outDir);
      o.log(`targets (b): floor program, handler sleeping in poll(2), ${pages}, ${o.floorFaults} faults`);
      floor.sleep = await runFloor(bin, mib, o.floorFaults, 'sleep', thp);
      o.log(`targets (b): floor program, handler spinning, ${pages}, ${o.floorFaults} faults`);
      floor.spin = await runFloor(bin, mib, o.floorFaults, 'spin', thp);
      if (thp) {
        o.log(
          `targets (b): floor program, handler sleeping in poll(2), 4 KiB pages, ${o.floorFaults} faults`,
        );
        floor.sleep4k = await runFloor(bin, mib, o.floorFaults, 'sleep', false);
      }
      try {
        o.log(`targets (b): floor program, in-thread (SIGBUS handler), ${pages}, ${o.floorFaults} faults`);
        floor.sigbus = await runFloor(bin, mib, o.floorFaults, 'sigbus', thp);
      } catch (error) {
        floor.sigbusError = (error as Error).message;
      }
      try {
        const busy = { ...load, busy: 1 };
        o.log(`targets (b): floor program, handler sleeping in poll(2), ${pages}, ${loadText(busy)}`);
        floor.benchLoadBusy = await runFloor(bin, mib, o.floorFaults, 'sleep', thp, busy);
      } catch (error) {
        floor.loadError = (error as Error).message;
      }
    } catch (error) {
      floor.error = (error as Error).message;
      bin = undefined;
    }
  }
  const results: BenchResult[] = [];
  /** One run of a (b) or (c) case into `into`: verdicts take each case's median run. */
  const runCase = async (
    label: string,
    c: Pick<NativeCase, 'mode' | 'policy' | 'profile'> & Partial<NativeCase>,
    tag: string,
    into: BenchRow[],
  ): Promise<void> => {
    o.log(label);
    const copyBufferPages = c.mode === 'in-thread' ? o.copyBufferPages : undefined;
    const r = await runNativeCase({ ...base, copyBufferPages, ...c, tag });
    into.push(r.row);
    results.push(r);
  };
  /** One floor run under the bench's load into `into`; a failure is kept, once, in `floor.loadError`. */
  const floorRun = async (
    variant: 'sleep' | 'sigbus',
    into: FloorResult[],
    k: number,
    withLoad: FloorLoad = load,
  ): Promise<void> => {
    if (!bin || (variant === 'sleep' && floor.loadError) || (variant === 'sigbus' && floor.sigbusError))
      return;
    const what = variant === 'sleep' ? 'handler sleeping in poll(2)' : 'in-thread (SIGBUS handler)';
    o.log(`targets (b): floor program, ${what}, ${pages}, ${loadText(withLoad)}, run ${k}/${o.reps}`);
    try {
      into.push(await runFloor(bin, mib, o.floorFaults, variant, thp, withLoad));
    } catch (error) {
      if (variant === 'sleep') floor.loadError = (error as Error).message;
      else floor.sigbusError = (error as Error).message;
    }
  };
  // Every rep runs both floors under the bench's writers and then every case once, so that floors and
  // bgsnap runs see the same state of a shared host (its load moves tails by 2× within minutes).
  const latencyRuns: BenchRow[] = [];
  const benchLoadRuns: FloorResult[] = [];
  const sigbusLoadRuns: FloorResult[] = [];
  const sigbusBusyRuns: FloorResult[] = [];
  const cases: [string, boolean][] = [
    ['unlimited', true],
    ['qemu', true],
    ['latency', true],
    ['latency', false],
  ];
  for (let k = 1; k <= o.reps; k++) {
    await floorRun('sleep', benchLoadRuns, k);
    if (inThread) await floorRun('sigbus', sigbusLoadRuns, k);
    if (inThread) await floorRun('sigbus', sigbusBusyRuns, k, { ...load, busy: 1 });
    for (const mode of modes) {
      for (const [name, quiesce] of cases) {
        await runCase(
          `targets (b): ${mode}, ${name}${quiesce ? '' : ', no quiesce'}, ${o.writers} writers, file sink, run ${k}/${o.reps}`,
          { mode, policy: policy(name), profile: none, quiesce },
          `b${k}`,
          latencyRuns,
        );
      }
    }
  }
  if (benchLoadRuns.length > 0) {
    floor.benchLoadRuns = benchLoadRuns;
    floor.benchLoad = [...benchLoadRuns].sort((x, y) => x.p99Ns - y.p99Ns)[(benchLoadRuns.length - 1) >> 1];
  }
  if (sigbusLoadRuns.length > 0) floor.sigbusLoadRuns = sigbusLoadRuns;
  if (sigbusBusyRuns.length > 0) floor.sigbusBusyRuns = sigbusBusyRuns;

  // (c) a sink that stalls 50 ms every 250 ms; in-thread also without stalls, interleaved, as its baseline.
  const stallRuns: BenchRow[] = [];
  const stallReferenceRuns: BenchRow[] = [];
  for (let k = 1; k <= o.reps; k++) {
    if (inThread) {
      await runCase(
        `targets (c): in-thread, ${IN_THREAD_VERDICT_POLICY}, no stalls (the baseline), run ${k}/${o.reps}`,
        { mode: 'in-thread', policy: policy(IN_THREAD_VERDICT_POLICY), profile: none },
        `cref${k}`,
        stallReferenceRuns,
      );
    }
    for (const mode of modes) {
      for (const name of ['unlimited', 'qemu', 'qemu-true', 'latency', 'latency+bucket']) {
        await runCase(
          `targets (c): ${mode}, ${name}, stalling sink, run ${k}/${o.reps}`,
          { mode, policy: policy(name), profile: o.stallProfile },
          `c${k}`,
          stallRuns,
        );
      }
    }
  }

  // (d) Redis BGSAVE on the same machine, same size, writes at the writers' combined rate.
  let redis: TargetsResult['redis'];
  if (o.redisServer) {
    try {
      const result = await runRedisBgsave({
        server: o.redisServer,
        sizeBytes: o.sizeBytes,
        setsPerSec: Math.max(1, o.writers * o.ratePerWriter),
        log: o.log,
      });
      redis = { result };
    } catch (error) {
      redis = { error: (error as Error).message };
    }
  }

  const measured = {
    memcpyBytesPerSec,
    memcpyWarmupBytesPerSec,
    protectedMemcpyBytesPerSec,
    coldRuns,
    noWriterRuns,
    tunedRuns: tuned,
    floor,
    machine,
    latencyRuns,
    stallRuns,
    stallReferenceRuns,
    inThreadSkipped: o.inThreadSkipped ?? (inThread ? undefined : 'in-thread is not among --modes'),
    copyBufferPages: o.copyBufferPages,
    redis,
  };
  // Plot each case's median run only: three CDFs per case would bury the comparison between cases.
  const medians = new Set(
    [...groupCaseRuns(latencyRuns), ...groupCaseRuns(stallRuns)].map((c) => c.median.id),
  );
  return { ...measured, verdicts: judge(measured), results: results.filter((r) => medians.has(r.row.id)) };
}

/** Target (a): snapshot throughput (no writers) as a share of memcpy of the same region, at least. */
export const SNAPSHOT_GOAL = 0.7;

/** The runs of one case: `mode/policy`, writers parked around protect. */
const caseRuns = (rows: readonly BenchRow[] | undefined, mode: NativeMode, name: string): BenchRow[] =>
  (rows ?? []).filter((r) => r.mode === mode && r.policy === name && r.quiescePauseNs !== undefined);

/** Why a floor that target (b) needs under the bench's writers was not measured, if it was not. */
function floorFailure(f: TargetsResult['floor']): string | undefined {
  if (f.error) return `the floor program: ${f.error}`;
  if (!f.benchLoadRuns?.length && f.loadError) return `the handler-thread floor: ${f.loadError}`;
  if (!f.sigbusLoadRuns?.length && f.sigbusError) return `the in-thread floor: ${f.sigbusError}`;
  return undefined;
}

/** Every verdict of a targets run, from what it measured (exported for `--from` and the tests). */
export function judge(t: Omit<TargetsResult, 'verdicts' | 'results'>): Verdict[] {
  const {
    memcpyBytesPerSec: memcpy,
    protectedMemcpyBytesPerSec: protectedMemcpy,
    noWriterRuns: noWriters,
  } = t;
  const { tunedRuns: tuned, floor, machine, latencyRuns, stallRuns, redis } = t;
  const verdicts: Verdict[] = [];
  const snap = median(noWriters.map((r) => r.throughputBytesPerSec));
  const base = median(memcpy);
  const batchOf = (r: BenchRow): string => String(r.extra?.batchPages ?? 'default');
  const others = [...new Set(tuned.map(batchOf))].map((b) => {
    const m = median(tuned.filter((r) => batchOf(r) === b).map((r) => r.throughputBytesPerSec));
    return `batch ${b} pages: ${fmtRate(m)} = ${(m / base).toFixed(2)}×`;
  });
  const cold = t.coldRuns?.[0]?.throughputBytesPerSec;
  verdicts.push({
    target: '(a) snapshot vs memcpy, no writers, discard sink',
    goal: `≥ ${SNAPSHOT_GOAL} × memcpy`,
    measured:
      `${batchOf(noWriters[0]!) === 'default' ? 'default batch' : `batch ${batchOf(noWriters[0]!)} pages`}: ` +
      `${fmtRate(snap)} vs memcpy ${fmtRate(base)} = ${(snap / base).toFixed(2)}× (medians` +
      `${t.coldRuns ? ', repeated snapshots of one region' : ''})` +
      (others.length ? `; for comparison, ${others.join('; ')}` : '') +
      (cold !== undefined
        ? `; the region's first snapshot (its first write-protection): ${fmtRate(cold)} = ${(cold / base).toFixed(2)}×`
        : '') +
      (protectedMemcpy?.length
        ? `; memcpy right after the first write-protection of fresh memory: ${fmtRate(median(protectedMemcpy))} = ` +
          `${(median(protectedMemcpy) / base).toFixed(2)}× memcpy`
        : ''),
    pass: snap / base >= SNAPSHOT_GOAL,
  });
  verdicts.push(
    judgeInThreadFloor({
      runs: caseRuns(latencyRuns, 'in-thread', IN_THREAD_VERDICT_POLICY),
      handlerThreadFloors: floor.benchLoadRuns ?? [],
      inThreadFloors: floor.sigbusLoadRuns ?? [],
      inThreadBusyFloors: floor.sigbusBusyRuns ?? [],
      skipped: t.inThreadSkipped ?? floorFailure(floor),
    }),
  );
  const stallOk = latencyRuns.filter((r) => r.longestWriterStallNs <= 5e6);
  const longest = Math.max(...latencyRuns.map((r) => r.longestWriterStallNs));
  const pauses = latencyRuns.flatMap((r) => (r.quiescePauseNs === undefined ? [] : [r.quiescePauseNs]));
  verdicts.push({
    target: '(b) no writer stall > 5 ms, start included',
    goal: 'longest store ≤ 5 ms in every run',
    measured:
      `${stallOk.length}/${latencyRuns.length} runs ≤ 5 ms; longest store ${fmtNs(longest)}; ` +
      `quiesce pause (writers parked around protect, counted separately) ${pauses.length ? `${fmtNs(Math.min(...pauses))}–${fmtNs(Math.max(...pauses))}` : 'n/a'}` +
      (machine?.result ? `; the machine itself: ${cpuPausesText(machine.result)}` : ''),
    pass: latencyRuns.length > 0 && stallOk.length === latencyRuns.length,
  });
  verdicts.push(
    judgeInThreadStall({
      stalled: caseRuns(stallRuns, 'in-thread', IN_THREAD_VERDICT_POLICY),
      unstalled: caseRuns(t.stallReferenceRuns, 'in-thread', IN_THREAD_VERDICT_POLICY),
      copyBufferPages: t.copyBufferPages ?? 1024,
      skipped: t.inThreadSkipped,
    }),
  );
  verdicts.push({
    target: '(d) Redis BGSAVE reference',
    goal: 'for comparison, same machine, same size',
    measured: redis?.result
      ? redisText(redis.result)
      : `${redis?.error ? `not measured (${redis.error}); ` : 'not measured (no redis-server); '}quoted: ${REDIS_REFERENCE}`,
    pass: undefined,
  });
  return verdicts;
}

/** One no-writer snapshot: throughput, duration and the protect call. */
function runText(r: BenchRow): string {
  return `${fmtRate(r.throughputBytesPerSec)} (${fmtNs(r.durationNs)}, protect ${fmtNs(r.protectNs)})`;
}

/** One line on a measured BGSAVE, in the terms bgsnap's own targets use. */
export function redisText(r: RedisBgsaveResult): string {
  return (
    `measured here: redis ${r.version}, ${fmtSize(r.datasetBytes)} of values (used_memory ${fmtSize(r.usedMemoryBytes)}): ` +
    `fork froze the server ${fmtNs(r.forkNs)}; BGSAVE took ${fmtNs(r.bgsaveNs)}; ${fmtSize(r.cowBytes)} copied on write; ` +
    `SET p99 ${fmtNs(r.setBefore.p99)} → ${fmtNs(r.setDuring.p99)}, max during ${fmtNs(r.setDuring.max)}; ` +
    `${Math.round(r.setsPerSecBefore)} → ${Math.round(r.setsPerSecDuring)} SET/s (one client, one command in flight)`
  );
}

/** The targets as markdown: verdicts, then the runs behind each, with ratios. */
export function targetsMarkdown(t: TargetsResult): string {
  const parts: string[] = [];
  parts.push(
    markdownTable(
      ['target', 'goal', 'measured', 'result'],
      t.verdicts.map((v) => [v.target, v.goal, v.measured, passText(v.pass)]),
    ),
  );
  const memcpyMed = median(t.memcpyBytesPerSec);
  const prot = t.protectedMemcpyBytesPerSec;
  parts.push(
    `\n**(a)** memcpy passes: ${t.memcpyBytesPerSec.map(fmtRate).join(', ')} (median ${fmtRate(memcpyMed)}` +
      `${t.memcpyWarmupBytesPerSec === undefined ? '' : `; the warm-up pass before them ${fmtRate(t.memcpyWarmupBytesPerSec)}`}). ` +
      (prot?.length
        ? `The same copy right after the first write-protection of fresh memory (fresh memory per pass): ${prot.map(fmtRate).join(', ')} (median ${fmtRate(median(prot))}). `
        : '') +
      (t.coldRuns?.length
        ? `The region's first snapshot (its first write-protection): ${t.coldRuns.map(runText).join(', ')}. `
        : '') +
      `Snapshot passes (plain, unlimited, discard sink, no writers; batch ${t.noWriterRuns[0]?.extra?.batchPages ?? 'default'}${t.coldRuns ? '; the same region again' : ''}): ${t.noWriterRuns
        .map(runText)
        .join(', ')}. ` +
      `With larger batches: ${t.tunedRuns.map((r) => `${r.extra?.batchPages} pages ${fmtRate(r.throughputBytesPerSec)}`).join(', ') || 'not run'}.\n`,
  );
  const fl = (f: FloorResult | undefined): string =>
    f
      ? `p50 ${fmtNs(f.p50Ns)}, p99 ${fmtNs(f.p99Ns)}, p99.9 ${fmtNs(f.p999Ns)}, max ${fmtNs(f.maxNs)} (${f.faults} faults; one protect call ${fmtNs(f.protectNs)})`
      : 'not run';
  parts.push(
    `\n**(b)** floor program ${t.floor.source ? `\`${t.floor.source}\`` : ''}${t.floor.error ? ` — ${t.floor.error}` : ''}\n\n` +
      `- handler sleeping in poll(2)${t.floor.sleep?.thp ? ', THP' : ''}: ${fl(t.floor.sleep)}\n` +
      `- handler spinning${t.floor.spin?.thp ? ', THP' : ''}: ${fl(t.floor.spin)}\n` +
      `${t.floor.sleep4k ? `- handler sleeping in poll(2), 4 KiB pages: ${fl(t.floor.sleep4k)}\n` : ''}` +
      `${t.floor.sigbus ? `- in-thread (each writer's SIGBUS handler copies and releases its page)${t.floor.sigbus.thp ? ', THP' : ''}: ${fl(t.floor.sigbus)}\n` : ''}` +
      (t.floor.benchLoadRuns ?? (t.floor.benchLoad ? [t.floor.benchLoad] : []))
        .map((f) => `- handler thread (poll), ${f.thp ? 'THP, ' : ''}${loadText(f.load)}: ${fl(f)}\n`)
        .join('') +
      (t.floor.sigbusLoadRuns ?? [])
        .map((f) => `- in-thread (sigbus), ${f.thp ? 'THP, ' : ''}${loadText(f.load)}: ${fl(f)}\n`)
        .join('') +
      (t.floor.sigbusBusyRuns ?? [])
        .map((f) => `- in-thread (sigbus), ${f.thp ? 'THP, ' : ''}${loadText(f.load)}: ${fl(f)}\n`)
        .join('') +
      (t.floor.benchLoadBusy
        ? `- handler thread (poll), ${t.floor.benchLoadBusy.thp ? 'THP, ' : ''}${loadText(t.floor.benchLoadBusy.load)}: ${fl(t.floor.benchLoadBusy)}\n`
        : '') +
      `${t.floor.loadError ? `- the bench's writer load: not measured — ${t.floor.loadError}\n` : ''}` +
      `${t.floor.sigbusError ? `- the in-thread floor: not measured — ${t.floor.sigbusError}\n` : ''}` +
      (t.machine?.result
        ? `- the machine, for every measurement above and below: ${cpuPausesText(t.machine.result)}\n`
        : t.machine?.error
          ? `- the machine probe: not measured — ${t.machine.error}\n`
          : '') +
      '\n' +
      `Each row is a case's median run by writer p99; the last column lists every run's p99, and "no stall > 5 ms" holds only if it held in every run.\n\n`,
  );
  const sleepP99 = t.floor.sleep?.p99Ns;
  const spinP99 = t.floor.spin?.p99Ns;
  const loadP99 = t.floor.benchLoadRuns?.length
    ? median(t.floor.benchLoadRuns.map((f) => f.p99Ns))
    : t.floor.benchLoad?.p99Ns;
  const sigbusLoadP99 = t.floor.sigbusLoadRuns?.length
    ? median(t.floor.sigbusLoadRuns.map((f) => f.p99Ns))
    : undefined;
  const ratio = ratioText;
  parts.push(
    markdownTable(
      [
        'mode',
        'policy',
        'quiesce pause',
        'faults (writers / loop)',
        'writer p50',
        'writer p99',
        'p99 / floor (sleep)',
        'p99 / floor (spin)',
        'p99 / floor (poll, same writers)',
        'p99 / floor (sigbus, same writers)',
        'p99.9',
        'longest store',
        'stores > 5 ms',
        'true p99',
        'throughput',
        'p99 ≤ 1.5× floor',
        'no stall > 5 ms',
        'writer p99, each run',
      ],
      groupCaseRuns(t.latencyRuns).map(({ median: r, runs, p99s }) => [
        r.mode,
        r.policy,
        r.quiescePauseNs === undefined ? 'none (chunked protect, no pause)' : fmtNs(r.quiescePauseNs),
        `${r.extra?.writerFaults ?? '–'} / ${r.pages.faulted}`,
        fmtNs(r.writer.p50),
        fmtNs(r.writer.p99),
        ratio(r.writer.p99, sleepP99),
        ratio(r.writer.p99, spinP99),
        ratio(r.writer.p99, loadP99),
        ratio(r.writer.p99, sigbusLoadP99),
        fmtNs(r.writer.p999),
        fmtNs(r.longestWriterStallNs),
        String(r.writesOver5ms),
        fmtNs(r.true?.p99),
        fmtRate(r.throughputBytesPerSec),
        sleepP99 ? passText(r.writer.p99 <= 1.5 * sleepP99) : '–',
        passText(runs.every((x) => x.longestWriterStallNs <= 5e6)),
        p99s.map(fmtNs).join(', '),
      ]),
    ),
  );
  parts.push(
    `\n**(c)** sink stalling by the schedule, file sink underneath; each row is a case's median run by writer p99:\n\n`,
  );
  parts.push(
    markdownTable(
      [
        'mode',
        'policy',
        'writer p50',
        'writer p99',
        'p99.9',
        'max',
        'QEMU measure p99',
        'upper-bound p99',
        'true p99',
        'throughput',
        'throttled',
        'sink stalled',
        'slot waits (copy buffer)',
        'p99 ≤ 1 ms',
        'writer p99, each run',
      ],
      groupCaseRuns(t.stallRuns).map(({ median: r, p99s }) => [
        r.mode,
        r.policy,
        fmtNs(r.writer.p50),
        fmtNs(r.writer.p99),
        fmtNs(r.writer.p999),
        fmtNs(r.writer.max),
        fmtNs(r.sinceFetch.p99),
        fmtNs(r.upperBound.p99),
        fmtNs(r.true?.p99),
        fmtRate(r.throughputBytesPerSec),
        fmtNs(r.throttledNs),
        fmtNs(r.sinkStalledNs),
        r.mode === 'in-thread' ? `${slotWaits(r)} (${r.extra?.copyBufferPages ?? 'default'} pages)` : '–',
        r.writer.count ? passText(r.writer.p99 <= 1e6) : '–',
        p99s.map(fmtNs).join(', '),
      ]),
    ),
  );
  const refs = t.stallReferenceRuns ?? [];
  if (refs.length > 0) {
    parts.push(
      `\nThe in-thread baseline of (c), the same case without stalls, interleaved with the stalled runs: ` +
        refs
          .map(
            (r) =>
              `${r.policy} p99 ${fmtNs(r.writer.p99)}, p99.9 ${fmtNs(r.writer.p999)}, slot waits ${slotWaits(r)}`,
          )
          .join('; ') +
        '.\n',
    );
  }
  parts.push(
    `\n**(d)** ${t.redis?.result ? redisText(t.redis.result) : t.redis?.error ? `not measured: ${t.redis.error}` : 'not measured'}. ` +
      `Reference (anchors.md §3): ${REDIS_REFERENCE}\n`,
  );
  return parts.join('');
}
