/** One `redis-benchmark --csv` result line: throughput and latencies as redis-benchmark reports them. */
export interface RedisBenchmarkFigures {
  /** The test's name, e.g. `SET`. */
  test: string;
  /** Requests per second (includes connecting the clients at the start). */
  rps: number;
  avgMs: number;
  minMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** redis-benchmark printed something other than the CSV of Redis ≥ 7. */
export class RedisBenchmarkOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisBenchmarkOutputError';
  }
}

/** The header's column per field (Redis 7's `--csv` names them so). */
const COLUMNS = {
  rps: 'rps',
  avgMs: 'avg_latency_ms',
  minMs: 'min_latency_ms',
  p50Ms: 'p50_latency_ms',
  p95Ms: 'p95_latency_ms',
  p99Ms: 'p99_latency_ms',
  maxMs: 'max_latency_ms',
} as const;

const cells = (line: string): string[] => line.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));

/**
 * Parses the `--csv` output of redis-benchmark (Redis ≥ 7: a header line `"test","rps",...` and one
 * line per test) and returns the line of `test`. Columns are found by the header's names, so a
 * reordering does not swap figures; other lines (warnings) are ignored.
 * @throws RedisBenchmarkOutputError naming what is missing: no header (Redis < 7 prints no latency
 *   percentiles), no line for `test`, or a cell that is not a number.
 */
export function parseRedisBenchmarkCsv(text: string, test = 'SET'): RedisBenchmarkFigures {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const headerAt = lines.findIndex((l) => cells(l)[0] === 'test');
  if (headerAt < 0) {
    throw new RedisBenchmarkOutputError(
      `no CSV header in redis-benchmark's output (Redis >= 7 prints "test","rps",...,"p99_latency_ms"): ${text.trim().slice(0, 200)}`,
    );
  }
  const header = cells(lines[headerAt]!);
  const row = lines
    .slice(headerAt + 1)
    .map(cells)
    .find((c) => c[0] === test);
  if (!row) throw new RedisBenchmarkOutputError(`no "${test}" line in redis-benchmark's output`);
  const out = { test } as RedisBenchmarkFigures;
  for (const [field, column] of Object.entries(COLUMNS) as [keyof typeof COLUMNS, string][]) {
    const i = header.indexOf(column);
    if (i < 0) throw new RedisBenchmarkOutputError(`redis-benchmark's CSV has no column "${column}"`);
    const value = Number(row[i]);
    if (row[i] === undefined || row[i] === '' || !Number.isFinite(value)) {
      throw new RedisBenchmarkOutputError(`"${test}" ${column} is not a number: ${JSON.stringify(row[i])}`);
    }
    out[field] = value;
  }
  return out;
}
