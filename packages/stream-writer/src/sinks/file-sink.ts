import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SinkError } from '../errors.js';
import { describeOutputTarget, type OutputTargetKind, resolveLink } from './output-target.js';
import type { Sink } from './sink.js';
import { specialTargetSink } from './special-target-sink.js';
import { stallTimeoutOption } from './stall.js';

/** Options of {@link fileSink}. */
export interface FileSinkOptions {
  /** Permission bits of the file, applied with fchmod regardless of the umask. Default 0o600: snapshots hold memory contents. */
  mode?: number;
  /** fsync the file before the rename and the folder after it (default true). */
  fsync?: boolean;
  /**
   * Only for a special target (a device, FIFO or socket, written into directly): an open or write
   * that makes no progress for this long fails with a {@link SinkStalledError}, ms. Default 30 000;
   * 0 waits forever. Writes to regular files are not subject to it.
   */
  stallTimeoutMs?: number;
}

/** A {@link Sink} writing a file, with the temporary path it writes to until `close()`. */
export interface FileSink extends Sink {
  /** Final path, populated only by a successful `close()`. */
  readonly path: string;
  /** Temporary path in the same folder, used until the rename; equals `path` for a special target. */
  readonly tempPath: string;
  /** What `path` was when the sink was created: see {@link describeOutputTarget}. */
  readonly target: OutputTargetKind;
}

/**
 * A sink that writes a file atomically: bytes go to a hidden temporary file in the same folder (created
 * exclusively, mode set with fchmod so the umask cannot widen or narrow it), and only `close()` fsyncs
 * it, renames it to `path` and fsyncs the folder. Until then nothing exists under `path`; `abort()` and
 * any failure delete the temporary file — and only a file this sink created.
 *
 * A `path` that already names something other than a regular file or folder (a character or block
 * device, FIFO or socket, after following symlinks: `/dev/null`, `/dev/stdout`, a named pipe) is never
 * replaced: it is opened write-only (no create, no truncate) and written into directly, with no
 * temporary file and no rename; an fsync the device does not support (EINVAL) is not an error. A
 * folder fails the first write with EISDIR.
 */
export function fileSink(path: string, options: FileSinkOptions = {}): FileSink {
  if (typeof path !== 'string' || path.length === 0) {
    throw new RangeError('path: expected a non-empty file path');
  }
  const mode = options.mode ?? 0o600;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new RangeError(`options.mode: expected permission bits in [0, 0o7777], got ${String(mode)}`);
  }
  const doSync = options.fsync ?? true;
  const stallTimeoutMs = stallTimeoutOption(options.stallTimeoutMs);
  let target: OutputTargetKind;
  try {
    target = describeOutputTarget(path);
  } catch {
    // Unreadable: treat as a new file; the open reports the real error.
    target = 'missing';
  }
  if (target === 'special') return specialTargetSink(path, { fsync: doSync, stallTimeoutMs });
  // A symlink to a regular file (`/dev/stdout` redirected to a file, a link the user keeps) stays a
  // link: the rename replaces the file it points to, so the temp file goes next to that file.
  const finalPath = target === 'regular' ? resolveLink(path) : path;
  const dir = dirname(finalPath);
  const tempPath = join(
    dir,
    `.${basename(finalPath)}.${process.pid}.${randomBytes(6).toString('hex')}.partial`,
  );
  let handle: FileHandle | undefined;
  let opening: Promise<FileHandle> | undefined;
  // Set only once this sink's exclusive open succeeded: a name someone else holds is never unlinked.
  let created = false;
  let position = 0;
  let failure: SinkError | undefined;
  let state: 'open' | 'closed' | 'aborted' = 'open';
  // Every operation runs after the previous one settled, so abort never races a write or the rename.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const next = chain.then(op, op);
    chain = next.catch(() => undefined);
    return next;
  };

  const ensureOpen = async (): Promise<FileHandle> => {
    if (handle) return handle;
    opening ??= (async () => {
      try {
        if (target === 'directory') {
          throw Object.assign(new Error(`${path} is a folder`), { code: 'EISDIR' });
        }
        const h = await open(tempPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
        created = true;
        try {
          await h.chmod(mode);
        } catch (error) {
          await h.close().catch(() => undefined);
          await unlink(tempPath).catch(() => undefined);
          created = false;
          throw error;
        }
        handle = h;
        return h;
      } catch (error) {
        throw new SinkError('open', error, tempPath);
      }
    })();
    return opening;
  };

  const discard = async () => {
    const h = handle;
    handle = undefined;
    if (h) await h.close().catch(() => undefined);
    if (created) {
      created = false;
      await unlink(tempPath).catch(() => undefined);
    }
  };

  return {
    path,
    tempPath,
    target,
    write(chunk) {
      return serial(async () => {
        if (failure) throw failure;
        if (state !== 'open') throw new SinkError('write', new Error(`file sink is ${state}`));
        try {
          const h = await ensureOpen();
          let offset = 0;
          while (offset < chunk.byteLength) {
            const { bytesWritten } = await h.write(chunk, offset, chunk.byteLength - offset, position);
            offset += bytesWritten;
            position += bytesWritten;
          }
        } catch (error) {
          failure = error instanceof SinkError ? error : new SinkError('write', error, tempPath);
          await discard();
          throw failure;
        }
      });
    },
    close() {
      return serial(async () => {
        if (failure) throw failure;
        if (state !== 'open') throw new SinkError('close', new Error(`file sink is ${state}`));
        try {
          const h = await ensureOpen();
          if (doSync) await h.sync();
          await h.close();
          handle = undefined;
          await rename(tempPath, finalPath);
          created = false;
          state = 'closed';
        } catch (error) {
          failure = error instanceof SinkError ? error : new SinkError('close', error, tempPath);
          await discard();
          throw failure;
        }
        if (doSync) {
          // The rename is durable only once the folder entry is: fsync the folder.
          try {
            const d = await open(dir, constants.O_RDONLY);
            try {
              await d.sync();
            } finally {
              await d.close();
            }
          } catch (error) {
            throw new SinkError('close', error, `fsync of folder ${dir}`);
          }
        }
      });
    },
    abort() {
      return serial(async () => {
        if (state !== 'open') return;
        state = 'aborted';
        await discard();
      });
    },
  };
}
