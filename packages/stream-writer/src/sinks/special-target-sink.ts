import { constants } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { SinkError } from '../errors.js';
import { descriptorSink } from './fd-sink.js';
import type { FileSink } from './file-sink.js';
import type { Sink } from './sink.js';
import { StallGuard } from './stall.js';

// fsync on a pipe, socket or most character devices fails with EINVAL (or ENOTSUP): there is nothing
// to make durable, so that is not a failure of the snapshot.
const FSYNC_UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EROFS']);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Opens write-only, never creating or truncating, and non-blocking: a blocking open of a FIFO with no
 * reader (or a blocking write to a full one) would hold one of libuv's four threads until a reader
 * came, possibly forever. A FIFO without a reader (ENXIO) is retried until `gaveUp()`; the writes
 * then see EAGAIN when the reader lags, which the descriptor sink retries.
 */
async function openWithoutBlocking(path: string, gaveUp: () => boolean): Promise<FileHandle> {
  const flags = constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK;
  for (let delay = 1; ; delay = Math.min(50, delay * 2)) {
    try {
      return await open(path, flags);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENXIO' || !(await stat(path)).isFIFO()) throw error;
      if (gaveUp()) throw error;
      await sleep(delay);
    }
  }
}

/**
 * The file sink for a path naming a device, FIFO or socket: opened write-only without O_CREAT or
 * O_TRUNC and written into directly. Opening a FIFO waits for a reader, and a write waits for the
 * reader to read; both are under the stall deadline, and `abort()` settles them at once.
 */
export function specialTargetSink(
  path: string,
  options: { fsync: boolean; stallTimeoutMs: number },
): FileSink {
  const guard = new StallGuard(options.stallTimeoutMs, path);
  let handle: FileHandle | undefined;
  let inner: Sink | undefined;
  let opening: Promise<Sink> | undefined;
  let failure: SinkError | undefined;
  let state: 'open' | 'closed' | 'aborted' = 'open';

  const release = () => {
    const h = handle;
    handle = undefined;
    if (h) void h.close().catch(() => undefined);
  };
  const ensureOpen = (): Promise<Sink> => {
    opening ??= guard
      .run(async () => {
        const h = await openWithoutBlocking(path, () => state !== 'open' || failure !== undefined);
        // An open that completes after an abort or a stall: nobody will use it.
        if (state !== 'open' || failure) {
          await h.close().catch(() => undefined);
          throw new SinkError('open', new Error('sink was aborted'), path);
        }
        handle = h;
        inner = descriptorSink(
          async (chunk, offset) =>
            (await h.write(chunk, offset, chunk.byteLength - offset, null)).bytesWritten,
          path,
          { stallTimeoutMs: options.stallTimeoutMs },
        );
        return inner;
      }, 'open')
      .catch((error: unknown) => {
        throw error instanceof SinkError ? error : new SinkError('open', error, path);
      });
    return opening;
  };
  const fail = (error: unknown, operation: 'open' | 'write' | 'close'): SinkError => {
    failure ??= error instanceof SinkError ? error : new SinkError(operation, error, path);
    release();
    return failure;
  };

  return {
    path,
    tempPath: path,
    target: 'special',
    async write(chunk) {
      if (failure) throw failure;
      if (state !== 'open') throw new SinkError('write', new Error(`file sink is ${state}`));
      try {
        await (await ensureOpen()).write(chunk);
      } catch (error) {
        throw fail(error, 'write');
      }
    },
    async close() {
      if (failure) throw failure;
      if (state !== 'open') throw new SinkError('close', new Error(`file sink is ${state}`));
      try {
        const sink = await ensureOpen();
        await sink.close();
        if (options.fsync) {
          try {
            await handle!.sync();
          } catch (error) {
            if (!FSYNC_UNSUPPORTED.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
          }
        }
        await handle!.close();
        handle = undefined;
        state = 'closed';
      } catch (error) {
        throw fail(error, 'close');
      }
    },
    async abort() {
      if (state !== 'open') return;
      state = 'aborted';
      guard.abortAll();
      await inner?.abort();
      release();
    },
  };
}
