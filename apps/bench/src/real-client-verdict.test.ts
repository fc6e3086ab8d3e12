import { describe, expect, it } from 'vitest';
import type { ClientRun, RealClientResult, RealClientRow } from './real-client.js';
import { judgeRealClient, realClientMarkdown } from './real-client-verdict.js';

const client = (rps: number, p99Ms: number, requests = 10_000): ClientRun => ({
  test: 'SET',
  rps,
  avgMs: p99Ms / 3,
  minMs: 0.01,
  p50Ms: p99Ms / 4,
  p95Ms: p99Ms / 2,
  p99Ms,
  maxMs: p99Ms * 5,
  requests,
});

function row(
  mode: string,
  during: ClientRun,
  same: ClientRun,
  allInside = true,
  limiter = 'default',
): RealClientRow {
  return {
    name: mode === 'redis' ? 'redis BGSAVE' : `bgsnap ${mode} ${limiter}`,
    mode,
    limiter: mode === 'redis' ? undefined : limiter,
    baseline: client(same.rps, same.p99Ms, 200_000),
    during,
    baselineSameN: same,
    allInside,
    drySaveMs: 1000,
    saveMs: 1100,
    throughputRatio: during.rps / same.rps,
    p99Ratio: during.p99Ms / same.p99Ms,
  };
}

function result(rows: RealClientRow[], errors: RealClientResult['errors'] = []): RealClientResult {
  return {
    sizeBytes: 2 ** 30,
    keys: 262_144,
    valueBytes: 4096,
    requests: 200_000,
    clients: 50,
    pipeline: 1,
    cpus: 2,
    loadAvgStart: [1, 1, 1],
    loadAvgEnd: [1, 1, 1],
    redisVersion: '7.0.15',
    rows,
    errors,
  };
}

const redis = row('redis', client(24_000, 0.28), client(56_000, 0.135));

describe('judgeRealClient', () => {
  it('passes at ≥ 0.5 × own throughput and ≤ 2 × own p99, with Redis beside it', () => {
    const v = judgeRealClient(result([redis, row('in-thread', client(25_000, 0.4), client(50_000, 0.2))]));
    expect(v.pass).toBe(true);
    expect(v.measured).toContain('25000 vs 50000 req/s = 0.50×');
    expect(v.measured).toContain('SET p99 0.400 ms vs 0.200 ms = 2.00×');
    expect(v.measured).toContain('Redis 7.0.15 BGSAVE: 24000 vs 56000 req/s = 0.43×');
  });

  it('misses on either bound, judged on the default limiter, not on other modes', () => {
    const slow = row('in-thread', client(24_999, 0.2), client(50_000, 0.2));
    const tail = row('in-thread', client(50_000, 0.401), client(50_000, 0.2));
    const other = row('copy-on-fault', client(50_000, 0.2), client(50_000, 0.2));
    expect(judgeRealClient(result([other, slow])).pass).toBe(false);
    expect(judgeRealClient(result([tail])).pass).toBe(false);
    const good = row('in-thread', client(50_000, 0.2), client(50_000, 0.2), true, 'unlimited');
    expect(judgeRealClient(result([good, tail])).pass).toBe(false); // default limiter decides
  });

  it('gives no verdict when requests fell outside the save, no in-thread save ran, or the run failed', () => {
    const outside = row('in-thread', client(50_000, 0.2), client(50_000, 0.2), false);
    expect(judgeRealClient(result([outside])).pass).toBeUndefined();
    expect(judgeRealClient(result([outside])).measured).toContain('NOT all inside the save');
    const failed = judgeRealClient(
      result([redis], [{ name: 'bgsnap in-thread default', error: 'unknown mode' }]),
    );
    expect(failed).toMatchObject({ pass: undefined });
    expect(failed.measured).toMatch(/in-thread save failed: unknown mode/);
    expect(judgeRealClient(undefined, 'kv-server did not start')).toMatchObject({
      pass: undefined,
      measured: 'not measured (kv-server did not start)',
    });
  });
});

describe('realClientMarkdown', () => {
  it('has one row per save and lists failed saves', () => {
    const md = realClientMarkdown(result([redis], [{ name: 'bgsnap in-thread default', error: 'boom' }]));
    expect(md).toMatch(/\| redis BGSAVE \| 10000 \| 56000 \| 24000 \| 0\.43 \|/);
    expect(md).toContain('- bgsnap in-thread default: FAILED: boom');
  });
});
