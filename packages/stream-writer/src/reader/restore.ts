import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SnapshotArgumentError, SnapshotFormatError } from '../errors.js';
import { HEADER_FIXED_BYTES, type SnapshotHeader, type SnapshotTrailer } from '../format.js';
import type { SnapshotSource } from './byte-source.js';
import { type ReadSnapshotOptions, readSnapshot } from './read-snapshot.js';

/** Options of {@link restoreSnapshot}. */
export interface RestoreOptions extends ReadSnapshotOptions {
  /**
   * Memory to restore into, one view per region of exactly pageSize × pageCount bytes (for example the
   * native backend's tracked memory). Zero pages are cleared. Without it, fresh ArrayBuffers are
   * allocated. On error the views hold a partial restore.
   */
  into?: readonly Uint8Array[];
  /** Largest total of region bytes to allocate when `into` is not given. Default 4 GiB. */
  maxBytes?: number;
}

/** One restored region. */
export interface RestoredRegion {
  /** Region name from the header. */
  readonly name: string;
  /** Page size in bytes. */
  readonly pageSize: number;
  /** Number of pages. */
  readonly pageCount: number;
  /** The region's memory as it was at snapshot time. */
  readonly data: Uint8Array;
}

/** What {@link restoreSnapshot} returns: the verified header and trailer and each region's bytes. */
export interface RestoredSnapshot {
  /** The verified header. */
  readonly header: SnapshotHeader;
  /** The verified trailer. */
  readonly trailer: SnapshotTrailer;
  /** Each region with its restored bytes, in table order. */
  readonly regions: readonly RestoredRegion[];
}

/**
 * Reads and verifies a whole snapshot and restores every region into memory. Resolves only for a
 * complete, valid stream; rejects with a {@link SnapshotFormatError} otherwise.
 */
export async function restoreSnapshot(
  source: SnapshotSource,
  options: RestoreOptions = {},
): Promise<RestoredSnapshot> {
  const maxBytes = options.maxBytes ?? 2 ** 32;
  if (!Number.isInteger(maxBytes) || maxBytes < 0) {
    throw new SnapshotArgumentError(
      'INVALID_OPTION',
      'maxBytes',
      `expected a non-negative integer, got ${String(maxBytes)}`,
    );
  }
  let header: SnapshotHeader | undefined;
  let trailer: SnapshotTrailer | undefined;
  let targets: Uint8Array[] = [];
  for await (const ev of readSnapshot(source, options)) {
    if (ev.type === 'header') {
      header = ev.header;
      targets = allocateTargets(header, options.into, maxBytes);
    } else if (ev.type === 'pages') {
      const pageSize = header!.regions[ev.region]!.pageSize;
      const target = targets[ev.region]!;
      const start = ev.first * pageSize;
      if (ev.data) target.set(ev.data, start);
      else if (options.into) target.fill(0, start, start + ev.count * pageSize);
    } else {
      trailer = ev.trailer;
    }
  }
  return {
    header: header!,
    trailer: trailer!,
    regions: header!.regions.map((r, i) => ({ ...r, data: targets[i]! })),
  };
}

function allocateTargets(
  header: SnapshotHeader,
  into: readonly Uint8Array[] | undefined,
  maxBytes: number,
): Uint8Array[] {
  if (into) {
    if (into.length !== header.regions.length) {
      throw new SnapshotArgumentError(
        'INVALID_OPTION',
        'into',
        `expected ${header.regions.length} views, one per region, got ${into.length}`,
      );
    }
    return header.regions.map((r, i) => {
      const view = into[i]!;
      if (!(view instanceof Uint8Array) || view.byteLength !== r.pageSize * r.pageCount) {
        throw new SnapshotArgumentError(
          'INVALID_OPTION',
          `into[${i}]`,
          `expected a Uint8Array of exactly ${r.pageSize * r.pageCount} bytes`,
        );
      }
      return view;
    });
  }
  const total = header.regions.reduce((sum, r) => sum + r.pageSize * r.pageCount, 0);
  if (total > maxBytes) {
    throw new SnapshotFormatError(
      'LIMIT_EXCEEDED',
      HEADER_FIXED_BYTES,
      `the regions total ${total} bytes, more than the maxBytes option allows (${maxBytes})`,
    );
  }
  return header.regions.map((r) => new Uint8Array(r.pageSize * r.pageCount));
}

/** Options of {@link restoreSnapshotToFile}. */
export interface RestoreToFileOptions extends ReadSnapshotOptions {
  /** Permission bits of the image file (set with fchmod). Default 0o600. */
  mode?: number;
}

/** What {@link restoreSnapshotToFile} returns. */
export interface RestoredImage {
  /** The verified header. */
  readonly header: SnapshotHeader;
  /** The verified trailer. */
  readonly trailer: SnapshotTrailer;
  /** Image size: the sum of all regions' bytes. */
  readonly bytes: number;
  /** Byte offset of each region inside the image (regions are concatenated in table order). */
  readonly regionOffsets: readonly number[];
}

/**
 * Restores a snapshot into a raw image file: the regions concatenated in table order, zero pages left
 * as holes of a sparse file. Written under a temporary name and renamed to `path` only after the
 * whole stream verified, so a bad snapshot never leaves an image behind.
 */
export async function restoreSnapshotToFile(
  source: SnapshotSource,
  path: string,
  options: RestoreToFileOptions = {},
): Promise<RestoredImage> {
  const mode = options.mode ?? 0o600;
  const temp = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.partial`,
  );
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  let ok = false;
  try {
    await handle.chmod(mode);
    let header: SnapshotHeader | undefined;
    let trailer: SnapshotTrailer | undefined;
    let offsets: number[] = [];
    let total = 0;
    for await (const ev of readSnapshot(source, options)) {
      if (ev.type === 'header') {
        header = ev.header;
        offsets = header.regions.map((r) => {
          const at = total;
          total += r.pageSize * r.pageCount;
          return at;
        });
        await handle.truncate(total);
      } else if (ev.type === 'pages') {
        if (!ev.data) continue;
        const pos = offsets[ev.region]! + ev.first * header!.regions[ev.region]!.pageSize;
        for (let done = 0; done < ev.data.byteLength; ) {
          const { bytesWritten } = await handle.write(ev.data, done, ev.data.byteLength - done, pos + done);
          done += bytesWritten;
        }
      } else {
        trailer = ev.trailer;
      }
    }
    await handle.sync();
    await handle.close();
    await rename(temp, path);
    ok = true;
    return { header: header!, trailer: trailer!, bytes: total, regionOffsets: offsets };
  } finally {
    if (!ok) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
    }
  }
}
