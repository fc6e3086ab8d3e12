import type { Command } from 'commander';
import { formatDuration, formatSize } from '../report/format-report.js';
import type { SnapshotMode, SnapshotReport } from '../report/report.js';
import {
  addWorkloadOptions,
  loadNativeOrSimulate,
  parseRunOptions,
  type RawRunOptions,
  type RunCommandOptions,
  takeVerifiedRun,
} from './run.js';
import { chooseRunMode, probeInThread } from './run-mode.js';
import { EXIT } from './shared.js';

/** One configuration of the comparison. */
export interface DemoConfig {
  /** Who runs it this way: `QEMU` or `bgsnap`. */
  label: string;
  /** `undefined`: bgsnap's best mode here (in-thread where supported, else copy-on-fault). */
  mode: SnapshotMode | undefined;
  limiter: string;
}

/**
 * The two rows: QEMU's background snapshot as the QEMU patch does it (plain mode, its scan-rate
 * policy), and bgsnap's best — writers copy their own page (in-thread) and the scan runs unthrottled,
 * because in that mode a writer's wait does not depend on the scan, and a slower scan only leaves
 * more pages for writers to fault on (see the README's _pnpm start_).
 */
export const DEMO_CONFIGS: readonly DemoConfig[] = [
  { label: 'QEMU', mode: 'plain', limiter: 'threshold' },
  { label: 'bgsnap', mode: undefined, limiter: 'unlimited' },
];

/** One row of the comparison, as `--json` prints it. */
export interface DemoRow {
  label: string;
  backend: string;
  mode: string;
  limiter: string;
  /** Writers' faulting stores (write faults only), ns; undefined when none faulted. */
  writerFaults: { count: number; p50: number; p99: number; p999: number; max: number } | undefined;
  durationNs: number;
  throughputBytesPerSec: number;
  verified: boolean;
  notes: string[];
}

/** A report reduced to its row. */
export function demoRow(label: string, report: SnapshotReport): DemoRow {
  const f = report.latency.writerFaults;
  return {
    label,
    backend: report.backend,
    mode: report.mode,
    limiter: report.limiter,
    writerFaults: f ? { count: f.count, p50: f.p50, p99: f.p99, p999: f.p999, max: f.max } : undefined,
    durationNs: report.durationNs,
    throughputBytesPerSec: report.throughputBytesPerSec,
    verified: report.verification?.ok === true,
    notes: report.notes ?? [],
  };
}

/** The line naming the ratio of the two p99s (undefined when either has no faulting stores). */
export function p99Ratio(qemu: DemoRow, bgsnap: DemoRow): string | undefined {
  const a = qemu.writerFaults?.p99;
  const b = bgsnap.writerFaults?.p99;
  if (a === undefined || b === undefined || b <= 0) return undefined;
  const ratio = a / b;
  return ratio >= 1
    ? `writers' faulting-store p99: ${formatDuration(a)} with QEMU's way, ${formatDuration(b)} with bgsnap's: ${ratio.toFixed(1)}x lower`
    : `writers' faulting-store p99: ${formatDuration(a)} with QEMU's way, ${formatDuration(b)} with bgsnap's: ${(1 / ratio).toFixed(1)}x higher`;
}

/** The comparison table for people. */
export function formatDemo(rows: readonly DemoRow[]): string {
  const head = [
    '',
    'mode / policy',
    'fault p50',
    'p99',
    'p99.9',
    'max',
    'duration',
    'throughput',
    'verified',
  ];
  const cells = rows.map((r) => {
    const f = r.writerFaults;
    const t = (ns: number | undefined): string => (ns === undefined ? '-' : formatDuration(ns));
    return [
      r.label,
      `${r.mode} / ${r.limiter.replace(/\(.*\)$/, '')}`,
      t(f?.p50),
      t(f?.p99),
      t(f?.p999),
      t(f?.max),
      formatDuration(r.durationNs),
      `${formatSize(r.throughputBytesPerSec)}/s`,
      r.verified ? 'yes' : 'NO',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string =>
    c.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  const out = [line(head), ...cells.map(line)];
  const ratio = rows.length === 2 ? p99Ratio(rows[0]!, rows[1]!) : undefined;
  if (ratio) out.push('', ratio);
  for (const r of rows) for (const n of r.notes) out.push(`note (${r.label}): ${n}`);
  return out.join('\n');
}

/** Runs one configuration natively, or on the simulator where userfaultfd is unavailable. */
async function runConfig(options: RunCommandOptions, config: DemoConfig): Promise<SnapshotReport> {
  const asked: RunCommandOptions = { ...options, mode: config.mode, limiter: config.limiter };
  let simulated: SnapshotReport | undefined;
  const uffd = await loadNativeOrSimulate(asked, async (sim) => {
    const { runSimCommand } = await import('./sim.js');
    return runSimCommand(sim, (report) => {
      simulated = report;
    });
  });
  if ('simulated' in uffd) {
    if (!simulated) throw new Error(`the simulated ${config.label} run ended without a report`);
    return simulated;
  }
  const choice = await chooseRunMode(config.mode, () => probeInThread(uffd));
  if (choice.note) process.stderr.write(`bgsnap: ${choice.note}\n`);
  const report = await takeVerifiedRun(asked, uffd, choice.mode);
  if (choice.note) report.notes = [...(report.notes ?? []), choice.note];
  return report;
}

/**
 * `bgsnap demo` (what `pnpm start` runs): the same workload snapshotted QEMU's way and bgsnap's way,
 * both verified, then a two-row table of the writers' faulting-store latencies. Exit 1 unless both
 * verified.
 */
export async function runDemoCommand(options: RunCommandOptions): Promise<number> {
  const rows: DemoRow[] = [];
  for (const config of DEMO_CONFIGS) {
    if (!options.json) process.stderr.write(`bgsnap demo: ${config.label}'s way (${config.limiter})...\n`);
    rows.push(demoRow(config.label, await runConfig(options, config)));
  }
  const ratio = p99Ratio(rows[0]!, rows[1]!);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ rows, ...(ratio ? { p99Ratio: ratio } : {}) }, null, 2)}\n`);
  } else {
    process.stdout.write(
      `bgsnap demo: ${formatSize(options.size)}, ${options.writers} writer(s) x ${options.rate} stores/s, ${options.pattern}; ` +
        "latencies are the writers' own timings of the stores that took a write fault\n\n",
    );
    process.stdout.write(`${formatDemo(rows)}\n`);
  }
  return rows.every((r) => r.verified) ? EXIT.ok : EXIT.failed;
}

/** Registers `bgsnap demo`. */
export function registerDemo(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  const cmd = program
    .command('demo')
    .description(
      "Snapshot the same workload QEMU's way (plain mode, the threshold policy) and bgsnap's way (in-thread where supported, else copy-on-fault; unlimited scan), verify both, and compare the writers' faulting-store latencies. Falls back to the simulator where userfaultfd is unavailable.",
    );
  addWorkloadOptions(cmd)
    .option('--json', 'print the two rows as JSON on stdout')
    .option('--no-progress', 'no progress bar or progress lines on stderr')
    .action((raw: RawRunOptions) =>
      run(() =>
        runDemoCommand(
          parseRunOptions({
            ...raw,
            // The two configurations set mode and limiter; the rest are the defaults of `run`.
            limiter: 'threshold',
            compression: 'none',
            batchPages: '64',
            quietBatchPages: '512',
          }),
        ),
      ),
    );
}
