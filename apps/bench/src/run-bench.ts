import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fmtSize } from './format.js';
import type { NativeMode } from './modes.js';
import { cdfSpec, throughputSpec, writePlot } from './plots.js';
import type { BenchPolicy } from './policies.js';
import { type RealClientOptions, type RealClientResult, runRealClient } from './real-client.js';
import { judgeRealClient, realClientMarkdown } from './real-client-verdict.js';
import type { BenchResult, BenchRow, BenchSeries } from './row.js';
import { runNativeCase } from './run-native.js';
import { runSimCase } from './run-sim.js';
import { downsampleThroughput } from './series.js';
import { profileLabel, type StallProfile } from './stall-profile.js';
import { resultsMarkdown } from './table.js';
import { runTargets, type TargetsResult, targetsMarkdown } from './targets.js';
import type { Verdict } from './verdict.js';

/** Options of {@link runBench}; `bgsnap-bench` fills them from its flags. */
export interface BenchOptions {
  /** Output folder (created): results.json, results.md, targets.md, plots/. */
  outDir: string;
  /** Run the policy × profile matrix on these backends. Empty: no matrix. */
  backends: readonly ('sim' | 'native')[];
  /** Modes of the native matrix. */
  nativeModes: readonly NativeMode[];
  /** Why in-thread mode is not measured here (the kernel lacks it), when it was asked for; the targets state it. */
  inThreadSkipped?: string | undefined;
  /** In-thread runs under the stalling sink of target (c): copy buffer pages (see `copyBufferPagesFor`). */
  copyBufferPages?: number | undefined;
  /** Modes of the simulator matrix. */
  simModes: readonly ('plain' | 'copy-on-fault')[];
  policies: readonly BenchPolicy[];
  profiles: readonly StallProfile[];
  simSizeBytes: number;
  nativeSizeBytes: number;
  writers: number;
  /** Stores per second per writer (native threads and simulated CPUs). */
  ratePerWriter: number;
  seed: number;
  nativeSink: 'file' | 'discard';
  /** Park native writers around write-protection (strict point in time). */
  quiesce: boolean;
  /** Also measure the app-level targets (native only). */
  targets: boolean;
  targetReps: number;
  floorFaults: number;
  floorSource?: string | undefined;
  /** Seconds of the machine probe beside target (b); 0 skips it. */
  probeSeconds: number;
  /** Target (d): the redis-server to measure BGSAVE with; undefined quotes the reference instead. */
  redisServer?: string | undefined;
  /** The stall profile of target (c). */
  targetStall: StallProfile;
  plots: boolean;
  /** Pages per scan step for every run; default: the save loop's own default. */
  batchPages?: number | undefined;
  /** The real-client comparison (redis-benchmark against Redis and the example kv-server), when given. */
  realClient?: Omit<RealClientOptions, 'log'> | undefined;
  /** Progress lines (stderr in the CLI). */
  log: (line: string) => void;
}

/** The machine a run was measured on. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  kernel: string;
  node: string;
  memory: string;
  loadAvgStart: number[];
  loadAvgEnd?: number[];
  date: string;
}

/** What {@link runBench} measured and wrote. */
export interface BenchOutput {
  machine: MachineInfo;
  rows: BenchRow[];
  series: BenchSeries[];
  targets?: TargetsResult | undefined;
  /** The real-client comparison, when asked for (absent in older results). */
  realClient?: RealClientResult | undefined;
  /** Why the real-client comparison failed, when it did. */
  realClientError?: string | undefined;
  /** Target (e), from `realClient` (also among the targets' verdicts when both ran). */
  realClientVerdict?: Verdict | undefined;
  files: string[];
}

function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    kernel: release(),
    node: process.version,
    memory: fmtSize(totalmem()),
    loadAvgStart: loadavg().map((l) => Math.round(l * 100) / 100),
    date: new Date().toISOString(),
  };
}

/** Runs the matrix (and optionally the targets), writes tables and plots, and returns everything. */
export async function runBench(o: BenchOptions): Promise<BenchOutput> {
  mkdirSync(o.outDir, { recursive: true });
  const machine = machineInfo();
  const results: BenchResult[] = [];
  const total =
    (o.backends.includes('sim') ? o.simModes.length : 0) * o.policies.length * o.profiles.length +
    (o.backends.includes('native') ? o.nativeModes.length : 0) * o.policies.length * o.profiles.length;
  let done = 0;
  const tick = (what: string): void => o.log(`[${++done}/${total}] ${what}`);

  if (o.backends.includes('sim')) {
    for (const mode of o.simModes) {
      for (const profile of o.profiles) {
        for (const policy of o.policies) {
          tick(`sim ${mode} ${fmtSize(o.simSizeBytes)}, ${profileLabel(profile)}, ${policy.name}`);
          results.push(
            await runSimCase({
              mode,
              policy,
              profile,
              sizeBytes: o.simSizeBytes,
              writers: o.writers,
              ratePerWriter: o.ratePerWriter,
              seed: o.seed,
              sampleNs: 50e6,
              batchPages: o.batchPages,
            }),
          );
        }
      }
    }
  }
  if (o.backends.includes('native')) {
    for (const mode of o.nativeModes) {
      for (const profile of o.profiles) {
        for (const policy of o.policies) {
          tick(`native ${mode} ${fmtSize(o.nativeSizeBytes)}, ${profileLabel(profile)}, ${policy.name}`);
          results.push(
            await runNativeCase({
              mode,
              policy,
              profile,
              sizeBytes: o.nativeSizeBytes,
              writers: o.writers,
              ratePerWriter: o.ratePerWriter,
              seed: o.seed,
              sink: o.nativeSink,
              outDir: o.outDir,
              quiesce: o.quiesce,
              sampleNs: 20e6,
              batchPages: o.batchPages,
              copyBufferPages: mode === 'in-thread' ? o.copyBufferPages : undefined,
            }),
          );
        }
      }
    }
  }

  let targets: TargetsResult | undefined;
  if (o.targets) {
    targets = await runTargets({
      outDir: o.outDir,
      sizeBytes: o.nativeSizeBytes,
      writers: o.writers,
      ratePerWriter: o.ratePerWriter,
      seed: o.seed,
      sampleNs: 20e6,
      reps: o.targetReps,
      floorFaults: o.floorFaults,
      floorSource: o.floorSource,
      probeSeconds: o.probeSeconds,
      redisServer: o.redisServer,
      stallProfile: o.targetStall,
      batchPages: o.batchPages,
      modes: o.nativeModes,
      inThreadSkipped: o.inThreadSkipped,
      copyBufferPages: o.copyBufferPages,
      log: o.log,
    });
  }
  let realClient: RealClientResult | undefined;
  let realClientError: string | undefined;
  let realClientVerdict: Verdict | undefined;
  if (o.realClient) {
    o.log('real client: redis-benchmark against Redis and the example kv-server');
    try {
      realClient = await runRealClient({ ...o.realClient, log: (line) => o.log(`real client: ${line}`) });
    } catch (error) {
      realClientError = (error as Error).message;
      o.log(`real client: failed: ${realClientError}`);
    }
    realClientVerdict = judgeRealClient(realClient, realClientError);
    targets?.verdicts.push(realClientVerdict);
  }
  machine.loadAvgEnd = loadavg().map((l) => Math.round(l * 100) / 100);

  const files: string[] = [];
  const rows = results.map((r) => r.row);
  const series = results.map((r) => r.series);
  if (rows.length > 0) {
    const md = join(o.outDir, 'results.md');
    writeFileSync(md, resultsMarkdown(rows));
    files.push(md);
  }
  if (targets) {
    const md = join(o.outDir, 'targets.md');
    writeFileSync(md, targetsMarkdown(targets));
    files.push(md);
  }
  if (realClient) {
    const md = join(o.outDir, 'real-client.md');
    writeFileSync(md, realClientMarkdown(realClient));
    files.push(md);
  }
  if (o.plots) {
    const dir = join(o.outDir, 'plots');
    mkdirSync(dir, { recursive: true });
    files.push(...(await writePlots(dir, results)));
    if (targets) files.push(...(await writePlots(dir, targets.results, 'targets-')));
  }
  const json = join(o.outDir, 'results.json');
  const output: BenchOutput = {
    machine,
    rows,
    series,
    targets,
    realClient,
    realClientError,
    realClientVerdict,
    files: [...files, json],
  };
  writeFileSync(json, `${JSON.stringify(output, null, 1)}\n`);
  return output;
}

/**
 * Redraws the tables and plots of an earlier run from its `results.json` (no measuring) into `outDir`.
 * @returns The files written.
 */
export async function replotBench(resultsJson: string, outDir: string): Promise<string[]> {
  const data = JSON.parse(readFileSync(resultsJson, 'utf8')) as BenchOutput;
  const pair = (rows: readonly BenchRow[], series: readonly BenchSeries[]): BenchResult[] =>
    rows.map((row) => ({
      row,
      series: series.find((s) => s.id === row.id) ?? { id: row.id, cdf: [], throughput: [] },
    }));
  mkdirSync(join(outDir, 'plots'), { recursive: true });
  const files: string[] = [];
  if (data.rows.length > 0) {
    writeFileSync(join(outDir, 'results.md'), resultsMarkdown(data.rows));
    files.push(join(outDir, 'results.md'));
    files.push(...(await writePlots(join(outDir, 'plots'), pair(data.rows, data.series))));
  }
  if (data.targets) {
    writeFileSync(join(outDir, 'targets.md'), targetsMarkdown(data.targets));
    files.push(join(outDir, 'targets.md'));
    files.push(...(await writePlots(join(outDir, 'plots'), data.targets.results, 'targets-')));
  }
  if (data.realClient) {
    writeFileSync(join(outDir, 'real-client.md'), realClientMarkdown(data.realClient));
    files.push(join(outDir, 'real-client.md'));
  }
  return files;
}

/** Groups results by backend/mode/profile and draws one CDF and one throughput plot per group. */
export async function writePlots(
  dir: string,
  results: readonly BenchResult[],
  prefix = '',
): Promise<string[]> {
  const groups = new Map<string, BenchResult[]>();
  for (const r of results) {
    const quiesce =
      r.row.backend === 'uffd' && r.row.quiescePauseNs === undefined && r.row.writers > 0 ? '-noquiesce' : '';
    const key = `${r.row.backend}-${r.row.mode}-${r.row.profileKey}${quiesce}`;
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  const files: string[] = [];
  for (const [key, list] of groups) {
    const first = list[0]!.row;
    const where =
      first.backend === 'sim'
        ? `simulator (virtual time), ${fmtSize(first.sizeBytes)}, ${first.writers} virtual CPUs`
        : `native userfaultfd, ${fmtSize(first.sizeBytes)}, ${first.writers} writer threads, ${first.sink} sink`;
    const subtitle = `${where}, ${first.mode}, sink: ${first.profile}`;
    const cdfLines = list
      .filter((r) => r.series.cdf.length > 0)
      .map((r) => ({ label: r.row.policy, points: r.series.cdf }));
    if (cdfLines.length > 0) {
      files.push(
        ...(await writePlot(
          dir,
          `${prefix}cdf-${key}`,
          cdfSpec('Write-fault latency CDF per policy', cdfLines, subtitle),
        )),
      );
    }
    const tLines = list.map((r) => ({
      label: r.row.policy,
      samples: downsampleThroughput(r.series.throughput, 100),
    }));
    files.push(
      ...(await writePlot(
        dir,
        `${prefix}throughput-${key}`,
        throughputSpec('Save throughput over time per policy', tLines, subtitle),
      )),
    );
  }
  return files;
}
