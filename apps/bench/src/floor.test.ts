import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLASSIC_FLOOR_LOAD,
  compileFloor,
  findFloorSource,
  loadText,
  parseFloorOutput,
  runFloor,
} from './floor.js';

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

describe('parseFloorOutput', () => {
  const line = (handler: string): string =>
    `{"regionMiB":64,"thp":true,"handler":"${handler}","writers":2,"rate":20000,"busy":0,"protectNs":5,"faults":2000,"p50":10,"p99":20,"p999":30,"max":40}`;
  it('takes the handler the program ran, and refuses another one', () => {
    expect(parseFloorOutput(line('sigbus'), 'sigbus')).toMatchObject({
      variant: 'sigbus',
      thp: true,
      p99Ns: 20,
      load: { writers: 2, rate: 20000 },
    });
    expect(parseFloorOutput(line('poll'), 'sleep').p999Ns).toBe(30);
    expect(() => parseFloorOutput(line('poll'), 'sigbus')).toThrow(/ran handler poll, not sigbus/);
  });
  it("refuses sigbus from the reference tool's text line (it has no such handler)", () => {
    const text = 'protect 1.0 ms, 100 faults: p50 1.0 us p99 2.0 us p999 3.0 us max 4.0 us';
    expect(parseFloorOutput(text, 'sleep').p99Ns).toBe(2000);
    expect(() => parseFloorOutput(text, 'sigbus')).toThrow(/no sigbus handler/);
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
      // The in-thread floor: each writer's SIGBUS handler copies and releases its page; no handler thread.
      const sigbus = await runFloor(bin, 64, 2000, 'sigbus', true, { writers: 2, rate: 20000, busy: 0 });
      expect(sigbus).toMatchObject({ variant: 'sigbus', faults: 2000 });
      expect(sigbus.raw).toContain('"handler":"sigbus"');
      expect(sigbus.p50Ns).toBeGreaterThan(1000);
      const classic = await runFloor(bin, 16, 200, 'sleep', false);
      expect(classic.load).toEqual(CLASSIC_FLOOR_LOAD);
      expect(classic.faults).toBe(200);
    },
    60_000,
  );
});
