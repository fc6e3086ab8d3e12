import type { LatencySummary } from '../save-loop/latency-histogram.js';
import type { SnapshotReport } from './report.js';
import { terminalText } from './terminal-text.js';

/** `1234567` ns → `1.23 ms`, with units from ns to s. */
export function formatDuration(ns: number): string {
  if (ns < 1e3) return `${Math.round(ns)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(ns < 1e4 ? 2 : 1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

/** Binary units: `1073741824` → `1.00 GiB`. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(2)} ${units[i]}`;
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
