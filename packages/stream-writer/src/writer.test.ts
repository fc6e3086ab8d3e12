import { randomFillSync } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SinkError, SnapshotArgumentError, SnapshotStateError } from './errors.js';
import { readSnapshot } from './reader/read-snapshot.js';
import { restoreSnapshot } from './reader/restore.js';
import { verifySnapshot } from './reader/verify.js';
import { discardSink } from './sinks/discard-sink.js';
import { memorySink } from './testing/collect.js';
import { createSnapshotWriter, type SnapshotRegion } from './writer.js';

type Kind = 'zero' | 'random' | 'repeat' | 'mixed';

function fill(buf: Uint8Array, pageSize: number, kind: Kind, seed: number): void {
  if (kind === 'zero') return;
  if (kind === 'random') {
    randomFillSync(buf);
    return;
  }
  if (kind === 'repeat') {
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 31 + seed) & 0x0f;
    return;
  }
  const pages = buf.length / pageSize;
  for (let p = 0; p < pages; p++) {
    const sel = (p * 7 + seed) % 3;
    const page = buf.subarray(p * pageSize, (p + 1) * pageSize);
    if (sel === 1) randomFillSync(page);
    else if (sel === 2) page[(p * 13) % pageSize] = 1 + (p % 255); // one non-zero byte anywhere
  }
}

/** Writes every page once, in runs of varying length, in a shuffled order. */
function writeAll(
  w: ReturnType<typeof createSnapshotWriter>,
  regions: readonly SnapshotRegion[],
  mem: Uint8Array[],
  runs: number[],
  order: number,
): void {
  const pieces: [number, number, number][] = [];
  regions.forEach((r, ri) => {
    let p = 0;
    let k = 0;
    while (p < r.pageCount) {
      const n = Math.min(r.pageCount - p, runs[k++ % runs.length]!);
      pieces.push([ri, p, n]);
      p += n;
    }
  });
  // Deterministic shuffle: faults arrive out of order.
  for (let i = pieces.length - 1; i > 0; i--) {
    const j = (i * 7919 + order) % (i + 1);
    [pieces[i], pieces[j]] = [pieces[j]!, pieces[i]!];
  }
  for (const [ri, p, n] of pieces) {
    const ps = regions[ri]!.pageSize;
    // The caller may overwrite its memory right after writePages returns: hand over a copy and trash it.
    const copy = mem[ri]!.slice(p * ps, (p + n) * ps);
    w.writePages(ri, p, copy);
    copy.fill(0xee);
  }
}

const regionArb = fc.record({
  pageSizeLog: fc.integer({ min: 6, max: 13 }),
  pageCount: fc.integer({ min: 1, max: 200 }),
  kind: fc.constantFrom<Kind>('zero', 'random', 'repeat', 'mixed'),
});

describe('round trip', () => {
  it('restores exactly what was written, for any layout, content, run split, order and batch size', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(regionArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 5 }),
        fc.nat(1000),
        fc.constantFrom('none', 'zstd' as const),
        fc.integer({ min: 4096, max: 300_000 }),
        async (specs, runs, order, compression, batchBytes) => {
          const regions = specs.map((s, i) => ({
            name: `r${i}`,
            pageSize: 2 ** s.pageSizeLog,
            pageCount: s.pageCount,
          }));
          const mem = specs.map((s, i) => {
            const b = new Uint8Array(regions[i]!.pageSize * s.pageCount);
            fill(b, regions[i]!.pageSize, s.kind, order);
            return b;
          });
          const sink = memorySink();
          const w = createSnapshotWriter({
            regions,
            sink,
            compression,
            batchBytes,
            highWaterMark: batchBytes * 2,
          });
          writeAll(w, regions, mem, runs, order);
          const summary = await w.finish();
          const bytes = sink.bytes();
          expect(sink.closed).toBe(true);
          expect(summary.streamBytes).toBe(bytes.length);
          expect(summary.bytesOut).toBe(bytes.length);
          const restored = await restoreSnapshot(bytes, { expectRegions: regions });
          for (const [i, r] of restored.regions.entries()) expect(Buffer.compare(r.data, mem[i]!)).toBe(0);
          expect(restored.trailer.pageCount).toBe(regions.reduce((a, r) => a + r.pageCount, 0));
          // No sink write exceeds a batch unless a single page record does.
          const largestPage = Math.max(...regions.map((r) => r.pageSize));
          for (const c of sink.chunks)
            expect(c.length).toBeLessThanOrEqual(Math.max(batchBytes, largestPage) + 24);
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);

  it('records zero pages without data and counts them', async () => {
    const regions = [{ name: 'z', pageSize: 4096, pageCount: 1000 }];
    const sink = memorySink();
    const w = createSnapshotWriter({ regions, sink });
    w.writePages(0, 0, new Uint8Array(4096 * 1000));
    const s = await w.finish();
    expect(s.zeroPages).toBe(1000);
    expect(s.streamBytes).toBeLessThan(4096);
    const report = await verifySnapshot(sink.bytes());
    expect(report.ok).toBe(true);
    expect(report.regions[0]!.zeroPages).toBe(1000);
  });

  it('handles pages larger than a batch (2 MiB huge pages), zero and data, compressed or not', async () => {
    for (const compression of ['none', 'zstd'] as const) {
      const regions = [{ name: 'huge', pageSize: 2 << 20, pageCount: 3 }];
      const mem = new Uint8Array(3 * (2 << 20));
      randomFillSync(mem.subarray(0, 1 << 20)); // page 0: half random
      mem.fill(7, 4 << 20, 5 << 20); // page 2: half repetitive; page 1 stays zero
      const sink = memorySink();
      const w = createSnapshotWriter({ regions, sink, compression });
      w.writePages(0, 0, mem);
      const s = await w.finish();
      expect(s.zeroPages).toBe(1);
      const restored = await restoreSnapshot(sink.bytes());
      expect(Buffer.compare(restored.regions[0]!.data, mem)).toBe(0);
    }
  });

  it('detects a page that is zero except for its last byte', async () => {
    const regions = [{ name: 'a', pageSize: 4096, pageCount: 3 }];
    const mem = new Uint8Array(3 * 4096);
    mem[2 * 4096 - 1] = 9;
    const sink = memorySink();
    const w = createSnapshotWriter({ regions, sink });
    w.writePages(0, 0, mem);
    const s = await w.finish();
    expect(s.zeroPages).toBe(2);
    const restored = await restoreSnapshot(sink.bytes());
    expect(Buffer.compare(restored.regions[0]!.data, mem)).toBe(0);
  });

  it('compresses repetitive pages with zstd and stores random pages raw', async () => {
    const regions = [{ name: 'm', pageSize: 4096, pageCount: 64 }];
    const mem = new Uint8Array(64 * 4096);
    fill(mem.subarray(0, 32 * 4096), 4096, 'repeat', 1);
    randomFillSync(mem.subarray(32 * 4096));
    const sink = memorySink();
    const w = createSnapshotWriter({ regions, sink, compression: { zstd: { level: 5 } } });
    w.writePages(0, 0, mem.subarray(0, 32 * 4096));
    w.writePages(0, 32, mem.subarray(32 * 4096));
    const s = await w.finish();
    expect(s.compressedPages).toBe(32);
    const events = [];
    for await (const ev of readSnapshot(sink.bytes())) if (ev.type === 'pages') events.push(ev);
    expect(events.map((e) => e.compressed)).toEqual([true, false]);
    expect(events[0]!.storedBytes).toBeLessThan((32 * 4096) / 10);
  });
});

describe('a caller-supplied crc32', () => {
  it('is used for the chain and gives the same stream, byte for byte', async () => {
    const regions = [{ name: 'a', pageSize: 4096, pageCount: 300 }];
    const mem = new Uint8Array(4096 * 300);
    fill(mem, 4096, 'mixed', 3);
    const streams: Uint8Array[] = [];
    let calls = 0;
    let copies = 0;
    const counting = (data: Uint8Array, seed: number): number => {
      calls++;
      return zlibCrc32(data, seed);
    };
    const fused = (src: Uint8Array, dst: Uint8Array, seed: number): number => {
      copies++;
      dst.set(src);
      return zlibCrc32(src, seed);
    };
    const variants = [{}, { crc32: counting }, { crc32: counting, copyCrc32: fused }];
    for (const variant of variants) {
      const sink = memorySink();
      const w = createSnapshotWriter({ regions, sink, createdAtNs: 1n, batchBytes: 64 * 1024, ...variant });
      writeAll(w, regions, [mem], [1, 7, 64], 5);
      await w.finish();
      streams.push(sink.bytes());
    }
    expect(calls).toBeGreaterThan(300 / 64);
    expect(copies).toBeGreaterThan(300 / 64);
    for (const stream of streams.slice(1)) {
      expect(Buffer.compare(stream, streams[0]!)).toBe(0);
      expect((await verifySnapshot(stream)).ok).toBe(true);
    }
  });

  it('is refused, naming the option, when it is not a function or does not compute CRC-32', () => {
    const base = { regions: [{ name: 'a', pageSize: 4096, pageCount: 1 }], sink: discardSink() };
    const refused = (options: object): unknown => {
      try {
        createSnapshotWriter({ ...base, ...options });
      } catch (e) {
        return e;
      }
      return undefined;
    };
    for (const crc32 of [() => 0, 'crc32', (data: Uint8Array) => zlibCrc32(data, 0)]) {
      const error = refused({ crc32 });
      expect(error).toBeInstanceOf(SnapshotArgumentError);
      expect((error as SnapshotArgumentError).argument).toBe('crc32');
    }
    const noCopy = (src: Uint8Array, _dst: Uint8Array, seed: number): number => zlibCrc32(src, seed);
    const overrun = (src: Uint8Array, dst: Uint8Array, seed: number): number => {
      dst.fill(0);
      dst.set(src);
      return zlibCrc32(src, seed);
    };
    for (const copyCrc32 of [noCopy, overrun, 42]) {
      const error = refused({ copyCrc32 });
      expect(error).toBeInstanceOf(SnapshotArgumentError);
      expect((error as SnapshotArgumentError).argument).toBe('copyCrc32');
    }
  });
});

describe('writePages argument checks', () => {
  const regions = [
    { name: 'a', pageSize: 4096, pageCount: 10 },
    { name: 'b', pageSize: 512, pageCount: 4 },
  ];
  const make = () => createSnapshotWriter({ regions, sink: discardSink() });

  it('rejects bad regions, ranges and lengths with a typed error naming the argument', () => {
    const w = make();
    const cases: [() => void, string, string][] = [
      [() => w.writePages(2, 0, new Uint8Array(512)), 'REGION_OUT_OF_RANGE', 'region'],
      [() => w.writePages(-1, 0, new Uint8Array(512)), 'REGION_OUT_OF_RANGE', 'region'],
      [() => w.writePages(0.5, 0, new Uint8Array(512)), 'REGION_OUT_OF_RANGE', 'region'],
      [() => w.writePages(0, 0, new Uint8Array(100)), 'BAD_LENGTH', 'data'],
      [() => w.writePages(0, 0, new Uint8Array(0)), 'BAD_LENGTH', 'data'],
      [() => w.writePages(0, 9, new Uint8Array(8192)), 'PAGE_OUT_OF_RANGE', 'first'],
      [() => w.writePages(0, -1, new Uint8Array(4096)), 'PAGE_OUT_OF_RANGE', 'first'],
      [() => w.writePages(1, 1.5, new Uint8Array(512)), 'PAGE_OUT_OF_RANGE', 'first'],
    ];
    for (const [call, code, argument] of cases) {
      let caught: unknown;
      try {
        call();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(SnapshotArgumentError);
      expect((caught as SnapshotArgumentError).code).toBe(code);
      expect((caught as SnapshotArgumentError).argument).toBe(argument);
    }
    expect(w.stats.pages).toBe(0);
  });

  it('rejects a page written twice, leaving the rest of the run unrecorded', async () => {
    const w = make();
    w.writePages(0, 3, new Uint8Array(4096));
    expect(() => w.writePages(0, 2, new Uint8Array(3 * 4096))).toThrow(
      expect.objectContaining({ code: 'DUPLICATE_PAGE' }),
    );
    expect(w.stats.pages).toBe(1);
    // Pages 2 and 4 were not taken by the failed call, so they can still be written.
    w.writePages(0, 2, new Uint8Array(4096));
    w.writePages(0, 4, new Uint8Array(4096));
    expect(w.stats.pages).toBe(3);
  });

  it('refuses to finish an incomplete snapshot, names the first missing page, and stays usable', async () => {
    const sink = memorySink();
    const w = createSnapshotWriter({ regions, sink });
    w.writePages(0, 0, new Uint8Array(10 * 4096));
    w.writePages(1, 0, new Uint8Array(512));
    w.writePages(1, 2, new Uint8Array(1024));
    const err = await w.finish().catch((e) => e);
    expect(err).toBeInstanceOf(SnapshotStateError);
    expect(err.code).toBe('INCOMPLETE');
    expect(err.message).toContain('region 1 ("b") page 1');
    w.writePages(1, 1, new Uint8Array(512));
    await w.finish();
    expect((await verifySnapshot(sink.bytes())).ok).toBe(true);
  });

  it('refuses writes after finish and after abort', async () => {
    const w = createSnapshotWriter({
      regions: [{ name: 'x', pageSize: 512, pageCount: 1 }],
      sink: discardSink(),
    });
    w.writePages(0, 0, new Uint8Array(512));
    await w.finish();
    expect(() => w.writePages(0, 0, new Uint8Array(512))).toThrow(
      expect.objectContaining({ code: 'FINISHED' }),
    );
    const v = createSnapshotWriter({
      regions: [{ name: 'x', pageSize: 512, pageCount: 2 }],
      sink: discardSink(),
    });
    await v.abort();
    await v.abort();
    expect(() => v.writePages(0, 0, new Uint8Array(512))).toThrow(
      expect.objectContaining({ code: 'ABORTED' }),
    );
    await expect(v.finish()).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('validates options, naming the option and the range', () => {
    const sink = discardSink();
    const bad: [Record<string, unknown>, string][] = [
      [{ regions: [] }, 'regions'],
      [{ regions: [{ name: '', pageSize: 4096, pageCount: 1 }] }, 'regions[0].name'],
      [{ regions: [{ name: 'a', pageSize: 3000, pageCount: 1 }] }, 'regions[0].pageSize'],
      [{ regions: [{ name: 'a', pageSize: 4096, pageCount: 0 }] }, 'regions[0].pageCount'],
      [{ regions: [{ name: 'a', pageSize: 4096, pageCount: 2 ** 48 }] }, 'regions[0].pageCount'],
      [
        {
          regions: [
            { name: 'a', pageSize: 4096, pageCount: 1 },
            { name: 'a', pageSize: 4096, pageCount: 1 },
          ],
        },
        'regions[1].name',
      ],
      [{ batchBytes: 100 }, 'batchBytes'],
      [{ highWaterMark: 10 }, 'highWaterMark'],
      [{ lowWaterMark: 2 ** 41 }, 'lowWaterMark'],
      [{ compression: { zstd: { level: 40 } } }, 'compression.zstd.level'],
      [{ compression: 'gzip' }, 'compression'],
      [{ writerId: 'x'.repeat(2000) }, 'writerId'],
      [{ sink: {} }, 'sink'],
    ];
    for (const [patch, argument] of bad) {
      const options = { regions: [{ name: 'a', pageSize: 4096, pageCount: 1 }], sink, ...patch };
      expect(() => createSnapshotWriter(options as never), argument).toThrow(
        expect.objectContaining({ name: 'SnapshotArgumentError', argument }),
      );
    }
  });
});

describe('backpressure and sink timing', () => {
  it('reports needsDrain above the high-water mark and resolves drain below the low-water mark', async () => {
    const regions = [{ name: 'a', pageSize: 4096, pageCount: 256 }];
    const sink = memorySink({ delayMs: 2 });
    let now = 0;
    const clock = { now: () => now };
    const reports: [number, number][] = [];
    const w = createSnapshotWriter({
      regions,
      sink,
      clock,
      batchBytes: 64 * 1024,
      highWaterMark: 256 * 1024,
      lowWaterMark: 128 * 1024,
      onSinkWrite: (bytes, blocked) => reports.push([bytes, blocked]),
    });
    const page = randomFillSync(new Uint8Array(4096 * 8));
    let sawDrain = false;
    for (let p = 0; p < 256; p += 8) {
      w.writePages(0, p, page);
      now += 1000;
      if (w.needsDrain) {
        sawDrain = true;
        expect(w.stats.bufferedBytes).toBeGreaterThanOrEqual(256 * 1024);
        await w.drain();
        expect(w.stats.bufferedBytes).toBeLessThanOrEqual(128 * 1024);
      }
    }
    expect(sawDrain).toBe(true);
    const s = await w.finish();
    expect(reports.length).toBe(s.sinkWrites);
    expect(reports.reduce((a, [b]) => a + b, 0)).toBe(s.bytesOut);
    expect(reports.reduce((a, [, t]) => a + t, 0)).toBe(s.sinkBlockedNs);
  });

  it('measures how long each sink write was blocked with the injected clock', async () => {
    let now = 0;
    const clock = { now: () => now };
    const blocked: number[] = [];
    const sink = {
      write: async () => {
        now += 5_000_000; // the simulated sink advances virtual time by 5 ms per write
      },
      close: async () => undefined,
      abort: async () => undefined,
    };
    const w = createSnapshotWriter({
      regions: [{ name: 'a', pageSize: 4096, pageCount: 64 }],
      sink,
      clock,
      batchBytes: 32 * 1024,
      onSinkWrite: (_b, ns) => blocked.push(ns),
    });
    w.writePages(0, 0, randomFillSync(new Uint8Array(64 * 4096)));
    const s = await w.finish();
    expect(blocked.length).toBeGreaterThanOrEqual(8);
    expect(new Set(blocked)).toEqual(new Set([5_000_000]));
    expect(s.sinkBlockedNs).toBe(5_000_000 * blocked.length);
    expect(s.maxSinkBlockedNs).toBe(5_000_000);
  });

  it('flush hands a partial batch to the sink', async () => {
    const sink = memorySink();
    const w = createSnapshotWriter({ regions: [{ name: 'a', pageSize: 4096, pageCount: 4 }], sink });
    w.writePages(0, 0, randomFillSync(new Uint8Array(4096)));
    expect(sink.chunks.length).toBe(0);
    await w.flush();
    expect(sink.chunks.length).toBe(1);
    expect(w.stats.bufferedBytes).toBe(0);
  });
});

describe('failing sinks', () => {
  it('ends the snapshot with the sink error, aborts the sink, and fails later calls', async () => {
    const sink = memorySink({ failAfterWrites: 1 });
    const w = createSnapshotWriter({
      regions: [{ name: 'a', pageSize: 4096, pageCount: 64 }],
      sink,
      batchBytes: 16 * 1024,
      highWaterMark: 32 * 1024,
    });
    const data = randomFillSync(new Uint8Array(4096));
    let error: unknown;
    for (let p = 0; p < 64 && !error; p++) {
      try {
        w.writePages(0, p, data);
        if (w.needsDrain) await w.drain();
      } catch (e) {
        error = e;
      }
    }
    expect(error).toBeInstanceOf(SinkError);
    expect((error as SinkError).code).toBe('ENOSPC');
    await expect(w.finish()).rejects.toBeInstanceOf(SinkError);
    expect(() => w.writePages(0, 63, data)).toThrow(SinkError);
    await new Promise((r) => setTimeout(r, 5));
    expect(sink.aborted).toBe(true);
    expect(sink.closed).toBe(false);
    // What reached the sink before the failure is not a complete snapshot.
    expect((await verifySnapshot(sink.bytes())).ok).toBe(false);
  });

  it('turns a sink whose write throws synchronously into a SinkError', async () => {
    let aborted = false;
    const sink = {
      write: () => {
        throw new TypeError('boom');
      },
      close: async () => undefined,
      abort: async () => {
        aborted = true;
      },
    };
    const w = createSnapshotWriter({
      regions: [{ name: 'a', pageSize: 4096, pageCount: 1 }],
      sink: sink as never,
    });
    w.writePages(0, 0, randomFillSync(new Uint8Array(4096)));
    const err = await w.finish().catch((e) => e);
    expect(err).toBeInstanceOf(SinkError);
    expect(err.code).toBe('SINK_FAILED');
    expect(err.message).toContain('boom');
    expect(aborted).toBe(true);
  });

  it('lets a close in progress win over abort: a completed snapshot stays complete', async () => {
    let aborted = false;
    let finishClose!: () => void;
    const sink = {
      write: async () => undefined,
      close: () =>
        new Promise<void>((resolve) => {
          finishClose = resolve;
        }),
      abort: async () => {
        aborted = true;
      },
    };
    const w = createSnapshotWriter({ regions: [{ name: 'a', pageSize: 4096, pageCount: 1 }], sink });
    w.writePages(0, 0, new Uint8Array(4096));
    const finished = w.finish();
    await new Promise((r) => setTimeout(r, 5));
    const abort = w.abort(new Error('too late'));
    finishClose();
    await expect(finished).resolves.toMatchObject({ pages: 1 });
    await abort;
    expect(aborted).toBe(false);
  });

  it('aborts while the trailer is still queued: finish rejects and the sink is aborted', async () => {
    let aborted = false;
    let release!: () => void;
    const sink = {
      write: () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
      close: async () => undefined,
      abort: async () => {
        aborted = true;
      },
    };
    const w = createSnapshotWriter({ regions: [{ name: 'a', pageSize: 4096, pageCount: 1 }], sink });
    w.writePages(0, 0, new Uint8Array(4096));
    const finished = w.finish();
    await new Promise((r) => setTimeout(r, 5));
    const abort = w.abort();
    release();
    await expect(finished).rejects.toMatchObject({ code: 'ABORTED' });
    await abort;
    expect(aborted).toBe(true);
  });

  it('aborts the sink when close fails', async () => {
    let aborted = false;
    const sink = {
      write: async () => undefined,
      close: async () => {
        throw Object.assign(new Error('I/O error'), { code: 'EIO' });
      },
      abort: async () => {
        aborted = true;
      },
    };
    const w = createSnapshotWriter({ regions: [{ name: 'a', pageSize: 4096, pageCount: 1 }], sink });
    w.writePages(0, 0, new Uint8Array(4096));
    await expect(w.finish()).rejects.toMatchObject({ name: 'SinkError', code: 'EIO', operation: 'close' });
    expect(aborted).toBe(true);
  });
});
