import { describe, expect, it } from 'vitest';
import { TrackedMemory } from './tracked-memory.js';
import { createUffdFaultSource } from './uffd-fault-source.js';

const PAGE = 4096;

describe('waitForFaults timers', () => {
  it('a wait longer than a Node timer holds neither warns nor comes back after 1 ms', async () => {
    const memory = TrackedMemory.allocate(4 * PAGE, { hugePages: false });
    const source = createUffdFaultSource({ regions: [{ name: 'r', memory }], mode: 'plain' });
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      await source.start();
      let settled = false;
      const wait = source.waitForFaults(3e15).then((faults) => {
        settled = true;
        return faults;
      }); // 3e9 ms: over 2^31 - 1 ms
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(settled).toBe(false);
      await source.stop();
      expect(await wait).toEqual([]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => w.name)).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
      await source.stop();
      memory.release();
    }
  });
});
