import { write as fsWrite } from 'node:fs';
import { SinkError } from '../errors.js';
import type { Sink } from './sink.js';

/** Options of {@link fdSink}. */
export interface FdSinkOptions {
  /** Longest wait between retries while a non-blocking pipe is full (EAGAIN), ms. Default 10. */
  maxRetryDelayMs?: number;
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
 * stays open and owned by the caller: `close()` only waits for the writes; `abort()` stops writing
 * (whatever was written has no trailer, so no reader accepts it).
 */
export function fdSink(fd: number, options: FdSinkOptions = {}): Sink {
  if (!Number.isInteger(fd) || fd < 0) {
    throw new RangeError(`fd: expected a non-negative integer file descriptor, got ${String(fd)}`);
  }
  const maxDelay = options.maxRetryDelayMs ?? 10;
  let failure: SinkError | undefined;
  let aborted = false;
  return {
    async write(chunk) {
      if (failure) throw failure;
      if (aborted) throw new SinkError('write', new Error('sink was aborted'));
      let offset = 0;
      let delay = 0;
      while (offset < chunk.byteLength) {
        try {
          offset += await writeOnce(fd, chunk, offset);
          delay = 0;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EAGAIN' && !aborted) {
            delay = Math.min(maxDelay, delay === 0 ? 1 : delay * 2);
            await sleep(delay);
            continue;
          }
          failure = new SinkError('write', error, `fd ${fd}`);
          throw failure;
        }
      }
    },
    async close() {
      if (failure) throw failure;
    },
    async abort() {
      aborted = true;
    },
  };
}
