import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLASSIC_FLOOR_LOAD, compileFloor, findFloorSource, loadText, runFloor } from './floor.js';

const uffd = await import('@bgsnap/fault-source-uffd').catch(() => undefined);
const available = uffd?.probeUffd().available === true;
const source = findFloorSource();
let dir = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bgsnap-floor-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadText', () => {
  it('names writers, their pace and the busy threads', () => {
    expect(loadText(CLASSIC_FLOOR_LOAD)).toBe('1 writer, back to back');
    expect(loadText({ writers: 2, rate: 20000, busy: 1 })).toBe('2 writers × 20000/s, 1 busy thread');
  });
});

describe('runFloor', () => {
  it('refuses a result that ran another load than the one asked for', async () => {
    // A program that ignores the load arguments, as the reference tool does.
    const fake = join(dir, 'classic-only');
    writeFileSync(
      fake,
      '#!/bin/sh\necho \'{"thp":false,"protectNs":1,"faults":10,"p50":1,"p99":2,"p999":3,"max":4}\'\n',
    );
    chmodSync(fake, 0o755);
    await expect(runFloor(fake, 4, 10, 'sleep', false)).resolves.toMatchObject({
      load: CLASSIC_FLOOR_LOAD,
      p99Ns: 2,
    });
    await expect(runFloor(fake, 4, 10, 'sleep', false, { writers: 2, rate: 1000, busy: 0 })).rejects.toThrow(
      /ran 1 writer, back to back, not 2 writers × 1000\/s/,
    );
  });

  it.skipIf(!available || !source)(
    "the package's program times every fault of every writer under the load asked for",
    async () => {
      const bin = await compileFloor(source!, dir);
      const load = { writers: 2, rate: 20000, busy: 1 };
      const r = await runFloor(bin, 16, 300, 'sleep', false, load);
      expect(r.load).toEqual(load);
      expect(r.faults).toBe(300);
      // Every timed store was a write fault: a round trip through the handler, far above a plain store.
      expect(r.p50Ns).toBeGreaterThan(1000);
      expect(r.p50Ns).toBeLessThanOrEqual(r.p99Ns);
      expect(r.p99Ns).toBeLessThanOrEqual(r.maxNs);
      const classic = await runFloor(bin, 16, 200, 'sleep', false);
      expect(classic.load).toEqual(CLASSIC_FLOOR_LOAD);
      expect(classic.faults).toBe(200);
    },
    60_000,
  );
});
