/** Formats ns for tables: `812 ns`, `41.2 µs`, `4.37 ms`, `1.25 s`; `–` for missing values. */
export function fmtNs(ns: number | undefined): string {
  if (ns === undefined || !Number.isFinite(ns)) return '–';
  if (ns < 1e3) return `${Math.round(ns)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(ns < 1e4 ? 2 : 1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

/** Formats bytes/s as MiB/s or GiB/s. */
export function fmtRate(bytesPerSec: number): string {
  if (!Number.isFinite(bytesPerSec)) return '–';
  if (bytesPerSec >= 2 ** 30) return `${(bytesPerSec / 2 ** 30).toFixed(2)} GiB/s`;
  return `${(bytesPerSec / 2 ** 20).toFixed(0)} MiB/s`;
}

/** Formats a size: `1 GiB`, `64 GiB`, `256 MiB`. */
export function fmtSize(bytes: number): string {
  if (bytes >= 2 ** 30) return `${+(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${+(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 2 ** 10) return `${+(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${bytes} B`;
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
