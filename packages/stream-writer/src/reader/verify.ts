import { SnapshotArgumentError, SnapshotFormatError } from '../errors.js';
import type { SnapshotHeader, SnapshotTrailer } from '../format.js';
import type { SnapshotSource } from './byte-source.js';
import { type ReadSnapshotOptions, readSnapshot } from './read-snapshot.js';

/** Per-region counts gathered while reading a snapshot. */
export interface RegionCounts {
  /** Region name. */
  readonly name: string;
  /** Page size in bytes. */
  readonly pageSize: number;
  /** Pages the header declares. */
  readonly pageCount: number;
  /** Pages present in the records read. */
  readonly pagesSeen: number;
  /** Pages recorded as zero pages. */
  readonly zeroPages: number;
  /** Pages stored with data (compressed or not). */
  readonly dataPages: number;
  /** Pages stored zstd-compressed. */
  readonly compressedPages: number;
  /** Payload bytes in the stream for this region. */
  readonly storedBytes: number;
  /** Page records of this region. */
  readonly records: number;
}

/** What {@link inspectSnapshot} and {@link verifySnapshot} report. */
export interface SnapshotReport {
  /** True only for a complete stream that passed every check. */
  readonly ok: boolean;
  /** Why it is not ok: a {@link SnapshotFormatError} for bad bytes, or the I/O error of the source. */
  readonly error?: Error;
  /** The header, if it could be read. */
  readonly header?: SnapshotHeader;
  /** The trailer, if the stream was complete. */
  readonly trailer?: SnapshotTrailer;
  /** Counts per region over the records read (all of them when ok). */
  readonly regions: readonly RegionCounts[];
  /** Page records read. */
  readonly records: number;
  /** Stream bytes verified: up to the end of the last good frame, the end of the stream, or the offset of the error. */
  readonly bytesRead: number;
}

type MutableCounts = { -readonly [K in keyof RegionCounts]: RegionCounts[K] };

async function scan(
  source: SnapshotSource,
  options: ReadSnapshotOptions,
  hooks: {
    onHeader?: (header: SnapshotHeader) => void;
    onPages?: (
      ev: { region: number; first: number; count: number; data: Uint8Array | undefined },
      pageSize: number,
    ) => void;
  } = {},
): Promise<SnapshotReport> {
  let header: SnapshotHeader | undefined;
  let trailer: SnapshotTrailer | undefined;
  let counts: MutableCounts[] = [];
  let records = 0;
  let bytesRead = 0;
  try {
    for await (const ev of readSnapshot(source, options)) {
      if (ev.type === 'header') {
        header = ev.header;
        hooks.onHeader?.(header);
        bytesRead = header.byteLength;
        counts = header.regions.map((r) => ({
          name: r.name,
          pageSize: r.pageSize,
          pageCount: r.pageCount,
          pagesSeen: 0,
          zeroPages: 0,
          dataPages: 0,
          compressedPages: 0,
          storedBytes: 0,
          records: 0,
        }));
      } else if (ev.type === 'pages') {
        const c = counts[ev.region]!;
        c.pagesSeen += ev.count;
        c.records++;
        c.storedBytes += ev.storedBytes;
        if (ev.zero) c.zeroPages += ev.count;
        else c.dataPages += ev.count;
        if (ev.compressed) c.compressedPages += ev.count;
        records++;
        bytesRead = ev.offset + 24 + ev.storedBytes;
        hooks.onPages?.(ev, c.pageSize);
      } else {
        trailer = ev.trailer;
        bytesRead = ev.offset + 60;
      }
    }
    return { ok: true, header, trailer, regions: counts, records, bytesRead };
  } catch (error) {
    if (error instanceof SnapshotArgumentError) throw error;
    const e = error instanceof Error ? error : new Error(String(error));
    if (e instanceof SnapshotFormatError) bytesRead = e.offset;
    return { ok: false, error: e, header, regions: counts, records, bytesRead };
  }
}

/**
 * Reads the whole stream and checks everything: structure, every checksum, completeness (each page of
 * each region exactly once), the trailer's totals and, with `expectRegions`, the region table.
 * Never throws for bad data: the report's `ok` and `error` say what was wrong. Throws only for bad
 * options ({@link SnapshotArgumentError}).
 */
export function verifySnapshot(
  source: SnapshotSource,
  options: ReadSnapshotOptions = {},
): Promise<SnapshotReport> {
  return scan(source, options);
}

/**
 * Header, region table and per-region counts of a snapshot. Reads the whole stream (the counts are in
 * the records), so it verifies as a side effect; a damaged stream still reports what could be read.
 */
export function inspectSnapshot(
  source: SnapshotSource,
  options: ReadSnapshotOptions = {},
): Promise<SnapshotReport> {
  return scan(source, options);
}

/** A page whose snapshot contents differ from the expected memory. */
export interface PageMismatch {
  /** Region index. */
  readonly region: number;
  /** Page index within the region. */
  readonly page: number;
}

/** What {@link compareSnapshot} returns. */
export interface CompareReport extends SnapshotReport {
  /** True if the stream is valid and every page equals the expected memory. */
  readonly ok: boolean;
  /** Total number of differing pages. */
  readonly mismatchCount: number;
  /** The first differing pages (at most `maxMismatches`). */
  readonly mismatches: readonly PageMismatch[];
}

/**
 * Compares a snapshot with the memory it should hold, page by page: `expected[r]` is region r's
 * expected contents (pageSize × pageCount bytes). Zero pages must be zero there. The stream is
 * verified completely as well.
 */
export async function compareSnapshot(
  source: SnapshotSource,
  expected: readonly Uint8Array[],
  options: ReadSnapshotOptions & { maxMismatches?: number } = {},
): Promise<CompareReport> {
  const maxMismatches = options.maxMismatches ?? 100;
  if (!Number.isInteger(maxMismatches) || maxMismatches < 0) {
    throw new SnapshotArgumentError(
      'INVALID_OPTION',
      'maxMismatches',
      `expected a non-negative integer, got ${String(maxMismatches)}`,
    );
  }
  const mismatches: PageMismatch[] = [];
  let mismatchCount = 0;
  const zero = Buffer.alloc(1 << 16);
  const isZero = (b: Uint8Array, start: number, length: number) => {
    for (let o = start, end = start + length; o < end; o += zero.length) {
      const n = Math.min(zero.length, end - o);
      if (zero.compare(b, o, o + n, 0, n) !== 0) return false;
    }
    return true;
  };
  const report = await scan(source, options, {
    onHeader(header) {
      header.regions.forEach((r, i) => {
        const exp = expected[i];
        if (!(exp instanceof Uint8Array) || exp.byteLength !== r.pageSize * r.pageCount) {
          throw new SnapshotArgumentError(
            'INVALID_OPTION',
            `expected[${i}]`,
            `expected a Uint8Array of exactly ${r.pageSize * r.pageCount} bytes for region "${r.name}"`,
          );
        }
      });
    },
    onPages(ev, pageSize) {
      const exp = Buffer.from(
        expected[ev.region]!.buffer,
        expected[ev.region]!.byteOffset,
        expected[ev.region]!.byteLength,
      );
      for (let i = 0; i < ev.count; i++) {
        const at = (ev.first + i) * pageSize;
        const same = ev.data
          ? exp.compare(ev.data, i * pageSize, (i + 1) * pageSize, at, at + pageSize) === 0
          : isZero(exp, at, pageSize);
        if (!same) {
          mismatchCount++;
          if (mismatches.length < maxMismatches) mismatches.push({ region: ev.region, page: ev.first + i });
        }
      }
    },
  });
  return { ...report, ok: report.ok && mismatchCount === 0, mismatchCount, mismatches };
}
