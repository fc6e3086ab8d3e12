import type { Writable } from 'node:stream';
import { SinkError } from '../errors.js';
import type { Sink } from './sink.js';
import { StallGuard, stallTimeoutOption } from './stall.js';

/** Options of {@link writableSink}. */
export interface WritableSinkOptions {
  /** Call `end()` on close (default true). Set false for streams you keep using, e.g. process.stdout. */
  end?: boolean;
  /** Call `destroy()` on abort (default true). */
  destroyOnAbort?: boolean;
  /**
   * Hand the stream a copy of each chunk (default true). A Writable may keep a reference to a chunk
   * after its write callback (a PassThrough passes the very buffer downstream), while the snapshot
   * writer reuses its batch buffers once a write resolves. Set false only for streams that are done
   * with the bytes when they call back (net.Socket, fs.WriteStream).
   */
  copy?: boolean;
  /**
   * Wait for the stream's 'close' event after 'finish' (default false). For a socket this means the
   * peer read everything and closed its side too, not merely that the kernel took the bytes.
   */
  waitForClose?: boolean;
  /** With waitForClose: how long close() waits, ms (default 30 000); then it fails with ETIMEDOUT. */
  closeTimeoutMs?: number;
  /**
   * A write the stream has not called back for this long fails with a {@link SinkStalledError} (the
   * receiver stopped reading), ms. Default 30 000; 0 waits forever.
   */
  stallTimeoutMs?: number;
  /** Names the receiver in errors (default `writable stream`), e.g. `tcp 10.0.0.2:9000`. */
  peer?: string;
}

/**
 * A sink over any Node Writable. Each write resolves when the stream's write callback fires (the stream
 * is done with the chunk), so the writer's blocked time includes the stream's own backpressure. The
 * first stream error, or a close before `close()` was called, fails every later operation with a
 * {@link SinkError}.
 */
export function writableSink(
  stream: NodeJS.WritableStream | Writable,
  options: WritableSinkOptions = {},
): Sink {
  const w = stream as Writable;
  const end = options.end ?? true;
  const destroyOnAbort = options.destroyOnAbort ?? true;
  const copy = options.copy ?? true;
  const waitForClose = options.waitForClose ?? false;
  const closeTimeoutMs = options.closeTimeoutMs ?? 30_000;
  const guard = new StallGuard(stallTimeoutOption(options.stallTimeoutMs), options.peer ?? 'writable stream');
  let failure: SinkError | undefined;
  let closing = false;
  let aborted = false;
  const onError = (error: unknown) => {
    failure ??= new SinkError('write', error);
  };
  const onClose = () => {
    if (!closing && !aborted) {
      failure ??= new SinkError(
        'write',
        Object.assign(new Error('stream closed before the snapshot ended'), { code: 'EPIPE' }),
      );
    }
  };
  w.on('error', onError);
  w.on('close', onClose);
  const detach = () => {
    w.off('close', onClose);
    // The error listener stays: a late error must not become an uncaught exception.
  };

  return {
    write(chunk) {
      if (failure) return Promise.reject(failure);
      if (aborted) return Promise.reject(new SinkError('write', new Error('sink was aborted')));
      const pending = guard.run(
        () =>
          new Promise<void>((resolve, reject) => {
            let settled = false;
            const onFail = () => {
              if (settled) return;
              settled = true;
              cleanup();
              reject(failure ?? new SinkError('write', new Error('stream closed')));
            };
            const cleanup = () => {
              w.off('error', onFail);
              w.off('close', onFail);
            };
            w.once('error', onFail);
            w.once('close', onFail);
            try {
              w.write(copy ? Buffer.from(chunk) : chunk, (error) => {
                if (settled) return;
                settled = true;
                cleanup();
                if (error) {
                  failure ??= new SinkError('write', error);
                  reject(failure);
                } else resolve();
              });
            } catch (error) {
              settled = true;
              cleanup();
              failure ??= new SinkError('write', error);
              reject(failure);
            }
          }),
      );
      return pending.catch((error: unknown) => {
        // A stall or an abort fails every later write too.
        failure ??= error instanceof SinkError ? error : new SinkError('write', error);
        throw failure;
      });
    },
    close() {
      if (failure) return Promise.reject(failure);
      closing = true;
      if (!end) {
        detach();
        return Promise.resolve();
      }
      return guard
        .run(
          (progress) =>
            new Promise<void>((resolve, reject) => {
              let timer: NodeJS.Timeout | undefined;
              const done = () => {
                if (timer) clearTimeout(timer);
                w.off('error', onFail);
                w.off('finish', onFinish);
                w.off('close', onClosed);
                detach();
              };
              const onFinish = () => {
                // Everything was handed over: what is left is the peer's close, under closeTimeoutMs.
                progress(false);
                if (!waitForClose) {
                  done();
                  resolve();
                  return;
                }
                if (w.destroyed && (w as { closed?: boolean }).closed) onClosed();
                timer = setTimeout(() => {
                  onFail(
                    Object.assign(new Error(`peer did not close within ${closeTimeoutMs} ms`), {
                      code: 'ETIMEDOUT',
                    }),
                  );
                }, closeTimeoutMs);
              };
              const onClosed = () => {
                if (!waitForClose || failure) return;
                done();
                resolve();
              };
              const onFail = (error: unknown) => {
                done();
                failure ??= new SinkError('close', error);
                reject(failure);
              };
              w.once('finish', onFinish);
              w.once('error', onFail);
              w.once('close', onClosed);
              try {
                w.end();
              } catch (error) {
                onFail(error);
              }
            }),
          'close',
        )
        .catch((error: unknown) => {
          failure ??= error instanceof SinkError ? error : new SinkError('close', error);
          throw failure;
        });
    },
    abort() {
      if (aborted) return Promise.resolve();
      aborted = true;
      guard.abortAll();
      detach();
      if (destroyOnAbort && !w.destroyed) w.destroy();
      return Promise.resolve();
    },
  };
}
