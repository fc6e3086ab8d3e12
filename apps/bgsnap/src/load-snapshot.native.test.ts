import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSnapshot } from './load-snapshot.js';
import { SnapshotLoadAbortedError, SnapshotLoadError } from './load-snapshot-errors.js';
import { allocateReference, copyMemory, fillMemory } from './workload/fill.js';

// snapshot() with native memory runs its loop in dist/snapshot-worker.js, so the save side uses the build.
const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js');
const uffd = await import('@bgsnap/fault-source-uffd').catch(() => undefined);
const available = existsSync(DIST) && uffd?.probeUffd().available;
const SIZE = 8 * 2 ** 20;
const PAGE = 4096;
const ZERO_PAGES = 64;
let dir = '';
let saved = ''; // a snapshot of live memory, and the reference captured at its start
let reference: Uint8Array = new Uint8Array(0);

/** Snapshots SIZE bytes while the main thread keeps writing; returns the reference at snapshot start. */
async function snapshotUnderWriters(out: string): Promise<Uint8Array> {
  const { snapshot } = (await import(DIST)) as typeof import('./index.js');
  const memory = uffd!.TrackedMemory.allocate(SIZE);
  fillMemory(memory, 7);
  const view = memory.block(0);
  view.fill(0, 0, ZERO_PAGES * PAGE); // zero pages too, which the loader skips
  const ref = allocateReference(memory);
  let paused = false;
  let done = false;
  let writes = 0;
  const writer = (async () => {
    let x = 4242;
    while (!done) {
      if (!paused) {
        for (let k = 0; k < 64; k++) {
          // xorshift32: every bit varies (an LCG's low bits cycle and would rewrite the same values).
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          const r = x >>> 0;
          const page = ZERO_PAGES + (r % (SIZE / PAGE - ZERO_PAGES)); // the zero pages stay zero
          view[page * PAGE + ((r >>> 11) % PAGE)] = (r >>> 24) ^ writes; // blocks until saved
          writes++;
        }
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  const report = await snapshot({
    memory,
    to: out,
    limiter: 'token-bucket:rate=32MiB/s,burst=512KiB',
    quiesce: {
      pause: () => {
        paused = true;
        copyMemory(memory, ref);
      },
      resume: () => {
        paused = false;
      },
    },
  });
  done = true;
  await writer;
  expect(writes).toBeGreaterThan(0);
  expect(report.pages.faulted).toBeGreaterThan(0);
  // The memory moved on after the snapshot started; the image must not follow it.
  expect(Buffer.compare(view, ref)).not.toBe(0);
  memory.release();
  return ref;
}

function fresh(size = SIZE) {
  return uffd!.TrackedMemory.allocate(size);
}

async function loadError(promise: Promise<unknown>): Promise<SnapshotLoadError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SnapshotLoadError);
  return error as SnapshotLoadError;
}

describe.skipIf(!available)('loadSnapshot() after snapshot()', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bgsnap-load-test-'));
    saved = join(dir, 'state.bgsnap');
    reference = await snapshotUnderWriters(saved);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips memory written by a live writer, byte for byte against the reference at snapshot start', async () => {
    const memory = fresh();
    const calls: number[] = [];
    const result = await loadSnapshot({
      from: saved,
      memory,
      onProgress: (p) => calls.push(p.pagesDone),
      progressIntervalMs: 0,
    });
    expect(Buffer.compare(memory.block(0), reference)).toBe(0);
    const [region] = result.regions;
    expect(region?.name).toBe('memory');
    expect(region!.pagesWritten + region!.zeroPages).toBe(SIZE / PAGE);
    expect(region!.zeroPages).toBeGreaterThanOrEqual(ZERO_PAGES);
    expect(calls.at(-1)).toBe(SIZE / PAGE);
    memory.release();
  });

  it('reads a Readable into named regions, and zeroes zero pages of used memory when asked', async () => {
    const memory = fresh();
    memory.block(0).fill(0xff);
    await loadSnapshot({ from: createReadStream(saved), memory: { memory }, zeroPages: 'write' });
    expect(Buffer.compare(memory.block(0), reference)).toBe(0);
    memory.release();
  });

  it('a size mismatch names the region and both sizes, and writes nothing', async () => {
    const memory = fresh(4 * 2 ** 20);
    const e = await loadError(loadSnapshot({ from: saved, memory }));
    expect(e.code).toBe('REGION_SIZE_MISMATCH');
    expect(e.region).toBe('memory');
    expect(e.message).toMatch(/'memory' is 8388608 bytes in the snapshot but 4194304 bytes in the target/);
    expect(memory.block(0).every((b) => b === 0)).toBe(true);
    memory.release();
  });

  it('a region on one side only is an error unless allowed', async () => {
    const memory = fresh();
    const other = fresh(2 * 2 ** 20);
    const missing = await loadError(
      loadSnapshot({
        from: saved,
        memory: new Map([
          ['memory', memory],
          ['other', other],
        ]),
      }),
    );
    expect(missing.code).toBe('MISSING_REGION');
    expect(missing.region).toBe('other');
    const extra = await loadError(loadSnapshot({ from: saved, memory: [{ name: 'heap', memory }] }));
    expect(extra.code).toBe('EXTRA_REGION');
    expect(extra.message).toMatch(/region 'memory'.*heap/);
    const result = await loadSnapshot({
      from: saved,
      memory: { memory, other },
      allowMissingRegions: true,
    });
    expect(result.missingRegions).toEqual(['other']);
    expect(Buffer.compare(memory.block(0), reference)).toBe(0);
    const skipped = await loadSnapshot({
      from: saved,
      memory: { heap: other },
      allowExtraRegions: true,
      allowMissingRegions: true,
    });
    expect(skipped.skippedRegions).toEqual(['memory']);
    expect(skipped.bytesWritten).toBe(0);
    memory.release();
    other.release();
  });

  it('abort: a typed AbortError; pages written so far stay', async () => {
    const memory = fresh();
    const controller = new AbortController();
    const promise = loadSnapshot({
      from: saved,
      memory,
      signal: controller.signal,
      progressIntervalMs: 0,
      onProgress: () => controller.abort(new Error('shutting down')),
    });
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SnapshotLoadAbortedError);
    expect((error as Error).name).toBe('AbortError');
    expect((error as Error).message).toMatch(/shutting down/);
    const written = (error as SnapshotLoadAbortedError).pagesWritten;
    expect(written).toBeLessThan(SIZE / PAGE);
    const before = await loadSnapshot({ from: saved, memory: fresh(), signal: AbortSignal.abort() }).catch(
      (e) => e,
    );
    expect(before).toBeInstanceOf(SnapshotLoadAbortedError);
    expect((before as SnapshotLoadAbortedError).pagesWritten).toBe(0);
    memory.release();
  });

  it('a stream corrupt after pages were written says memory is partial', async () => {
    const bytes = readFileSync(saved);
    const bad = Buffer.from(bytes);
    bad[bad.length - 64]! ^= 0xff; // near the end: most pages are written before the reader notices
    const corrupt = join(dir, 'corrupt.bgsnap');
    writeFileSync(corrupt, bad);
    const memory = fresh();
    const e = await loadError(loadSnapshot({ from: corrupt, memory }));
    expect(e.code).toBe('CORRUPT_STREAM');
    expect(e.pagesWritten).toBeGreaterThan(0);
    expect(e.message).toMatch(/memory is partial/);
    const truncated = await loadError(
      loadSnapshot({ from: bytes.subarray(0, bytes.length - 100), memory: fresh() }),
    );
    expect(truncated.code).toBe('CORRUPT_STREAM');
    memory.release();
  });
});
