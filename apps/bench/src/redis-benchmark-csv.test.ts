import { describe, expect, it } from 'vitest';
import { parseRedisBenchmarkCsv, RedisBenchmarkOutputError } from './redis-benchmark-csv.js';

// Recorded: redis-benchmark 7.0.15 -t set -d 4096 -r 100 -n 2000 -c 5 -P 1 --csv --precision 3
const REDIS_7 =
  '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"\n' +
  '"SET","44444.44","0.077","0.016","0.071","0.135","0.191","0.903"\n';

// Redis 6's --csv: no header and no percentiles.
const REDIS_6 = '"SET","44444.44"\n';

describe('parseRedisBenchmarkCsv', () => {
  it("reads every figure of the SET line of redis-benchmark 7's CSV", () => {
    expect(parseRedisBenchmarkCsv(REDIS_7)).toEqual({
      test: 'SET',
      rps: 44444.44,
      avgMs: 0.077,
      minMs: 0.016,
      p50Ms: 0.071,
      p95Ms: 0.135,
      p99Ms: 0.191,
      maxMs: 0.903,
    });
  });

  it('finds columns by the header, ignores warnings and CRLF, and picks the asked test', () => {
    const text =
      'WARNING: Could not fetch server CONFIG\r\n' +
      '"test","p99_latency_ms","rps","max_latency_ms","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms"\r\n' +
      '"GET","1","2","3","4","5","6","7"\r\n' +
      '"SET","0.5","1000","9","0.2","0.1","0.15","0.4"\r\n';
    expect(parseRedisBenchmarkCsv(text)).toMatchObject({ rps: 1000, p99Ms: 0.5, maxMs: 9, p50Ms: 0.15 });
    expect(parseRedisBenchmarkCsv(text, 'GET')).toMatchObject({ rps: 2, p99Ms: 1 });
  });

  it('refuses output it cannot read, naming what is missing', () => {
    expect(() => parseRedisBenchmarkCsv(REDIS_6)).toThrow(/no CSV header.*Redis >= 7/);
    expect(() =>
      parseRedisBenchmarkCsv('Could not connect to Redis at 127.0.0.1:1: Connection refused\n'),
    ).toThrow(RedisBenchmarkOutputError);
    expect(() => parseRedisBenchmarkCsv(REDIS_7, 'GET')).toThrow(/no "GET" line/);
    expect(() => parseRedisBenchmarkCsv(REDIS_7.replace('"0.191"', '"n/a"'))).toThrow(
      /p99_latency_ms is not a number: "n\/a"/,
    );
    expect(() => parseRedisBenchmarkCsv(REDIS_7.replace(',"0.903"', ''))).toThrow(
      /max_latency_ms is not a number/,
    );
    expect(() => parseRedisBenchmarkCsv(REDIS_7.replace('p95_latency_ms', 'p90_latency_ms'))).toThrow(
      /no column "p95_latency_ms"/,
    );
  });
});
