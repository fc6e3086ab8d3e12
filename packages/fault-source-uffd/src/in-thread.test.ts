import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { SameThreadWriteError } from './errors.js';
import { WriterPool } from './test-support/writer-pool.js';
import { TrackedMemory } from './tracked-memory.js';
import { createUffdFaultSource, type UffdMode } from './uffd-fault-source.js';

const PS = 4096;

/** 16 pages of 0x44 (4 KiB pages), tracked by a started source; stopped and released after the test. */
async function tracked(mode: UffdMode, copyBufferPages?: number) {
  const memory = TrackedMemory.allocate(16 * PS, { hugePages: false });
  const b = memory.block(0);
  b.fill(0x44);
  const source = createUffdFaultSource({
    regions: [{ name: 'r', memory }],
    mode,
    ...(copyBufferPages ? { copyBufferPages } : {}),
  });
  onTestFinished(async () => {
    await source.stop();
    memory.release();
  });
  await source.start();
  return { memory, b, source };
}

/** An open file of one page of 0x66, closed and removed after the test. */
function pageOfFile(): number {
  const dir = mkdtempSync(join(tmpdir(), 'bgsnap-efault-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'data');
  writeFileSync(file, Buffer.alloc(PS, 0x66));
  const fd = openSync(file, 'r');
  onTestFinished(() => closeSync(fd));
  return fd;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('in-thread mode', () => {
  it('the writing thread serves its own fault: the event carries the old contents and the true wait', async () => {
    const { b, source } = await tracked('in-thread');
    expect(source.capabilities).toMatchObject({ copiesOnFault: true, knowsThreadId: true });
    expect(source.details.features & 0x80, 'UFFD_FEATURE_SIGBUS').toBe(0x80);
    b[7 * PS] = 0x55;
    expect(b[7 * PS]).toBe(0x55);
    const faults = await source.waitForFaults(1e9);
    expect(faults.map((f) => f.page)).toEqual([7]);
    const f = faults[0]!;
    expect(f.contents!.every((x) => x === 0x44)).toBe(true);
    expect(f.releasedAt! >= f.raisedAt!).toBe(true);
    expect(f.threadId).toBe(process.pid); // the main thread's tid is the pid
    expect(source.claim(0, 6, 3)).toBe(1); // page 7 belongs to the fault path
    expect(source.stats()).toMatchObject({ servedInThread: 1, copied: 1, delivered: 1, sameThread: 0 });
  });

  it('a kernel-mode write into tracked memory (fs.readSync) fails with EFAULT; memory keeps its bytes', async () => {
    const fd = pageOfFile();
    const { b, source } = await tracked('in-thread');
    const e = thrown(() => readSync(fd, b, 3 * PS, PS, 0)) as NodeJS.ErrnoException;
    expect(e?.code).toBe('EFAULT');
    expect(b.subarray(3 * PS, 4 * PS).every((x) => x === 0x44)).toBe(true);
    expect(source.takeFaults()).toEqual([]); // no user-mode write happened, so no fault
    await source.stop();
    expect(readSync(fd, b, 3 * PS, PS, 0)).toBe(PS); // after the snapshot the same read works
    expect(b[3 * PS]).toBe(0x66);
  });

  it('copy-on-fault, for contrast: the same read waits for the fault thread and succeeds', async () => {
    const fd = pageOfFile();
    const { b, source } = await tracked('copy-on-fault');
    expect(readSync(fd, b, 3 * PS, PS, 0)).toBe(PS);
    const faults = await source.waitForFaults(1e9);
    expect(faults[0]!.contents!.every((x) => x === 0x44)).toBe(true);
  });
});

describe('in-thread mode: the copy buffer', () => {
  /** Resident bytes the process gained while creating a source of `mode` with 8192 slots (32 MiB). */
  function residentGrowth(mode: UffdMode): number {
    const memory = TrackedMemory.allocate(16 * PS, { hugePages: false });
    onTestFinished(() => memory.release());
    const before = process.memoryUsage().rss;
    const source = createUffdFaultSource({ regions: [{ name: 'r', memory }], mode, copyBufferPages: 8192 });
    const after = process.memoryUsage().rss;
    onTestFinished(() => source.stop());
    return after - before;
  }

  it("is backed by memory at creation, so no slot costs a page fault inside a writer's SIGBUS handler", () => {
    expect(residentGrowth('in-thread')).toBeGreaterThanOrEqual(30 * 2 ** 20);
  });

  it('copy-on-fault, for contrast: address space only, until the fault thread uses the slots', () => {
    expect(residentGrowth('copy-on-fault')).toBeLessThan(16 * 2 ** 20);
  });
});

describe('in-thread mode: writers racing for the same pages', () => {
  it('four threads write each page at once: one copy per page, with the old bytes; every store lands', async () => {
    const pool = new WriterPool(4);
    onTestFinished(() => pool.close());
    const { memory, b, source } = await tracked('in-thread', 64);
    await pool.attach('m', memory.handle);
    onTestFinished(() => pool.detach('m'));
    const seen = new Map<number, number>();
    for (let round = 0; round < 4; round++) {
      const pages = [0, 1, 2, 3].map((i) => round * 4 + i);
      // Each worker increments the first byte of the page and writes its index into the last.
      await Promise.all(pages.flatMap((p) => [0, 1, 2, 3].map(() => pool.write('m', p))));
      for (const f of source.takeFaults()) {
        expect(f.contents![0], `page ${f.page}'s copy`).toBe(0x44);
        seen.set(f.page, (seen.get(f.page) ?? 0) + 1);
      }
    }
    expect([...seen.entries()].sort((x, y) => x[0] - y[0])).toEqual(
      Array.from({ length: 16 }, (_, p) => [p, 1]),
    );
    for (let p = 0; p < 16; p++) {
      // The workers' increments are plain read-modify-writes racing each other (some may be lost, as
      // without tracking); each store landed after its fault, so the page changed and ends in its index.
      expect(b[p * PS], `page ${p}`).toBeGreaterThan(0x44);
      expect(b[p * PS + PS - 1], `page ${p}`).toBe(p);
    }
    const st = source.stats();
    expect(st.servedInThread).toBe(16);
    expect(st.faults).toBe(16 + st.faultOwnedWaits);
  });
});

describe('in-thread mode: the save-loop thread writes tracked memory itself', () => {
  it('with slots free: no error, as in copy-on-fault', async () => {
    const { b, source } = await tracked('in-thread', 4);
    b[1 * PS] = 1;
    b[2 * PS] = 2;
    const faults = source.takeFaults();
    expect(faults.map((f) => f.page)).toEqual([1, 2]);
    expect(source.stats().sameThread).toBe(0);
  });

  it('no free slot: the page goes into the reserve instead of waiting on itself; a typed error once; consistent', async () => {
    const { b, source } = await tracked('in-thread', 2);
    b[1 * PS] = 1;
    b[2 * PS] = 2; // both slots in use: only this thread's take() could return them
    b[3 * PS] = 3; // would wait forever on this very thread without the reserve
    expect(b[3 * PS]).toBe(3);
    expect(() => source.takeFaults()).toThrow(SameThreadWriteError);
    // Reported once (the snapshot is still consistent): the next takes return all three pages' old
    // bytes (a take holds at most copyBufferPages copies, so two takes).
    const pages: number[] = [];
    for (let i = 0; i < 2; i++) {
      for (const f of source.takeFaults()) {
        expect(f.contents!.every((x) => x === 0x44)).toBe(true); // before the next take reuses the buffer
        pages.push(f.page);
      }
    }
    expect(pages).toEqual([1, 2, 3]);
    expect(source.stats()).toMatchObject({ reserveUsed: 1, servedInThread: 3, sameThread: 1 });
  });

  it('no slot and no reserve left: released without a copy, never hangs, and the error sticks', async () => {
    const memory = TrackedMemory.allocate(20 * PS, { hugePages: false });
    const source = createUffdFaultSource({
      regions: [{ name: 'r', memory }],
      mode: 'in-thread',
      copyBufferPages: 1,
    });
    onTestFinished(async () => {
      await source.stop();
      memory.release();
    });
    await source.start();
    const b = memory.block(0);
    for (let p = 0; p < 20; p++) b[p * PS] = 5; // 1 slot, 16 reserve pages, then 3 pages with no copy
    expect(b[19 * PS]).toBe(5);
    const e = thrown(() => source.takeFaults());
    expect(e).toBeInstanceOf(SameThreadWriteError);
    expect((e as Error).message).toMatch(/emergency reserve were in use.*not consistent/);
    expect(() => source.takeFaults()).toThrow(SameThreadWriteError); // sticky until stop()
    expect(() => source.release(0, 0, 1)).toThrow(SameThreadWriteError);
    expect(source.stats()).toMatchObject({ reserveUsed: 16, servedInThread: 17, sameThread: 19 });
  });

  it('a page its own scan holds: released torn instead of a self-deadlock; release() and take throw', async () => {
    const { b, source } = await tracked('in-thread');
    expect(source.claim(0, 5, 1)).toBe(1);
    const before = source.read(0, 5, 1)[0];
    b[5 * PS] = 0x99; // the scan (this thread) would release it only after this store
    expect(b[5 * PS]).toBe(0x99);
    expect(before).toBe(0x44);
    expect(() => source.release(0, 5, 1)).toThrow(SameThreadWriteError);
    expect(() => source.takeFaults()).toThrow(/claimed and not yet released/);
    expect(source.stats()).toMatchObject({ scanOwnedWaits: 1, sameThread: 1 });
  });
});

describe('in-thread mode: SIGBUS that is not ours (child processes)', () => {
  const child = fileURLToPath(new URL('./test-support/sigbus-child.mjs', import.meta.url));
  const run = (how: string) =>
    spawnSync(process.execPath, ['--expose-gc', child, how], { timeout: 20_000, encoding: 'utf8' });

  it('a real SIGBUS outside tracked memory, no handler of the program: the process still dies of SIGBUS', () => {
    const r = run('default');
    expect(r.error, 'child timed out').toBeUndefined();
    const out = JSON.parse(r.stdout.split('\n')[0]!);
    expect(out).toEqual({ installedDuring: true, pages: [2], old: 9, now: 10 });
    expect(r.stdout).not.toContain('survived');
    expect(r.signal).toBe('SIGBUS');
  });

  it("the program's own SIGBUS handler still gets it, and is the installed action again afterwards", () => {
    const r = run('own-handler');
    expect(r.error, 'child timed out').toBeUndefined();
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      installedDuring: true,
      pages: [2],
      old: 9,
      now: 10,
      hitsBefore: 0, // our tracked write never reached it
      hitsAfter: 1,
      after: { installed: false, entries: 0 },
      ownHandlerBack: true,
    });
  });
});
