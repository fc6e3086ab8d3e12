import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTrace, TraceFormatError } from './trace.js';

describe('parseTrace', () => {
  it('parses entries, skipping comments and blank lines, keeping line numbers', () => {
    const entries = parseTrace('# time cpu page\n\n0 0 5\n10\t1\t7   # tab separated\n10 0 6\r\n');
    expect(entries).toEqual([
      { timeNs: 0, cpu: 0, page: 5, line: 3 },
      { timeNs: 10, cpu: 1, page: 7, line: 4 },
      { timeNs: 10, cpu: 0, page: 6, line: 5 },
    ]);
  });

  it('round-trips any well-formed trace', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1e6), fc.nat(7), fc.nat(1e9)), { maxLength: 50 }), (rows) => {
        const perCpu = new Map<number, number>();
        const sorted = rows.map(([t, c, p]) => {
          const time = Math.max(t, perCpu.get(c) ?? 0);
          perCpu.set(c, time);
          return [time, c, p] as const;
        });
        const text = sorted.map((r) => r.join(' ')).join('\n');
        const parsed = parseTrace(text);
        expect(parsed.map((e) => [e.timeNs, e.cpu, e.page])).toEqual(sorted.map((r) => [...r]));
      }),
    );
  });

  it('lists every malformed line in one error', () => {
    try {
      parseTrace('1 2\n1 2 3 4\n1.5 0 0\n0 0 0x10\n');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TraceFormatError);
      expect((e as TraceFormatError).problems.map((p) => p.slice(0, 7))).toEqual([
        'line 1:',
        'line 2:',
        'line 3:',
        'line 4:',
      ]);
    }
  });
});
