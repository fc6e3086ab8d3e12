import { randomFillSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { SnapshotFormatError } from '../errors.js';
import { memorySink } from '../testing/collect.js';
import { createSnapshotWriter } from '../writer.js';
import { readSnapshot } from './read-snapshot.js';

interface Base {
  bytes: Uint8Array;
  /** [start, end) of every CRC-sealed frame: header, records, trailer. */
  frames: [number, number][];
}

/** A small but varied valid stream: zero, raw and zstd records in two regions, written out of order. */
async function makeBase(compression: 'none' | 'zstd', seed: number): Promise<Base> {
  const regions = [
    { name: 'a', pageSize: 64, pageCount: 40 },
    { name: 'région-β', pageSize: 128, pageCount: 9 },
  ];
  const mem = regions.map((r) => new Uint8Array(r.pageSize * r.pageCount));
  randomFillSync(mem[0]!, 0, 64 * 6);
  for (let i = 64 * 20; i < 64 * 30; i++) mem[0]![i] = (i * seed) % 3;
  mem[1]![200] = seed;
  const sink = memorySink();
  const w = createSnapshotWriter({ regions, sink, compression, batchBytes: 4096, writerId: `fuzz-${seed}` });
  w.writePages(1, 4, mem[1]!.subarray(4 * 128));
  w.writePages(0, 10, mem[0]!.subarray(10 * 64));
  w.writePages(1, 0, mem[1]!.subarray(0, 4 * 128));
  for (let p = 0; p < 10; p += 3) w.writePages(0, p, mem[0]!.subarray(p * 64, Math.min(10, p + 3) * 64));
  await w.finish();
  const bytes = sink.bytes();
  const frames: [number, number][] = [];
  let last = 0;
  for await (const ev of readSnapshot(bytes)) {
    if (ev.type === 'header') last = ev.header.byteLength;
    else {
      frames.push([frames.length === 0 ? 0 : frames.at(-1)![1], ev.offset]);
      last = ev.offset;
    }
  }
  // Rebuild as consecutive frames: header [0, first record), each record up to the next, trailer to the end.
  const starts = [0, ...frames.map(([, s]) => s)];
  const bounds: [number, number][] = starts.map((s, i) => [s, starts[i + 1] ?? bytes.length]);
  void last;
  return { bytes, frames: bounds };
}

type Mutation =
  | { kind: 'flip'; bits: [number, number][] }
  | { kind: 'truncate'; pos: number }
  | { kind: 'splice'; pos: number; del: number; insert: Uint8Array }
  | { kind: 'copy'; from: number; len: number; at: number }
  | { kind: 'u32'; pos: number; value: number }
  | { kind: 'u64'; pos: number; value: bigint };

const interesting32 = fc.oneof(
  fc.constantFrom(0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 4096, 65536, 1 << 20, 1 << 30),
  fc.nat({ max: 0xffffffff }),
);

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    bits: fc.array(fc.tuple(fc.nat(), fc.nat(7)), { minLength: 1, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), pos: fc.nat() }),
  fc.record({
    kind: fc.constant('splice' as const),
    pos: fc.nat(),
    del: fc.nat(80),
    insert: fc.uint8Array({ maxLength: 80 }),
  }),
  fc.record({
    kind: fc.constant('copy' as const),
    from: fc.nat(),
    len: fc.integer({ min: 1, max: 400 }),
    at: fc.nat(),
  }),
  fc.record({ kind: fc.constant('u32' as const), pos: fc.nat(), value: interesting32 }),
  fc.record({
    kind: fc.constant('u64' as const),
    pos: fc.nat(),
    value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  }),
);

function mutate(src: Uint8Array, m: Mutation): Uint8Array {
  const n = src.length;
  switch (m.kind) {
    case 'flip': {
      const out = src.slice();
      for (const [pos, bit] of m.bits) out[pos % n]! ^= 1 << bit;
      return out;
    }
    case 'truncate':
      return src.slice(0, m.pos % n);
    case 'splice': {
      const pos = m.pos % (n + 1);
      const out = new Uint8Array(n - Math.min(m.del, n - pos) + m.insert.length);
      out.set(src.subarray(0, pos));
      out.set(m.insert, pos);
      out.set(src.subarray(pos + Math.min(m.del, n - pos)), pos + m.insert.length);
      return out;
    }
    case 'copy': {
      // Re-insert an existing slice elsewhere: duplicated records and headers, misplaced trailers.
      const from = m.from % n;
      const piece = src.subarray(from, Math.min(n, from + m.len));
      const at = m.at % (n + 1);
      const out = new Uint8Array(n + piece.length);
      out.set(src.subarray(0, at));
      out.set(piece, at);
      out.set(src.subarray(at), at + piece.length);
      return out;
    }
    case 'u32': {
      const out = src.slice();
      new DataView(out.buffer).setUint32(m.pos % (n - 3), m.value, true);
      return out;
    }
    case 'u64': {
      const out = src.slice();
      new DataView(out.buffer).setBigUint64(m.pos % (n - 7), m.value, true);
      return out;
    }
  }
}

/** Recomputes every frame's CRC so that edits reach the structural checks behind the checksums. */
function rechain(bytes: Uint8Array, frames: [number, number][]): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  let crc = 0;
  for (const [start, end] of frames) {
    crc = crc32(out.subarray(start, end - 4), crc);
    view.setUint32(end - 4, crc, true);
  }
  return out;
}

function chunked(bytes: Uint8Array, size: number): Readable {
  const chunks: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += size) chunks.push(bytes.slice(o, o + size));
  return Readable.from(chunks);
}

/** Decodes fully; returns 'ok' or the format error. Any other exception fails the test. */
async function outcome(source: Uint8Array | Readable): Promise<'ok' | SnapshotFormatError> {
  try {
    for await (const _ of readSnapshot(source)) {
      // drain
    }
    return 'ok';
  } catch (error) {
    if (error instanceof SnapshotFormatError) return error;
    throw error;
  }
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

let bases: Base[];
beforeAll(async () => {
  bases = [await makeBase('zstd', 1), await makeBase('none', 2), await makeBase('zstd', 3)];
  for (const b of bases) expect(await outcome(b.bytes)).toBe('ok');
});

describe('fuzz: mutated streams', () => {
  it('never accept a changed stream, never throw anything but SnapshotFormatError, always name an offset inside it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(2),
        mutationArb,
        // A third of the cases arrive as a Readable in odd-sized chunks (length unknown up front).
        fc.oneof(
          { arbitrary: fc.constant(null), weight: 2 },
          { arbitrary: fc.integer({ min: 7, max: 700 }), weight: 1 },
        ),
        async (which, m, chunk) => {
          const base = bases[which]!;
          const bytes = mutate(base.bytes, m);
          const result = await outcome(chunk ? chunked(bytes, chunk) : bytes);
          if (result === 'ok') {
            expect(equal(bytes, base.bytes)).toBe(true);
          } else {
            expect(Number.isInteger(result.offset)).toBe(true);
            expect(result.offset).toBeGreaterThanOrEqual(0);
            expect(result.offset).toBeLessThanOrEqual(bytes.length);
          }
        },
      ),
      { numRuns: 8000 },
    );
  }, 60_000);

  it('with checksums repaired, edits reach the structural checks and still only yield SnapshotFormatError or a valid decode', async () => {
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat(2),
        fc.nat(),
        fc.oneof(
          fc.nat(255).map((v) => ({ width: 1, value: v })),
          interesting32.map((v) => ({ width: 4, value: v })),
        ),
        async (which, pos, edit) => {
          const base = bases[which]!;
          const edited = base.bytes.slice();
          const at = pos % (edited.length - edit.width + 1);
          if (edit.width === 1) edited[at] = edit.value;
          else new DataView(edited.buffer).setUint32(at, edit.value, true);
          const result = await outcome(rechain(edited, base.frames));
          if (result !== 'ok') {
            rejected++;
            expect(result.offset).toBeLessThanOrEqual(edited.length);
          }
        },
      ),
      { numRuns: 2500 },
    );
    // Most structural edits must be caught by something other than the checksum.
    expect(rejected).toBeGreaterThan(500);
  }, 60_000);
});
