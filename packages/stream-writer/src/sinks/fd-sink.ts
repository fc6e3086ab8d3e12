import { write as fsWrite } from 'node:fs';
import { SinkError } from '../errors.js';
import type { Sink } from './sink.js';
import { StallGuard, stallTimeoutOption } from './stall.js';

/** Options of {@link fdSink}. */
export interface FdSinkOptions {
  /** Longest wait between retries while a non-blocking pipe is full (EAGAIN), ms. Default 10. */
  maxRetryDelayMs?: number;
  /**
   * A write that makes no progress for this long fails with a {@link SinkStalledError} (the reader of
   * the pipe stopped reading), ms. Default 30 000; 0 waits forever.
   */
  stallTimeoutMs?: number;
}

function writeOnce(fd: number, chunk: Uint8Array, offset: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fsWrite(fd, chunk, offset, chunk.byteLength - offset, null, (error, written) => {
      if (error) reject(error);
      else resolve(written);
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A sink over an open file descriptor: a pipe, stdout (fd 1), a socket, a character device or a file.
 * Handles short writes and non-blocking pipes (EAGAIN: retried with a growing delay). The descriptor
 * stays open and owned by the caller: `close()` only waits for the writes; `abort()` stops writing and
 * settles a write in flight at once (whatever was written has no trailer, so no reader accepts it).
 * A write that makes no progress for `stallTimeoutMs` fails with a {@link SinkStalledError}; a
 * blocking descriptor's system call cannot be interrupted, so it may still complete later, unseen.
 */
export function fdSink(fd: number, options: FdSinkOptions = {}): Sink {
  if (!Number.isInteger(fd) || fd < 0) {
    throw new RangeError(`fd: expected a non-negative integer file descriptor, got ${String(fd)}`);
  }
  return descriptorSink(fd, `fd ${fd}`, options);
}

/** Writes from `offset` to the end of `chunk` once; resolves with the bytes written. */
type WriteOnce = (chunk: Uint8Array, offset: number) => Promise<number>;

/**
 * {@link fdSink} naming its receiver `peer` in errors, over any single-write function: shared with
 * the file sink's special targets, which write through their FileHandle so that closing it waits for
 * a write still in a libuv thread (a raw fd closed under it could be reused by another open).
 */
export function descriptorSink(write: number | WriteOnce, peer: string, options: FdSinkOptions = {}): Sink {
  const once: WriteOnce =
    typeof write === 'number' ? (chunk, offset) => writeOnce(write, chunk, offset) : write;
  const maxDelay = options.maxRetryDelayMs ?? 10;
  const guard = new StallGuard(stallTimeoutOption(options.stallTimeoutMs), peer);
  let failure: SinkError | undefined;
  let aborted = false;
  return {
    async write(chunk) {
      if (failure) throw failure;
      if (aborted) throw new SinkError('write', new Error('sink was aborted'));
      try {
        await guard.run(async (progress) => {
          let offset = 0;
          let delay = 0;
          while (offset < chunk.byteLength && !aborted && !failure) {
            try {
              offset += await once(chunk, offset);
              delay = 0;
              progress();
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
                delay = Math.min(maxDelay, delay === 0 ? 1 : delay * 2);
                await sleep(delay);
                continue;
              }
              throw new SinkError('write', error, peer);
            }
          }
        });
      } catch (error) {
        failure ??= error instanceof SinkError ? error : new SinkError('write', error, peer);
        throw failure;
      }
    },
    async close() {
      if (failure) throw failure;
    },
    async abort() {
      aborted = true;
      guard.abortAll();
    },
  };
}
