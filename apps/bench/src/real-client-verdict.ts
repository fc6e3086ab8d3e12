import { markdownTable } from './format.js';
import type { RealClientResult, RealClientRow } from './real-client.js';
import type { Verdict } from './verdict.js';

/** Target (e): during an in-thread save, throughput ≥ 0.5 × and SET p99 ≤ 2 × the server's own baseline. */
export const REAL_CLIENT_GOAL = { throughput: 0.5, p99: 2 } as const;

/** The limiter target (e) is judged with: bgsnap's default policy. */
export const REAL_CLIENT_VERDICT_LIMITER = 'default';

const x = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(3)} ms` : '–');

/** One row in the verdict's words: rates, p99s and ratios against the same request count without a save. */
function rowText(r: RealClientRow): string {
  return (
    `${Math.round(r.during.rps)} vs ${Math.round(r.baselineSameN.rps)} req/s = ${x(r.throughputRatio)}, ` +
    `SET p99 ${ms(r.during.p99Ms)} vs ${ms(r.baselineSameN.p99Ms)} = ${x(r.p99Ratio)} ` +
    `(${r.during.requests} requests${r.allInside ? ', all inside the save' : ', NOT all inside the save'})`
  );
}

/**
 * Target (e): the kv-server during an in-thread snapshot (bgsnap's default limiter) keeps
 * ≥ {@link REAL_CLIENT_GOAL}.throughput × its own baseline throughput and SET p99 ≤
 * {@link REAL_CLIENT_GOAL}.p99 × its own baseline, over requests that all fell inside the save (else
 * not judged); Redis BGSAVE's figures beside it.
 */
export function judgeRealClient(r: RealClientResult | undefined, error?: string): Verdict {
  const target = '(e) real client (redis-benchmark SET) during an in-thread save';
  const goal = `≥ ${REAL_CLIENT_GOAL.throughput} × own baseline throughput and SET p99 ≤ ${REAL_CLIENT_GOAL.p99} × own baseline, all requests inside the save`;
  if (!r) return { target, goal, measured: `not measured${error ? ` (${error})` : ''}`, pass: undefined };
  const row =
    r.rows.find((w) => w.mode === 'in-thread' && w.limiter === REAL_CLIENT_VERDICT_LIMITER) ??
    r.rows.find((w) => w.mode === 'in-thread');
  const redis = r.rows.find((w) => w.mode === 'redis');
  const beside = redis ? `; Redis ${r.redisVersion ?? ''} BGSAVE: ${rowText(redis)}` : '; Redis not measured';
  if (!row) {
    const failed = r.errors.find((e) => e.name.startsWith('bgsnap in-thread'));
    return {
      target,
      goal,
      measured: `not measured (${failed ? `in-thread save failed: ${failed.error}` : 'no in-thread save was run'})${beside}`,
      pass: undefined,
    };
  }
  return {
    target,
    goal,
    measured: `bgsnap in-thread ${row.limiter ?? ''}: ${rowText(row)}${beside}`,
    pass: row.allInside
      ? row.throughputRatio >= REAL_CLIENT_GOAL.throughput && row.p99Ratio <= REAL_CLIENT_GOAL.p99
      : undefined,
  };
}

const f = (v: number | undefined, d = 2): string =>
  v !== undefined && Number.isFinite(v) ? v.toFixed(d) : '–';

/** The real-client runs as markdown: one row per save, latencies in ms. */
export function realClientMarkdown(r: RealClientResult): string {
  const head =
    `${r.keys} keys × ${r.valueBytes} B (${f(r.sizeBytes / 2 ** 30, 3)} GiB), redis-benchmark SET -c ${r.clients} -P ${r.pipeline}; ` +
    `latencies in ms; "n": requests during the save; "base": the same n without a save (first baseline: -n ${r.requests}); ` +
    `load average ${r.loadAvgStart.map((l) => l.toFixed(2)).join(' ')} → ${r.loadAvgEnd.map((l) => l.toFixed(2)).join(' ')}\n\n`;
  const table = markdownTable(
    [
      'save',
      'n',
      'base rps',
      'save rps',
      'rps ×',
      'base p50',
      'base p99',
      'save p50',
      'save p99',
      'save max',
      'p99 ×',
      'inside',
      'save ms',
      'fork µs',
      'COW MiB',
    ],
    r.rows.map((w) => [
      w.name,
      String(w.during.requests),
      f(w.baselineSameN.rps, 0),
      f(w.during.rps, 0),
      f(w.throughputRatio),
      f(w.baselineSameN.p50Ms, 3),
      f(w.baselineSameN.p99Ms, 3),
      f(w.during.p50Ms, 3),
      f(w.during.p99Ms, 3),
      f(w.during.maxMs, 3),
      f(w.p99Ratio),
      w.allInside ? 'yes' : 'NO',
      f(w.saveMs, 0),
      w.forkUsec === undefined ? '–' : String(w.forkUsec),
      w.cowBytes === undefined ? '–' : f(w.cowBytes / 2 ** 20, 1),
    ]),
  );
  const errors = r.errors.map((e) => `\n- ${e.name}: FAILED: ${e.error}`).join('');
  return `${head}${table}${errors}\n`;
}
