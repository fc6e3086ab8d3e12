import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TrackedMemoryReleasedError } from './errors.js';
import { loadNative } from './native.js';
import { MAX_VIEW_BYTES, TrackedMemory } from './tracked-memory.js';
import { createUffdFaultSource } from './uffd-fault-source.js';

const GiB = 2 ** 30;
const ATTACH_WORKER = new URL('./test-support/attach-worker.mjs', import.meta.url);

// View finalizers run on a later turn of the event loop after a detach or a worker's exit.
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('TrackedMemory.allocate', () => {
  it.each([0, 4095, 4097, 1.5 * 4096, -4096, Number.NaN, 2 ** 47])('rejects byteLength %s', (n) => {
    expect(() => TrackedMemory.allocate(n)).toThrow(/byteLength/);
    expect(() => TrackedMemory.allocate(n)).toThrow(RangeError);
  });

  it('rejects a non-boolean hugePages', () => {
    expect(() => TrackedMemory.allocate(4096, { hugePages: 1 as unknown as boolean })).toThrow(/hugePages/);
  });

  it('maps zeroed memory of one page, with one block', () => {
    const m = TrackedMemory.allocate(4096, { hugePages: false });
    expect([m.byteLength, m.pageCount, m.blockCount, m.blockSize]).toEqual([4096, 1, 1, 4096]);
    expect(m.block(0).every((b) => b === 0)).toBe(true);
    m.release();
  });

  it('addresses a 64 GiB region through 1 GiB blocks and views', () => {
    const m = TrackedMemory.allocate(64 * GiB);
    expect(m.blockCount).toBe(64);
    const last = m.block(63);
    expect(last.length).toBe(GiB);
    last[GiB - 1] = 42;
    expect(m.view(64 * GiB - 4096, 4096)[4095]).toBe(42);
    // A window across a block boundary sees both blocks.
    m.block(9)[GiB - 1] = 7;
    m.block(10)[0] = 8;
    const across = m.view(10 * GiB - 2, 4);
    expect([across[1], across[2]]).toEqual([7, 8]);
    expect(() => m.view(0, MAX_VIEW_BYTES + 1)).toThrow(RangeError);
    expect(() => m.block(64)).toThrow(/index/);
    m.release();
  });

  it('property: byte x written through any view is byte x of its block', () => {
    const m = TrackedMemory.allocate(3 * GiB);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 * GiB - 1 }),
        fc.integer({ min: 1, max: 1 << 20 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (offset, len, k, value) => {
          const length = Math.min(len, 3 * GiB - offset);
          const i = k % length;
          m.view(offset, length)[i] = value;
          const x = offset + i;
          return m.block(Math.floor(x / m.blockSize))[x % m.blockSize] === value;
        },
      ),
      { numRuns: 200 },
    );
    m.release();
  });
});

describe('TrackedMemory lifetime', () => {
  it('use after release throws TrackedMemoryReleasedError and detaches this thread’s views', async () => {
    const binding = loadNative();
    await settle();
    const before = binding.liveMappings();
    const m = TrackedMemory.allocate(1 << 20);
    const b = m.block(0);
    const v = m.view(4096, 4096);
    b[0] = 1;
    m.release();
    m.release(); // idempotent
    expect(m.released).toBe(true);
    expect(() => m.block(0)).toThrow(TrackedMemoryReleasedError);
    expect(() => m.view(0, 1)).toThrow(TrackedMemoryReleasedError);
    expect(() => m.handle).toThrow(TrackedMemoryReleasedError);
    expect([b.length, v.length]).toEqual([0, 0]);
    expect(b[0]).toBeUndefined();
    await settle();
    expect(binding.liveMappings()).toBe(before);
  });

  it('a worker attaches by handle; the mapping lives until the last thread releases it', async () => {
    const binding = loadNative();
    await settle();
    const before = binding.liveMappings();
    const m = TrackedMemory.allocate(1 << 20);
    m.block(0)[100] = 9;
    const handle = structuredClone(m.handle);
    const w = new Worker(ATTACH_WORKER, { workerData: { handle, offset: 200, value: 5, readOffset: 100 } });
    try {
      const [first] = await once(w, 'message');
      expect(first.read).toBe(9); // the worker sees the main thread's write
      expect(m.block(0)[200]).toBe(5); // and the main thread sees the worker's
      m.release();
      await settle();
      expect(binding.liveMappings()).toBe(before + 1); // the worker still holds it
      w.postMessage('read');
      const [again] = await once(w, 'message');
      expect(again.read).toBe(9); // still mapped and intact for the worker
      w.postMessage('release');
      await once(w, 'message');
      await settle();
      expect(binding.liveMappings()).toBe(before);
      expect(() => TrackedMemory.attach(handle)).toThrow(TrackedMemoryReleasedError);
    } finally {
      await w.terminate();
    }
  });

  it('a worker that exits without release() drops its reference (env teardown)', async () => {
    const binding = loadNative();
    await settle();
    const before = binding.liveMappings();
    const m = TrackedMemory.allocate(1 << 20);
    const w = new Worker(ATTACH_WORKER, {
      workerData: { handle: m.handle, offset: 0, value: 1, readOffset: 0 },
    });
    await once(w, 'message');
    m.release();
    await settle();
    expect(binding.liveMappings()).toBe(before + 1);
    await w.terminate();
    await settle();
    expect(binding.liveMappings()).toBe(before);
  });

  it('attach rejects things that are not handles', () => {
    expect(() => TrackedMemory.attach({} as never)).toThrow(TypeError);
    expect(() => TrackedMemory.attach(null as never)).toThrow(TypeError);
  });

  it('a running fault source keeps released memory mapped until stop()', async () => {
    const binding = loadNative();
    await settle();
    const before = binding.liveMappings();
    const m = TrackedMemory.allocate(1 << 20);
    const source = createUffdFaultSource({ regions: [{ name: 'r', memory: m }] });
    await source.start();
    m.release();
    await settle();
    expect(binding.liveMappings()).toBe(before + 1);
    expect(source.read(0, 0, 1).length).toBe(4096);
    await source.stop();
    await settle();
    expect(binding.liveMappings()).toBe(before);
  });
});
