import { describe, expect, it } from 'vitest';
import { SameThreadWriteError } from './errors.js';
import { TrackedMemory } from './tracked-memory.js';
import { createUffdFaultSource } from './uffd-fault-source.js';

describe('the fault-handling thread writes protected memory itself', () => {
  it('plain: no hang; the page keeps its snapshot contents and the next take throws SameThreadWriteError', async () => {
    const memory = TrackedMemory.allocate(16 * 4096, { hugePages: false });
    const b = memory.block(0);
    b.fill(0x11);
    const source = createUffdFaultSource({ regions: [{ name: 'r', memory }] });
    try {
      expect(source.capabilities.knowsThreadId).toBe(true);
      await source.start();
      b[3 * 4096 + 5] = 0x22; // would wait on this very thread forever without detection
      expect(b[3 * 4096 + 5]).toBe(0x22);
      expect(() => source.takeFaults()).toThrow(SameThreadWriteError);
      // The error is reported once; the event itself is still delivered, and reading the page gives
      // its contents at start(), not the write that followed.
      const faults = source.takeFaults();
      expect(faults.map((f) => f.page)).toEqual([3]);
      const page = source.read(0, 3, 1);
      expect(page.every((x) => x === 0x11)).toBe(true);
      // A range read around it patches just that page.
      b[4 * 4096] = 0x33; // another same-thread write, now on page 4
      await expect(source.waitForFaults(1e9)).rejects.toBeInstanceOf(SameThreadWriteError);
      const range = source.read(0, 2, 4);
      expect(range.every((x) => x === 0x11)).toBe(true);
      source.release(0, 0, 16);
      expect(source.stats().sameThread).toBe(2);
      expect(source.read(0, 3, 1)[5]).toBe(0x22); // released: live memory again
    } finally {
      await source.stop();
      memory.release();
    }
  });

  it('copy-on-fault: the write proceeds and the event carries the old contents; no error', async () => {
    const memory = TrackedMemory.allocate(16 * 4096, { hugePages: false });
    const b = memory.block(0);
    b.fill(0x44);
    const source = createUffdFaultSource({ regions: [{ name: 'r', memory }], mode: 'copy-on-fault' });
    try {
      await source.start();
      b[7 * 4096] = 0x55;
      const faults = await source.waitForFaults(1e9);
      expect(faults).toHaveLength(1);
      expect(faults[0]!.page).toBe(7);
      expect(faults[0]!.contents!.every((x) => x === 0x44)).toBe(true);
      expect(source.claim(0, 6, 3)).toBe(1); // page 7 belongs to the fault path
    } finally {
      await source.stop();
      memory.release();
    }
  });
});
