import { randomBytes } from 'node:crypto';
import { constants, statfsSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RestoreError, SnapshotArgumentError, SnapshotFormatError } from '../errors.js';
import { HEADER_FIXED_BYTES, type SnapshotHeader, type SnapshotTrailer } from '../format.js';
import { describeOutputTarget, type OutputTargetKind, resolveLink } from '../sinks/output-target.js';
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
  /**
   * Largest image accepted, bytes (the sum of all regions' bytes, holes included). A header declaring
   * more fails with a {@link RestoreError} `IMAGE_TOO_LARGE` before anything is written. Default 2^40
   * (1 TiB).
   */
  maxImageBytes?: number;
  /**
   * Stops the restore: the temporary image is closed and removed, then the promise rejects with a
   * {@link RestoreError} `ABORTED` (its `cause` is the signal's reason). For a CLI's signal handler:
   * call `controller.abort()`, then await the restore's rejection before exiting.
   */
  signal?: AbortSignal;
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

/** Default of {@link RestoreToFileOptions.maxImageBytes}: 1 TiB. */
export const DEFAULT_MAX_IMAGE_BYTES = 2 ** 40;

/**
 * Restores a snapshot into a raw image file: the regions concatenated in table order, zero pages left
 * as holes of a sparse file (docs/FORMAT.md, "Restore image layout"). Written under a temporary name
 * and renamed to `path` only after the whole stream verified, so a bad snapshot never leaves an image
 * behind. The image grows only as verified data arrives and reaches its full size (a final truncate)
 * only after the trailer verified, so a header alone never makes a large file; data is written only
 * while the file system reports free space for it. The temporary image is removed on every failure,
 * and on `signal` abort.
 */
export async function restoreSnapshotToFile(
  source: SnapshotSource,
  path: string,
  options: RestoreToFileOptions = {},
): Promise<RestoredImage> {
  const mode = options.mode ?? 0o600;
  const maxImageBytes = options.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  if (!Number.isSafeInteger(maxImageBytes) || maxImageBytes < 0) {
    throw new SnapshotArgumentError(
      'INVALID_OPTION',
      'maxImageBytes',
      `expected a non-negative safe integer, got ${String(maxImageBytes)}`,
    );
  }
  const signal = options.signal;
  const aborted = () =>
    new RestoreError('ABORTED', `restore to ${path} was aborted`, { cause: signal?.reason });
  if (signal?.aborted) throw aborted();
  const finalPath = imageTarget(path);
  const dir = dirname(finalPath);
  const temp = join(dir, `.${basename(finalPath)}.${process.pid}.${randomBytes(6).toString('hex')}.partial`);
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  const space = new SpaceBudget(dir);
  let stop: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    stop = () => reject(aborted());
  });
  stopped.catch(() => undefined);
  signal?.addEventListener('abort', stop!, { once: true });
  // Every await that can wait long races the signal, so an abort settles at once.
  const unlessAborted = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => undefined);
    return signal ? Promise.race([p, stopped]) : p;
  };
  const events = readSnapshot(source, options);
  let ok = false;
  try {
    await unlessAborted(handle.chmod(mode));
    let header: SnapshotHeader | undefined;
    let trailer: SnapshotTrailer | undefined;
    let offsets: number[] = [];
    let total = 0;
    for (;;) {
      const next = await unlessAborted(events.next());
      if (next.done) break;
      const ev = next.value;
      if (ev.type === 'header') {
        header = ev.header;
        offsets = header.regions.map((r) => {
          const at = total;
          total += r.pageSize * r.pageCount;
          return at;
        });
        if (total > maxImageBytes) {
          throw new RestoreError(
            'IMAGE_TOO_LARGE',
            `the image would be ${total} bytes, more than maxImageBytes (${maxImageBytes})`,
          );
        }
      } else if (ev.type === 'pages') {
        if (!ev.data) continue;
        const pos = offsets[ev.region]! + ev.first * header!.regions[ev.region]!.pageSize;
        space.reserve(ev.data.byteLength);
        for (let done = 0; done < ev.data.byteLength; ) {
          const { bytesWritten } = await unlessAborted(
            handle.write(ev.data, done, ev.data.byteLength - done, pos + done),
          ).catch((error: unknown) => {
            throw imageError(error, total);
          });
          done += bytesWritten;
        }
      } else {
        trailer = ev.trailer;
      }
    }
    // Only now, with every page verified, does the image take its full size (the tail may be holes).
    await unlessAborted(handle.truncate(total)).catch((error: unknown) => {
      throw imageError(error, total);
    });
    await unlessAborted(handle.sync());
    await handle.close();
    if (signal?.aborted) throw aborted();
    await rename(temp, finalPath);
    ok = true;
    return { header: header!, trailer: trailer!, bytes: total, regionOffsets: offsets };
  } finally {
    signal?.removeEventListener('abort', stop!);
    if (!ok) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      // A read still pending (an abort raced it) finishes in the background and closes its source.
      void events.return(undefined).catch(() => undefined);
    }
  }
}

/**
 * Where the image is renamed to: `path`, or the file a symlink names. A folder, device, FIFO or
 * socket is never replaced by an image (and an image needs a seekable file): `BAD_TARGET`.
 */
function imageTarget(path: string): string {
  let kind: OutputTargetKind;
  try {
    kind = describeOutputTarget(path);
  } catch {
    return path; // unreadable: the open in the same folder reports the real error
  }
  if (kind === 'special' || kind === 'directory') {
    throw new RestoreError(
      'BAD_TARGET',
      `${path} is a ${kind === 'directory' ? 'folder' : 'device, FIFO or socket'}; a restore writes a new image file and never replaces one`,
    );
  }
  return kind === 'regular' ? resolveLink(path) : path;
}

/** Maps the file system's refusals of the image to a {@link RestoreError}; others pass through. */
function imageError(error: unknown, total: number): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EFBIG' || code === 'EINVAL') {
    return new RestoreError(
      'IMAGE_TOO_LARGE',
      `the file system refuses an image of ${total} bytes (${code})`,
      {
        cause: error,
      },
    );
  }
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new RestoreError('NO_SPACE', `no space left for the image (${code})`, { cause: error });
  }
  return error;
}

/**
 * Checks with statfs that the image's folder has room for the data about to be written. It asks
 * again only once the space it last saw is used up, so it costs a few system calls per image.
 */
class SpaceBudget {
  private written = 0;
  private budget = 0;

  constructor(private readonly dir: string) {}

  reserve(bytes: number): void {
    if (this.written + bytes > this.budget) {
      const st = statfsSync(this.dir);
      const free = Number(st.bavail) * Number(st.bsize);
      if (free < bytes) {
        throw new RestoreError(
          'NO_SPACE',
          `${this.dir} has ${free} bytes free, fewer than the ${bytes} bytes of data to write next`,
        );
      }
      this.budget = this.written + free;
    }
    this.written += bytes;
  }
}
