import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SinkError } from '../errors.js';
import type { Sink } from './sink.js';

/** Options of {@link fileSink}. */
export interface FileSinkOptions {
  /** Permission bits of the file, applied with fchmod regardless of the umask. Default 0o600: snapshots hold memory contents. */
  mode?: number;
  /** fsync the file before the rename and the folder after it (default true). */
  fsync?: boolean;
}

/** A {@link Sink} writing a file, with the temporary path it writes to until `close()`. */
export interface FileSink extends Sink {
  /** Final path, populated only by a successful `close()`. */
  readonly path: string;
  /** Temporary path in the same folder, used until the rename. */
  readonly tempPath: string;
}

/**
 * A sink that writes a file atomically: bytes go to a hidden temporary file in the same folder (created
 * exclusively, mode set with fchmod so the umask cannot widen or narrow it), and only `close()` fsyncs
 * it, renames it to `path` and fsyncs the folder. Until then nothing exists under `path`; `abort()` and
 * any failure delete the temporary file.
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
  const dir = dirname(path);
  const tempPath = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.partial`);
  let handle: FileHandle | undefined;
  let opening: Promise<FileHandle> | undefined;
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
        const h = await open(tempPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
        try {
          await h.chmod(mode);
        } catch (error) {
          await h.close().catch(() => undefined);
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
    if (h || opening) await unlink(tempPath).catch(() => undefined);
  };

  return {
    path,
    tempPath,
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
          await rename(tempPath, path);
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
