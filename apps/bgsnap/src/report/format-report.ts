import { formatBytes, formatDuration as formatUnitsDuration } from '@bgsnap/units';
import type { LatencySummary } from '../save-loop/latency-histogram.js';
import type { SnapshotReport } from './report.js';
import { terminalText } from './terminal-text.js';

/**
 * Nanoseconds for people, rounded: `1234567` → `1.23 ms`, `812` → `812 ns` (`@bgsnap/units`'
 * `formatDuration` with two decimals).
 */
export function formatDuration(ns: number): string {
  return formatUnitsDuration(ns, { precision: 2 });
}

/** Bytes for people with binary units, rounded: `1073741824` → `1.00 GiB` (`@bgsnap/units`' `formatBytes`). */
export function formatSize(bytes: number): string {
  return formatBytes(bytes, { precision: 2 });
}

const MEASURE_LABELS: Array<[keyof SnapshotReport['latency'], string]> = [
  ['writer', 'writers (measured by the workload)'],
  ['writerFaults', 'writers, faulting stores only'],
  ['true', 'true wait (raised → released)'],
  ['upperBound', 'upper bound (queue last empty → released)'],
  ['sinceFetch', 'QEMU patch measure (fetched → released)'],
];

function latencyRow(label: string, s: LatencySummary): string {
  const cells = [s.p50, s.p90, s.p99, s.p999, s.max].map((v) => formatDuration(v).padStart(10));
  return `  ${label.padEnd(44)}${String(s.count).padStart(9)}${cells.join('')}`;
}

/** Renders a report for people: a summary block and a latency table. */
export function formatReport(report: SnapshotReport): string {
  const p = report.pages;
  const lines = [
    `bgsnap snapshot: ${terminalText(report.backend)} (${report.mode}), limiter ${terminalText(report.limiter)}, save loop on the ${report.thread} thread`,
    `  output        ${terminalText(report.output)}`,
    `  duration      ${formatDuration(report.durationNs)} (protect ${formatDuration(report.protectNs)}, save ${formatDuration(report.saveNs)}, finish ${formatDuration(report.finishNs)})`,
    `  memory        ${formatSize(report.bytes.total)} in ${p.total} pages → ${formatSize(report.bytes.stream)} stream`,
    `  pages         ${p.faulted} faulted, ${p.scanned} scanned, ${p.zero} zero, ${p.duplicateFaults} duplicate fault events skipped` +
      (p.faultsOnPendingRelease > 0
        ? `, ${p.faultsOnPendingRelease} faults on saved pages awaiting release`
        : ''),
    `  throughput    ${formatSize(report.throughputBytesPerSec)}/s`,
    `  throttled     ${formatDuration(report.throttledNs)} in limiter waits`,
    `  sink stalls   ${formatDuration(report.sinkStalledNs)} waiting for drain (sink writes pending ${formatDuration(report.sinkBlockedNs)} in total)`,
    '',
    `  write-fault latency${' '.repeat(25)}${'count'.padStart(9)}${['p50', 'p90', 'p99', 'p99.9', 'max'].map((h) => h.padStart(10)).join('')}`,
  ];
  for (const [key, label] of MEASURE_LABELS) {
    const s = report.latency[key];
    if (s) lines.push(latencyRow(label, s));
  }
  for (const note of report.notes ?? []) lines.push(`  note          ${terminalText(note)}`);
  if (report.verification) {
    const v = report.verification;
    lines.push(
      '',
      `  verification  ${v.ok ? 'OK' : 'FAILED'} (${v.method}${v.mismatchedPages ? `, ${v.mismatchedPages} page(s) differ` : ''})${v.detail ? `: ${terminalText(v.detail)}` : ''}`,
    );
  }
  return lines.join('\n');
}
