import { compareSnapshot } from '@bgsnap/stream-writer';
import type { Command } from 'commander';
import { resolveLimiter } from '../limiter-spec.js';
import { formatDuration, formatReport } from '../report/format-report.js';
import type { SnapshotReport } from '../report/report.js';
import { terminalText } from '../report/terminal-text.js';
import type { LatencyHistogram } from '../save-loop/latency-histogram.js';
import { snapshot } from '../snapshot.js';
import { allocateReference, copyMemory, fillMemory } from '../workload/fill.js';
import { WriterPool } from '../workload/writer-pool.js';
import { WRITE_PATTERNS, type WritePattern } from '../workload/writer-protocol.js';
import { testPause } from './interrupt.js';
import { commitVerified, stageWithInterrupt } from './output-target.js';
import {
  createProgressDisplay,
  EXIT,
  parseChoice,
  parseInteger,
  parsePerSecond,
  parseSize,
} from './shared.js';
import { runSimCommand, type SimCommandOptions } from './sim.js';
import {
  addSnapshotOptions,
  parseSnapshotOptions,
  type RawSnapshotOptions,
  type SnapshotCliOptions,
} from './snapshot-options.js';

/** Largest `--size` of `bgsnap run`: the reference copy must fit one Uint8Array. */
const MAX_RUN_BYTES = 4 * 2 ** 30;

interface RawRunOptions extends RawSnapshotOptions {
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
  /** How long the writers were parked around write-protection (includes the reference copy). */
  writersPausedNs: number;
  referenceCopyNs: number;
}

/** `bgsnap run`: the demo of the main job on the native backend (falls back to the simulator). */
export async function runRunCommand(options: RunCommandOptions): Promise<number> {
  const uffd = await import('@bgsnap/fault-source-uffd').catch((e: unknown) => e as Error);
  const support =
    options.backend === 'sim'
      ? { available: false as const, error: new Error('--backend sim') }
      : uffd instanceof Error
        ? { available: false as const, error: uffd }
        : uffd.probeUffd();
  if (!support.available || uffd instanceof Error) {
    if (options.backend === 'uffd') {
      throw new Error(
        `userfaultfd write-protect is not available here: ${support.available ? 'the addon failed to load' : support.error.message}`,
      );
    }
    process.stderr.write(
      options.backend === 'sim'
        ? 'bgsnap: --backend sim: running the same job on the simulator\n'
        : `bgsnap: userfaultfd write-protect is not available here (${support.available ? 'the addon failed to load' : support.error.message}); falling back to the simulator (bgsnap sim)\n`,
    );
    const sim: SimCommandOptions = {
      ...options,
      cpus: Math.max(1, options.writers),
      sinkProfile: 'none',
      sinkProfileText: 'none',
    };
    return runSimCommand(sim);
  }
  await resolveLimiter(options.limiter); // bad specs fail before anything is allocated
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
  let poolResult: { writes: number; latency: LatencyHistogram } | undefined;
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
    let reference: Uint8Array | undefined;
    let pausedAt = 0;
    let writersPausedNs = 0;
    let referenceCopyNs = 0;
    const report: SnapshotReport & { workload?: RunWorkload } = await snapshot({
      memory,
      to: staged.path,
      limiter: options.limiter,
      mode: options.mode,
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
        poolResult = await pool?.stop();
        pool = undefined;
        return poolResult?.latency;
      },
    });
    progress.stop();
    report.output = `file:${staged.target}`;
    report.workload = {
      writers: options.writers,
      ratePerWriter: options.rate,
      pattern: options.pattern,
      writes: poolResult?.writes ?? 0,
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
    const out = staged.target;
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ ...report, histograms: undefined }, null, 2)}\n`);
    } else {
      process.stdout.write(`${formatReport(report)}\n`);
      process.stdout.write(
        `  workload      ${options.writers} writer(s), ${options.pattern}, ${options.rate || 'unpaced'} writes/s each; ${report.workload.writes} writes; ` +
          `paused ${formatDuration(writersPausedNs)} around protect (of which ${formatDuration(referenceCopyNs)} reference copy)\n`,
      );
      if (!report.verification.ok) process.stdout.write('  verification failed: nothing was kept\n');
      else if (options.out !== undefined || options.keep)
        process.stdout.write(`  snapshot kept at ${terminalText(out)}\n`);
    }
    return report.verification.ok ? EXIT.ok : EXIT.failed;
  } finally {
    progress.stop();
    if (pool) await pool.kill().catch(() => {});
    memory.release();
    staged.discard();
    interrupt.dispose();
  }
}

/** Registers `bgsnap run`. */
export function registerRun(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  const cmd = program
    .command('run')
    .description(
      'Snapshot live native memory (userfaultfd) while writer threads keep writing, verify the file against a reference copy, and print the report. Falls back to the simulator where userfaultfd is unavailable.',
    )
    .option('--size <size>', 'tracked memory size (4KiB..4GiB, page multiple)', '1GiB')
    .option('--writers <n>', 'writer worker threads (0..64)', '2')
    .option('--rate <n>', 'writes per second per writer, e.g. 20000 or 20k (0 = unpaced)', '20k')
    .option('--pattern <name>', `access pattern: ${WRITE_PATTERNS.join(' | ')}`, 'uniform')
    .option('--seed <n>', 'seed of the fill and of the writers', '1')
    .option('--keep', 'keep the default temporary snapshot file (an explicit --out is always kept)')
    .option('--backend <name>', 'auto (native, else the simulator) | uffd (native or fail) | sim', 'auto');
  addSnapshotOptions(cmd);
  cmd.action((raw: RawRunOptions) => run(() => runRunCommand(parseRunOptions(raw))));
}
