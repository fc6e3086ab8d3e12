import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSimFaultSource } from '@bgsnap/fault-source-sim';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BadInputError } from '../errors.js';
import { checkFreeSpace, parseSimOptions, projectedStreamBytes, runSimCommand } from './sim.js';

const raw = {
  limiter: 'threshold',
  mode: 'plain',
  compression: 'none',
  batchPages: '64',
  quietBatchPages: '512',
  json: true,
  progress: false,
  size: '16MiB',
  cpus: '2',
  rate: '20k',
  pattern: 'uniform',
  seed: '1',
  sinkProfile: 'periodic:5ms/20ms',
};

describe('bgsnap sim without --out', () => {
  const saved = process.env.TMPDIR;
  afterEach(() => {
    process.env.TMPDIR = saved;
    vi.restoreAllMocks();
  });

  it('writes no file anywhere and reports every page checked', async () => {
    // A temporary folder that does not exist: any attempt to write a stream file there fails.
    process.env.TMPDIR = join(tmpdir(), 'bgsnap-sim-no-such-folder', 'x');
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    const code = await runSimCommand(parseSimOptions(raw as never));
    const report = JSON.parse(out.join(''));
    expect(code).toBe(0);
    expect(report.output).toMatch(/no file/);
    expect(report.verification).toMatchObject({ ok: true, mismatchedPages: 0 });
    expect(report.pages.total).toBe(4096);
    expect(report.pages.faulted).toBeGreaterThan(0);
  });

  it('takes sizes in TiB', () => {
    expect(parseSimOptions({ ...raw, size: '1TiB' } as never).size).toBe(2 ** 40);
    expect(parseSimOptions({ ...raw, size: '0.5TiB' } as never).size).toBe(2 ** 39);
    expect(() => parseSimOptions({ ...raw, size: '17TiB' } as never)).toThrow(BadInputError);
  });

  it('refuses --compression, which only a real stream has', () => {
    expect(() => parseSimOptions({ ...raw, compression: 'zstd' } as never)).toThrow(BadInputError);
  });
});

describe('--out free-space check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bgsnap-sim-test-'));
  afterEach(() => {
    for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
  });

  it('refuses a stream the folder cannot hold, with a message naming --out and both sizes', () => {
    const out = join(dir, 'big.bgsnap');
    const error = (() => {
      try {
        checkFreeSpace(out, 10 * 2 ** 30, () => 2 ** 30);
      } catch (e) {
        return e as BadInputError;
      }
    })();
    expect(error).toBeInstanceOf(BadInputError);
    expect(error?.option).toBe('--out');
    expect(error?.message).toMatch(/10\.0 GiB.*1\.0 GiB free/);
    expect(readdirSync(dir)).toEqual([]);
    expect(() => checkFreeSpace(out, 2 ** 30, () => 2 ** 31)).not.toThrow();
  });

  it("asks the real file system (statfs) of the output's folder", () => {
    expect(() => checkFreeSpace(join(dir, 'x.bgsnap'), Number.MAX_SAFE_INTEGER)).toThrow(/free/);
    expect(() => checkFreeSpace(join(dir, 'x.bgsnap'), 1)).not.toThrow();
    expect(() => checkFreeSpace('/nonexistent-folder/x.bgsnap', 1)).toThrow(BadInputError);
  });

  it('projects the non-zero pages of the simulation', () => {
    const sim = (fill: number) =>
      createSimFaultSource({ regions: [{ name: 'm', pageCount: 2 ** 20 }], cpus: [], initialFill: fill });
    const full = projectedStreamBytes(sim(1), 'none');
    expect(full).toBeGreaterThan(4 * 2 ** 30);
    expect(projectedStreamBytes(sim(0.5), 'none')).toBeLessThan(full * 0.51);
    expect(projectedStreamBytes(sim(1), 'zstd')).toBeLessThan(full / 8);
  });
});
