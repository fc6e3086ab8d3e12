import { formatBytes, formatDuration, formatRate } from '@bgsnap/units';

/** Formats ns for tables: `812 ns`, `41.2 µs`, `4.37 ms`, `1.25 s`; `–` for missing values. */
export function fmtNs(ns: number | undefined): string {
  if (ns === undefined || !Number.isFinite(ns)) return '–';
  // Three significant digits below a second: two decimals under 10 of a unit, one above.
  const scaled = ns >= 1e6 ? ns / 1e6 : ns / 1e3;
  return formatDuration(ns, { precision: ns < 1e9 && scaled >= 10 ? 1 : 2 });
}

/** Formats bytes/s as MiB/s or GiB/s. */
export function fmtRate(bytesPerSec: number): string {
  if (!Number.isFinite(bytesPerSec)) return '–';
  return formatRate(bytesPerSec, { precision: bytesPerSec >= 2 ** 30 ? 2 : 0 });
}

/** Formats a size without trailing zeros: `1 GiB`, `64 GiB`, `3.5 MiB`, `512 B`. */
export function fmtSize(bytes: number): string {
  const text = formatBytes(bytes, { precision: bytes >= 2 ** 30 ? 2 : 1 });
  return text.replace(/(\.\d*?)0+(?= )/, '$1').replace('. ', ' ');
}

/** Renders a markdown table (pipes in cells escaped). */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ];
  return `${lines.join('\n')}\n`;
}
