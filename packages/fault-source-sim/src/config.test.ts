import { describe, expect, it } from 'vitest';
import { SimConfigError } from './config.js';
import { createSimFaultSource } from './sim-fault-source.js';

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SimConfigError);
    return (e as SimConfigError).problems;
  }
  throw new Error('expected a SimConfigError');
}

describe('configuration errors', () => {
  it('reports every problem at once, each naming its option', () => {
    const problems = problemsOf(() =>
      createSimFaultSource({
        regions: [
          { name: 'a', pageCount: 0 },
          { name: 'a', pageCount: 8, pageSize: 3000 },
        ],
        cpus: [
          { rate: -1 },
          { rate: Number.NaN, workload: 'uniform' },
          { rate: 10, workload: 'bursty' as never },
          { rate: Number.POSITIVE_INFINITY, workload: { kind: 'zipf', skew: -2 } },
          { rate: 1, workload: 'trace' },
        ],
        costs: { wakeNs: -5 },
        copyOnFault: { bufferPages: 0 },
        trace: '0 4 3\n10 4 999999\n',
        initialFill: 2,
        mode: 'turbo' as never,
      }),
    );
    const expected = [
      /regions\[0\]\.pageCount/,
      /regions\[1\]\.name 'a' is used twice/,
      /regions\[1\]\.pageSize/,
      /cpus\[0\]\.rate must be a finite number ≥ 0, got -1/,
      /cpus\[1\]\.rate .* got NaN/,
      /cpus\[2\]\.workload: unknown workload 'bursty'; known: uniform, hot-set, zipf, sequential, idle, trace/,
      /cpus\[3\]\.workload\.skew/,
      /cpus\[3\]\.rate .* got Infinity/,
      /costs\.wakeNs/,
      /copyOnFault\.bufferPages/,
      /trace line 2: page 999999 is out of range \[0, 8\)/,
      /initialFill/,
      /mode must be 'plain' or 'copy-on-fault'/,
    ];
    for (const re of expected)
      expect(
        problems.some((p) => re.test(p)),
        `${re} in\n${problems.join('\n')}`,
      ).toBe(true);
  });

  it('reports malformed trace lines with their line numbers', () => {
    const problems = problemsOf(() =>
      createSimFaultSource({
        regions: [{ name: 'ram', pageCount: 100 }],
        cpus: [{ rate: 0, workload: 'trace' }],
        trace: '# header\n0 0 1\nten 0 1\n5 0\n  \n7 0 2 # fine\n3 0 1\n8 0 -1\n',
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^trace line 3: time_ns must be a non-negative integer, got 'ten'/),
      expect.stringMatching(/^trace line 4: expected 3 fields/),
      expect.stringMatching(/^trace line 7: time_ns 3 goes backwards for cpu 0/),
      expect.stringMatching(/^trace line 8: page must be a non-negative integer, got '-1'/),
    ]);
  });

  it('rejects zero pages, a missing trace and a trace naming a CPU without the trace workload', () => {
    expect(problemsOf(() => createSimFaultSource({ regions: [] }))).toEqual([
      expect.stringMatching(/regions must be a non-empty array/),
    ]);
    expect(
      problemsOf(() =>
        createSimFaultSource({
          regions: [{ name: 'r', pageCount: 4 }],
          cpus: [{ rate: 0, workload: 'trace' }],
        }),
      ),
    ).toEqual([expect.stringMatching(/no trace is configured/)]);
    expect(
      problemsOf(() =>
        createSimFaultSource({ regions: [{ name: 'r', pageCount: 4 }], cpus: [{ rate: 1 }], trace: '0 0 1' }),
      ),
    ).toEqual([expect.stringMatching(/cpu 0 does not have the 'trace' workload/)]);
  });

  it('accepts 1 TiB of 4 KiB pages without allocating per page', () => {
    const before = process.memoryUsage().arrayBuffers;
    const sim = createSimFaultSource({
      regions: [{ name: 'ram', pageCount: 2 ** 28 }],
      cpus: [{ rate: 1000 }],
    });
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(sim.regions[0]!.pageCount).toBe(2 ** 28);
    // Two bits per page: 64 MiB for 2^28 pages.
    expect(grown).toBeLessThan(80 * 2 ** 20);
  });
});
