import { compareSnapshot } from '@bgsnap/stream-writer';
import type { Command } from 'commander';
import { resolveLimiter } from '../limiter-spec.js';
import { formatDuration, formatReport } from '../report/format-report.js';
import type { SnapshotMode, SnapshotReport } from '../report/report.js';
import { terminalText } from '../report/terminal-text.js';
import { snapshot } from '../snapshot.js';
import { allocateReference, copyMemory, fillMemory } from '../workload/fill.js';
import { createFaultedPages } from '../workload/writer-faults.js';
import { WriterPool, type WriterPoolResult } from '../workload/writer-pool.js';
import { WRITE_PATTERNS, type WritePattern } from '../workload/writer-protocol.js';
import { testPause } from './interrupt.js';
import { commitVerified, stageWithInterrupt } from './output-target.js';
import { chooseRunMode, probeInThread } from './run-mode.js';
import {
  createProgressDisplay,
  EXIT,
  parseChoice,
  parseInteger,
  parsePerSecond,
  parseSize,
} from './shared.js';
import { runSimCommand, type SimCommandOptions, toSimMode } from './sim.js';
import {
  addSnapshotOptions,
  parseSnapshotOptions,
  type RawSnapshotOptions,
  type SnapshotCliOptions,
} from './snapshot-options.js';

/** `--help` of `run --mode`: when writers wait in each mode, and in-thread's hazard. */
export const RUN_MODE_HELP =
  'in-thread | copy-on-fault | plain. Default: in-thread where the kernel has UFFD_FEATURE_SIGBUS, else copy-on-fault. ' +
  'plain (QEMU): a writer waits for the save loop to save its page, so also for the sink; ' +
  'copy-on-fault: a fault thread copies the page, the writer waits for it to be scheduled (and for the sink when the 4 MiB copy buffer is full); ' +
  'in-thread: the writer copies its page itself in a SIGBUS handler (one 4 KiB copy, one system call; the sink only when the buffer is full), ' +
  'but while the snapshot runs kernel writes into tracked memory (fs.readSync, socket reads) fail with EFAULT: use copy-on-fault for such programs';

/** Largest `--size` of `bgsnap run`: the reference copy must fit one Uint8Array. */
const MAX_RUN_BYTES = 4 * 2 ** 30;

/** Raw (string) options of `bgsnap run`. */
export interface RawRunOptions extends RawSnapshotOptions {
  size: string;
  writers: string;
  rate: string;
  pattern: string;
  seed: string;
  keep?: boolean;
  backend?: string;
}

/** Options of `bgsnap run`, validated. */
export interface RunCommandOptions extends SnapshotCliOptions {
  size: number;
  writers: number;
  rate: number;
  pattern: WritePattern;
  seed: number;
  keep: boolean;
  /** `auto` (native, falling back to the simulator), `uffd` (native or fail) or `sim`. */
  backend: 'auto' | 'uffd' | 'sim';
}

/** Validates every option before anything is allocated or written. */
export function parseRunOptions(raw: RawRunOptions): RunCommandOptions {
  return {
    ...parseSnapshotOptions(raw),
    size: parseSize('--size', raw.size, 4096, MAX_RUN_BYTES, 4096),
    writers: parseInteger('--writers', raw.writers, 0, 64),
    rate: parsePerSecond('--rate', raw.rate, 1e8),
    pattern: parseChoice('--pattern', raw.pattern, WRITE_PATTERNS),
    seed: parseInteger('--seed', raw.seed, 0, 2 ** 31 - 1),
    keep: raw.keep === true,
    backend: parseChoice('--backend', raw.backend ?? 'auto', ['auto', 'uffd', 'sim'] as const),
  };
}

/** Workload figures `bgsnap run` adds to the report. */
export interface RunWorkload {
  writers: number;
  ratePerWriter: number;
  pattern: WritePattern;
  writes: number;
  /** Stores that took a write fault (their latencies are `latency.writerFaults`). */
  faultingStores: number;
  /** First stores to a page that no fault event named (the scan had saved and released it): not faults. */
  firstStoresWithoutFault: number;
  /** How long the writers were parked around write-protection (includes the reference copy). */
  writersPausedNs: number;
  referenceCopyNs: number;
}

/** The uffd package, loaded. */
type UffdModule = typeof import('@bgsnap/fault-source-uffd');

/** A `bgsnap run` report: the snapshot's, plus the workload's figures and the verification. */
export type RunReport = SnapshotReport & { workload?: RunWorkload };

/**
 * Loads the native backend, or says (on stderr) why the simulator runs instead: returns the module, or
 * the exit code of the simulator run that replaced it.
 */
export async function loadNativeOrSimulate(
  options: RunCommandOptions,
  simulate: (sim: SimCommandOptions) => Promise<number> = runSimCommand,
): Promise<UffdModule | { simulated: number }> {
  const uffd = await import('@bgsnap/fault-source-uffd').catch((e: unknown) => e as Error);
  const support =
    options.backend === 'sim'
      ? { available: false as const, error: new Error('--backend sim') }
      : uffd instanceof Error
        ? { available: false as const, error: uffd }
        : uffd.probeUffd();
  if (support.available && !(uffd instanceof Error)) return uffd;
  if (options.backend === 'uffd') {
    throw new Error(
      `userfaultfd write-protect is not available here: ${support.available ? 'the addon failed to load' : support.error.message}`,
    );
  }
  // Checked before the note, so a refused mode is one clear line (exit 2).
  const mode = toSimMode(options.mode, 'copy-on-fault');
  process.stderr.write(
    options.backend === 'sim'
      ? 'bgsnap: --backend sim: running the same job on the simulator\n'
      : `bgsnap: userfaultfd write-protect is not available here (${support.available ? 'the addon failed to load' : support.error.message}); falling back to the simulator (bgsnap sim)\n`,
  );
  return {
    simulated: await simulate({
      ...options,
      mode,
      cpus: Math.max(1, options.writers),
      sinkProfile: 'none',
      sinkProfileText: 'none',
    }),
  };
}

/** `bgsnap run`: the demo of the main job on the native backend (falls back to the simulator). */
export async function runRunCommand(options: RunCommandOptions): Promise<number> {
  const uffd = await loadNativeOrSimulate(options);
  if ('simulated' in uffd) return uffd.simulated;
  await resolveLimiter(options.limiter); // bad specs fail before anything is allocated
  const choice = await chooseRunMode(options.mode, () => probeInThread(uffd));
  if (choice.note) process.stderr.write(`bgsnap: ${choice.note}\n`);
  const report = await takeVerifiedRun(options, uffd, choice.mode);
  if (choice.note) report.notes = [...(report.notes ?? []), choice.note];
  const workload = report.workload!;
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ ...report, histograms: undefined }, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatReport(report)}\n`);
    process.stdout.write(
      `  workload      ${options.writers} writer(s), ${options.pattern}, ${options.rate || 'unpaced'} writes/s each; ${workload.writes} writes; ` +
        `paused ${formatDuration(workload.writersPausedNs)} around protect (of which ${formatDuration(workload.referenceCopyNs)} reference copy)\n`,
    );
    if (!report.verification!.ok) process.stdout.write('  verification failed: nothing was kept\n');
    else if (options.out !== undefined || options.keep)
      process.stdout.write(`  snapshot kept at ${terminalText(report.output.replace(/^file:/, ''))}\n`);
  }
  return report.verification!.ok ? EXIT.ok : EXIT.failed;
}

/**
 * One native run: allocate and fill, start the writers, snapshot in `mode` (to `--out` or a staged
 * temporary file), verify against the reference copy, put a verified output in place, and return the
 * report with the workload's figures — among them `latency.writerFaults`, the writers' own timings of
 * the stores that took a write fault. Signals cancel it (see the README's _Signals_).
 */
export async function takeVerifiedRun(
  options: RunCommandOptions,
  uffd: UffdModule,
  mode: SnapshotMode,
): Promise<RunReport> {
  const { interrupt, staged } = stageWithInterrupt(options.out, 'run.bgsnap');
  const progress = createProgressDisplay({ quiet: options.quiet });
  let memory: ReturnType<typeof uffd.TrackedMemory.allocate>;
  try {
    memory = uffd.TrackedMemory.allocate(options.size);
  } catch (error) {
    staged.discard();
    interrupt.dispose();
    throw error;
  }
  let pool: WriterPool | undefined;
  let poolResult: WriterPoolResult | undefined;
  try {
    await testPause('start', interrupt.signal);
    fillMemory(memory, options.seed);
    const referenceBuffer = allocateReference(memory);
    if (options.writers > 0) {
      pool = WriterPool.start({
        handle: memory.handle,
        writers: options.writers,
        rate: options.rate,
        pattern: options.pattern,
        seed: options.seed,
      });
      await new Promise((r) => setTimeout(r, 100)); // let the writers get going
    }
    const faulted = createFaultedPages([memory.pageCount]);
    let reference: Uint8Array | undefined;
    let pausedAt = 0;
    let writersPausedNs = 0;
    let referenceCopyNs = 0;
    const report: RunReport = await snapshot({
      memory,
      to: staged.path,
      limiter: options.limiter,
      mode,
      faultedPages: faulted,
      compression: options.compression,
      batchPages: options.batchPages,
      quietBatchPages: options.quietBatchPages,
      serveFaultsWhileDraining: options.serveFaultsWhileDraining,
      signal: interrupt.signal,
      onProgress: (p) => {
        // Writes after the last page was saved cannot fault: keep them out of the writers' figures.
        if (p.savedPages === p.totalPages) pool?.record(false);
        progress.update(p);
      },
      quiesce: {
        pause: async () => {
          pausedAt = performance.now();
          await pool?.pause();
          const t = performance.now();
          reference = copyMemory(memory, referenceBuffer);
          referenceCopyNs = (performance.now() - t) * 1e6;
        },
        resume: () => {
          pool?.record(true);
          pool?.resume();
          writersPausedNs = (performance.now() - pausedAt) * 1e6;
        },
      },
      writerLatency: async () => {
        await testPause('finish', interrupt.signal);
        pool?.record(false);
        poolResult = await pool?.stop(faulted[0]);
        pool = undefined;
        return poolResult?.latency;
      },
      writerFaultLatency: () => poolResult?.faults?.latency,
    });
    progress.stop();
    report.output = `file:${staged.target}`;
    report.workload = {
      writers: options.writers,
      ratePerWriter: options.rate,
      pattern: options.pattern,
      writes: poolResult?.writes ?? 0,
      faultingStores: poolResult?.faults?.faults ?? 0,
      firstStoresWithoutFault: poolResult?.faults?.others ?? 0,
      writersPausedNs,
      referenceCopyNs,
    };
    await testPause('verify', interrupt.signal);
    const cmp = await compareSnapshot(staged.path, [reference!], { maxMismatches: 10 });
    report.verification = {
      ok: cmp.ok,
      method: 'page by page against a copy taken at snapshot start',
      mismatchedPages: cmp.mismatchCount,
      ...(cmp.error ? { detail: cmp.error.message } : {}),
      ...(cmp.mismatches.length > 0 && !cmp.error
        ? { detail: `first: ${cmp.mismatches.map((m) => `region ${m.region} page ${m.page}`).join(', ')}` }
        : {}),
    };
    await commitVerified(staged, interrupt, {
      verified: report.verification.ok,
      keepTemporary: options.out === undefined && options.keep,
    });
    return report;
  } finally {
    progress.stop();
    if (pool) await pool.kill().catch(() => {});
    memory.release();
    staged.discard();
    interrupt.dispose();
  }
}

/** The workload and backend options `run` and `demo` share. */
export function addWorkloadOptions(cmd: Command): Command {
  return cmd
    .option('--size <size>', 'tracked memory size (4KiB..4GiB, page multiple)', '1GiB')
    .option('--writers <n>', 'writer worker threads (0..64)', '2')
    .option('--rate <n>', 'writes per second per writer, e.g. 20000 or 20k (0 = unpaced)', '20k')
    .option('--pattern <name>', `access pattern: ${WRITE_PATTERNS.join(' | ')}`, 'uniform')
    .option('--seed <n>', 'seed of the fill and of the writers', '1')
    .option('--backend <name>', 'auto (native, else the simulator) | uffd (native or fail) | sim', 'auto');
}

/** Registers `bgsnap run`. */
export function registerRun(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  const cmd = program
    .command('run')
    .description(
      'Snapshot live native memory (userfaultfd) while writer threads keep writing, verify the file against a reference copy, and print the report. Falls back to the simulator where userfaultfd is unavailable.',
    );
  addWorkloadOptions(cmd).option(
    '--keep',
    'keep the default temporary snapshot file (an explicit --out is always kept)',
  );
  addSnapshotOptions(cmd, { help: RUN_MODE_HELP });
  cmd.action((raw: RawRunOptions) => run(() => runRunCommand(parseRunOptions(raw))));
}
