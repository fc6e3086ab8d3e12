import { randomFillSync } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapshotArgumentError, SnapshotFormatError } from '../errors.js';
import { FLAG_ZERO, FLAG_ZSTD } from '../format.js';
import { memorySink } from '../testing/collect.js';
import { Crafter } from '../testing/craft.js';
import { createSnapshotWriter } from '../writer.js';
import { zstdCodec } from '../zstd.js';
import { readSnapshot } from './read-snapshot.js';
import { restoreSnapshot, restoreSnapshotToFile } from './restore.js';
import { compareSnapshot, inspectSnapshot, verifySnapshot } from './verify.js';

const base = [
  { name: 'heap', pageSize: 4096, pageCount: 24 },
  { name: 'stack', pageSize: 1024, pageCount: 5 },
];
const regions = base;

async function sample(compression: 'none' | 'zstd' = 'zstd', scale = 1) {
  const regions = base.map((r) => ({ ...r, pageSize: r.pageSize / scale }));
  const mem = regions.map((r) => new Uint8Array(r.pageSize * r.pageCount));
  const ps = regions[0]!.pageSize;
  randomFillSync(mem[0]!, 0, ps * 4);
  for (let i = 8 * ps; i < 16 * ps; i++) mem[0]![i] = i % 5;
  mem[1]![3000 / scale] = 7;
  const sink = memorySink();
  const w = createSnapshotWriter({ regions, sink, compression, batchBytes: 16 * 1024 });
  w.writePages(0, 12, mem[0]!.subarray(12 * ps));
  w.writePages(1, 0, mem[1]!);
  w.writePages(0, 0, mem[0]!.subarray(0, 12 * ps));
  await w.finish();
  return { mem, bytes: sink.bytes() };
}

async function decodeAll(source: Parameters<typeof readSnapshot>[0], options = {}) {
  const events = [];
  for await (const ev of readSnapshot(source, options)) events.push(ev);
  return events;
}

async function expectFormatError(source: Parameters<typeof readSnapshot>[0], code?: string, offset?: number) {
  let caught: unknown;
  try {
    await decodeAll(source);
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a SnapshotFormatError').toBeInstanceOf(SnapshotFormatError);
  const e = caught as SnapshotFormatError;
  if (code) expect(e.code, e.message).toBe(code);
  if (offset !== undefined) expect(e.offset, e.message).toBe(offset);
  return e;
}

let valid: Awaited<ReturnType<typeof sample>>;
let dir: string;
beforeAll(async () => {
  valid = await sample();
  dir = await mkdtemp(join(tmpdir(), 'bgsnap-reader-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readSnapshot', () => {
  it('yields header, page runs covering every page once, and the trailer', async () => {
    const events = await decodeAll(valid.bytes);
    expect(events[0]!.type).toBe('header');
    expect(events.at(-1)!.type).toBe('trailer');
    const covered = regions.map((r) => new Uint8Array(r.pageCount));
    for (const ev of events) {
      if (ev.type !== 'pages') continue;
      for (let p = ev.first; p < ev.first + ev.count; p++) covered[ev.region]![p]!++;
      const ps = regions[ev.region]!.pageSize;
      const expected = valid.mem[ev.region]!.subarray(ev.first * ps, (ev.first + ev.count) * ps);
      if (ev.zero) expect(expected.every((b) => b === 0)).toBe(true);
      else expect(Buffer.compare(ev.data!, expected)).toBe(0);
    }
    for (const c of covered) expect([...c].every((n) => n === 1)).toBe(true);
  });

  it('reads the same stream from a path, an fd, a Readable in odd chunks, and bytes', async () => {
    const path = join(dir, 'sample.bgsnap');
    await writeFile(path, valid.bytes);
    const fd = openSync(path, 'r');
    const chunks: Uint8Array[] = [];
    for (let o = 0; o < valid.bytes.length; o += 777) chunks.push(valid.bytes.slice(o, o + 777));
    try {
      for (const source of [path, fd, Readable.from(chunks), valid.bytes]) {
        const restored = await restoreSnapshot(source);
        for (const [i, r] of restored.regions.entries())
          expect(Buffer.compare(r.data, valid.mem[i]!)).toBe(0);
      }
    } finally {
      closeSync(fd);
    }
  });

  it('fails every truncation of a valid stream, at every byte, naming an offset inside it', async () => {
    // Small pages keep the stream short enough to cut at every single byte.
    const { bytes } = await sample('zstd', 32);
    expect(bytes.length).toBeLessThan(4000);
    for (let n = 0; n < bytes.length; n++) {
      const e = await expectFormatError(bytes.subarray(0, n));
      expect(['TRUNCATED', 'RECORD_EXCEEDS_STREAM']).toContain(e.code);
      expect(e.offset).toBeLessThanOrEqual(n);
    }
  });

  it('fails a truncated Readable stream too (length unknown up front)', async () => {
    const e = await expectFormatError(
      Readable.from([valid.bytes.slice(0, valid.bytes.length - 30)]),
      'TRUNCATED',
    );
    expect(e.offset).toBeLessThan(valid.bytes.length);
  });

  it('rejects wrong magic, version and header flags at their offsets', async () => {
    for (const at of [0, 3, 7]) {
      const b = valid.bytes.slice();
      b[at]! ^= 0x20;
      await expectFormatError(b, 'BAD_MAGIC', at);
    }
    const v = valid.bytes.slice();
    v[8] = 2;
    await expectFormatError(v, 'UNSUPPORTED_VERSION', 8);
    const f = valid.bytes.slice();
    f[10] = 1;
    await expectFormatError(f, 'BAD_HEADER', 10);
    await expectFormatError(new TextEncoder().encode('hello, this is not a snapshot at all'), 'BAD_MAGIC', 0);
  });

  it('rejects a region of 2^60 bytes, naming the page count field, without allocating', async () => {
    const before = process.memoryUsage().rss;
    const bytes = new Crafter([{ name: 'huge', pageSize: 4096, pageCount: 2 ** 40 }], {
      headerPatch: (h) => new DataView(h.buffer).setBigUint64(32 + 5 + 4, 2n ** 48n, true),
    }).bytes();
    // writer id "craft" is 5 bytes: the region entry starts at 37, its page count at 41.
    await expectFormatError(bytes, 'BAD_REGION', 41);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 << 20);
  });

  it('accepts a 2^52-byte region in the header but refuses to restore it into memory', async () => {
    const c = new Crafter([{ name: 'big', pageSize: 4096, pageCount: 2 ** 40 }]);
    c.record({ flags: FLAG_ZERO, region: 0, count: 256, first: 2 ** 40 - 256 });
    const bytes = c.bytes();
    const report = await verifySnapshot(bytes);
    expect(report.ok).toBe(false);
    expect((report.error as SnapshotFormatError).code).toBe('TRUNCATED');
    expect(report.records).toBe(1);
    await expect(restoreSnapshot(bytes)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
  });

  it('rejects a record longer than the file before reading it', async () => {
    const c = new Crafter(regions);
    const at = c.offset;
    c.record({ flags: 0, region: 0, count: 2, first: 0, payload: new Uint8Array(100), payloadLength: 8192 });
    await expectFormatError(c.bytes(), 'RECORD_EXCEEDS_STREAM', at + 16);
    const d = new Crafter(regions);
    const at2 = d.offset;
    d.record({ flags: 0, region: 0, count: 2, first: 0, payload: new Uint8Array(8192) });
    await expectFormatError(d.bytes().subarray(0, at2 + 100), 'RECORD_EXCEEDS_STREAM', at2 + 16);
  });

  it('rejects records out of range and with absurd counts', async () => {
    const cases: [Parameters<Crafter['record']>[0], string, number][] = [
      [{ flags: FLAG_ZERO, region: 2, count: 1, first: 0 }, 'RECORD_OUT_OF_RANGE', 2],
      [{ flags: FLAG_ZERO, region: 0, count: 1, first: 24 }, 'RECORD_OUT_OF_RANGE', 8],
      [{ flags: FLAG_ZERO, region: 0, count: 2, first: 23 }, 'RECORD_OUT_OF_RANGE', 8],
      [{ flags: FLAG_ZERO, region: 0, count: 1, first: 2n ** 63n }, 'RECORD_OUT_OF_RANGE', 8],
      [{ flags: FLAG_ZERO, region: 0, count: 0, first: 0 }, 'BAD_RECORD', 4],
      [{ flags: FLAG_ZERO, region: 0, count: 0xffffffff, first: 0 }, 'BAD_RECORD', 4],
      [{ flags: FLAG_ZERO | FLAG_ZSTD, region: 0, count: 1, first: 0 }, 'BAD_RECORD', 1],
      [{ flags: FLAG_ZERO, region: 0, count: 1, first: 0, payload: new Uint8Array(4) }, 'BAD_RECORD', 16],
      [{ flags: FLAG_ZSTD, region: 0, count: 1, first: 0, payload: new Uint8Array(4096) }, 'BAD_RECORD', 16],
      [{ type: 0x51, flags: 0, region: 0, count: 1, first: 0 }, 'BAD_RECORD', 0],
    ];
    for (const [record, code, field] of cases) {
      const c = new Crafter(regions);
      const at = c.offset;
      c.record(record);
      await expectFormatError(c.bytes(), code, at + field);
    }
  });

  it('rejects a duplicated page even with valid checksums', async () => {
    const c = new Crafter(regions);
    c.record({ flags: FLAG_ZERO, region: 0, count: 10, first: 0 });
    const at = c.offset;
    c.record({ flags: FLAG_ZERO, region: 0, count: 3, first: 9 });
    const e = await expectFormatError(c.bytes(), 'DUPLICATE_PAGE', at + 8);
    expect(e.message).toContain('page 9');
  });

  it('rejects a valid-looking trailer over an incomplete stream', async () => {
    const c = new Crafter(regions);
    c.record({ flags: FLAG_ZERO, region: 0, count: 24, first: 0 });
    c.record({ flags: FLAG_ZERO, region: 1, count: 4, first: 0 });
    const at = c.offset;
    c.trailer({ regionCount: 2, recordCount: 2, pageCount: 28, zeroPageCount: 28, payloadBytes: 0 });
    const e = await expectFormatError(c.bytes(), 'INCOMPLETE', at);
    expect(e.message).toContain('first missing page 4');
  });

  it('rejects trailer totals that disagree with the stream, and bytes after the trailer', async () => {
    const build = (patch: Partial<Parameters<Crafter['trailer']>[0]>) => {
      const c = new Crafter(regions);
      c.record({ flags: FLAG_ZERO, region: 0, count: 24, first: 0 });
      c.record({ flags: FLAG_ZERO, region: 1, count: 5, first: 0 });
      const at = c.offset;
      c.trailer({
        regionCount: 2,
        recordCount: 2,
        pageCount: 29,
        zeroPageCount: 29,
        payloadBytes: 0,
        ...patch,
      });
      return { bytes: c.bytes(), at };
    };
    const good = build({});
    expect((await verifySnapshot(good.bytes)).ok).toBe(true);
    for (const [patch, field] of [
      [{ recordCount: 3 }, 8],
      [{ pageCount: 30 }, 16],
      [{ zeroPageCount: 1 }, 24],
      [{ payloadBytes: 5 }, 32],
      [{ offset: 7 }, 40],
      [{ regionCount: 1 }, 2],
    ] as const) {
      const { bytes, at } = build(patch);
      await expectFormatError(bytes, 'BAD_TRAILER', at + field);
    }
    const extra = new Uint8Array(good.bytes.length + 1);
    extra.set(good.bytes);
    await expectFormatError(extra, 'TRAILING_DATA', good.at + 60);
  });

  it('rejects zstd payloads that do not decode to exactly the record size', async () => {
    const codec = zstdCodec();
    const page = new Uint8Array(2 * 4096).fill(3);
    const twoPages = codec.compress(page, 3)!.slice();
    const garbage = new Uint8Array(50).fill(0x41);
    for (const payload of [twoPages, garbage]) {
      const c = new Crafter(regions);
      const at = c.offset;
      // One page declared, two pages (or nothing valid) inside.
      c.record({ flags: FLAG_ZSTD, region: 0, count: 1, first: 0, payload });
      await expectFormatError(c.bytes(), 'DECOMPRESSION_FAILED', at + 20);
    }
  });

  it('enforces the reader limits and the expected region table', async () => {
    await expect(decodeAll(valid.bytes, { maxRecordBytes: 4096 })).rejects.toMatchObject({
      code: 'LIMIT_EXCEEDED',
      offset: 24,
    });
    await expect(decodeAll(valid.bytes, { maxRecordBytes: 0 })).rejects.toBeInstanceOf(SnapshotArgumentError);
    await expect(
      decodeAll(valid.bytes, {
        expectRegions: [{ name: 'heap', pageSize: 4096, pageCount: 25 }, regions[1]!],
      }),
    ).rejects.toMatchObject({ code: 'UNEXPECTED_REGIONS' });
    expect((await decodeAll(valid.bytes, { expectRegions: regions })).length).toBeGreaterThan(2);
    await expect(decodeAll({} as never)).rejects.toBeInstanceOf(SnapshotArgumentError);
  });

  it('reports a checksum mismatch at the record that holds the flipped bit', async () => {
    const events = await decodeAll(valid.bytes);
    const rec = events.find((e) => e.type === 'pages' && e.data && !e.compressed)!;
    const b = valid.bytes.slice();
    b[rec.offset + 20 + 100]! ^= 1;
    await expectFormatError(b, 'CHECKSUM_MISMATCH', rec.offset);
  });
});

describe('restore, verify, inspect, compare', () => {
  it('restores into caller memory, clearing zero pages', async () => {
    const into = regions.map((r) => new Uint8Array(r.pageSize * r.pageCount).fill(0xaa));
    await restoreSnapshot(valid.bytes, { into });
    for (const [i, m] of valid.mem.entries()) expect(Buffer.compare(into[i]!, m)).toBe(0);
    await expect(restoreSnapshot(valid.bytes, { into: [into[0]!] })).rejects.toMatchObject({
      argument: 'into',
    });
  });

  it('restores a raw image file, 0600, regions concatenated; leaves nothing for a bad stream', async () => {
    const path = join(dir, 'image.raw');
    const image = await restoreSnapshotToFile(valid.bytes, path);
    expect(image.regionOffsets).toEqual([0, 24 * 4096]);
    expect(Buffer.compare(await readFile(path), Buffer.concat(valid.mem))).toBe(0);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const bad = join(dir, 'bad.raw');
    await expect(restoreSnapshotToFile(valid.bytes.subarray(0, 5000), bad)).rejects.toBeInstanceOf(
      SnapshotFormatError,
    );
    expect((await readdir(dir)).filter((f) => f.includes('bad.raw'))).toEqual([]);
  });

  it('inspects counts per region', async () => {
    const report = await inspectSnapshot(valid.bytes);
    expect(report.ok).toBe(true);
    expect(report.header!.regions).toEqual(regions);
    const heap = report.regions[0]!;
    expect(heap.pagesSeen).toBe(24);
    expect(heap.zeroPages + heap.dataPages).toBe(24);
    expect(heap.zeroPages).toBe(12);
    expect(heap.compressedPages).toBe(8);
    expect(report.regions[1]!.dataPages).toBe(1);
    expect(report.trailer!.pageCount).toBe(29);
    expect(report.bytesRead).toBe(valid.bytes.length);
    const cut = await inspectSnapshot(valid.bytes.subarray(0, valid.bytes.length - 100));
    expect(cut.ok).toBe(false);
    expect(cut.bytesRead).toBeLessThanOrEqual(valid.bytes.length - 100);
    expect(cut.records).toBeGreaterThan(0);
  });

  it('compares against expected memory page by page', async () => {
    expect((await compareSnapshot(valid.bytes, valid.mem)).ok).toBe(true);
    const changed = valid.mem.map((m) => m.slice());
    changed[0]![5 * 4096 + 9]! ^= 1; // a zero page that is no longer zero
    changed[0]![9 * 4096]! ^= 1; // a compressed page
    changed[1]![3000] = 0;
    const report = await compareSnapshot(valid.bytes, changed);
    expect(report.ok).toBe(false);
    expect(report.mismatchCount).toBe(3);
    expect(report.mismatches).toEqual(
      expect.arrayContaining([
        { region: 0, page: 5 },
        { region: 0, page: 9 },
        { region: 1, page: 2 },
      ]),
    );
    await expect(compareSnapshot(valid.bytes, [changed[0]!])).rejects.toBeInstanceOf(SnapshotArgumentError);
  });

  it('verify reports instead of throwing', async () => {
    const report = await verifySnapshot(valid.bytes.subarray(0, 100));
    expect(report.ok).toBe(false);
    expect(report.error).toBeInstanceOf(SnapshotFormatError);
  });
});
