import { fmtNs, fmtRate, fmtSize, markdownTable } from './format.js';
import type { BenchRow } from './row.js';

/** Column headers of the results table. */
export const TABLE_HEADER: readonly string[] = [
  'backend/mode',
  'policy',
  'profile',
  'size',
  'duration',
  'throughput',
  'faulted',
  'scanned',
  'zero',
  'writer p50',
  'p90',
  'p99',
  'p99.9',
  'max',
  'QEMU measure p99',
  'upper-bound p99',
  'true p99',
  'longest writer stall',
  'throttled',
  'sink stalled',
];

/** One table line. */
export function tableCells(r: BenchRow): string[] {
  return [
    `${r.backend}/${r.mode}`,
    r.policy,
    r.profile,
    fmtSize(r.sizeBytes),
    fmtNs(r.durationNs),
    fmtRate(r.throughputBytesPerSec),
    String(r.pages.faulted),
    String(r.pages.scanned),
    String(r.pages.zero),
    fmtNs(r.writer.count ? r.writer.p50 : undefined),
    fmtNs(r.writer.count ? r.writer.p90 : undefined),
    fmtNs(r.writer.count ? r.writer.p99 : undefined),
    fmtNs(r.writer.count ? r.writer.p999 : undefined),
    fmtNs(r.writer.count ? r.writer.max : undefined),
    fmtNs(r.sinceFetch.count ? r.sinceFetch.p99 : undefined),
    fmtNs(r.upperBound.count ? r.upperBound.p99 : undefined),
    fmtNs(r.true?.count ? r.true.p99 : undefined),
    fmtNs(r.writers > 0 ? r.longestWriterStallNs : undefined),
    fmtNs(r.throttledNs),
    fmtNs(r.sinkStalledNs),
  ];
}

/** The results table in markdown: one line per run. */
export function resultsMarkdown(rows: readonly BenchRow[]): string {
  return markdownTable(TABLE_HEADER, rows.map(tableCells));
}
