import { describe, expect, it } from 'vitest';
import { CLASSIC_FLOOR_LOAD, parseFloorOutput } from './floor.js';

describe('parseFloorOutput', () => {
  it("reads the native package's JSON line (ns)", () => {
    const line =
      '{"regionMiB":1024,"thp":true,"handler":"poll","protectNs":812345,"protectNsPerGiB":812345,"faults":20000,"p50":48123,"p99":70456,"p999":110789,"max":2100000,"unprotectedWriteNs":0.2}\n';
    const r = parseFloorOutput(line, 'sleep');
    expect(r).toMatchObject({
      thp: true,
      faults: 20000,
      p50Ns: 48123,
      p99Ns: 70456,
      p999Ns: 110789,
      maxNs: 2100000,
      protectNs: 812345,
      load: CLASSIC_FLOOR_LOAD,
    });
  });

  it('reads the load the program ran under, when it reports one', () => {
    const line =
      '{"regionMiB":1024,"thp":false,"handler":"poll","writers":2,"rate":20000,"busy":1,"protectNs":1,"faults":20000,"p50":97654,"p99":231476,"p999":369856,"max":28078893}';
    expect(parseFloorOutput(line, 'sleep')).toMatchObject({
      load: { writers: 2, rate: 20000, busy: 1 },
      p99Ns: 231476,
    });
  });

  it("reads the reference tool's text line (µs)", () => {
    const line =
      'region 1024 MiB: protect 19.5 ms (19.5 ms/GiB); 100000 faults: p50 50.2 us p99 70.1 us p999 110.0 us max 3999.0 us\n';
    const r = parseFloorOutput(line, 'spin');
    expect(r.variant).toBe('spin');
    expect(r.faults).toBe(100000);
    expect(r.p99Ns).toBeCloseTo(70100);
    expect(r.protectNs).toBeCloseTo(19.5e6);
    expect(r.load).toEqual(CLASSIC_FLOOR_LOAD);
  });

  it('throws on anything else', () => {
    expect(() => parseFloorOutput('userfaultfd: Operation not permitted', 'sleep')).toThrow(
      /unexpected uffd-floor output/,
    );
  });
});
