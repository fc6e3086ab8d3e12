import { fstat as fstatCb, read as readCb } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { SnapshotArgumentError } from '../errors.js';

/**
 * Anything a snapshot can be read from: a file path, an open file descriptor (a file or a pipe), a
 * Node Readable or any async iterable of byte chunks, or the bytes themselves.
 */
export type SnapshotSource = string | number | Uint8Array | AsyncIterable<Uint8Array | string>;

/** A pull-based sequence of chunks with, when the source knows it, the total length. */
export interface ByteSource {
  /** Total length in bytes, when known up front (files, byte arrays); undefined for streams. */
  readonly length: number | undefined;
  /** The next chunk (never empty), or undefined at the end. Chunks are never reused by the source. */
  next(): Promise<Uint8Array | undefined>;
  /** Releases the source (closes a file this module opened). */
  close(): Promise<void>;
}

const READ_CHUNK = 4 << 20;

function fdRead(fd: number, buf: Uint8Array, position: number | null): Promise<number> {
  return new Promise((resolve, reject) => {
    readCb(fd, buf, 0, buf.byteLength, position, (error, n) => (error ? reject(error) : resolve(n)));
  });
}

function fdStat(fd: number): Promise<{ isFile(): boolean; size: number }> {
  return new Promise((resolve, reject) => fstatCb(fd, (error, st) => (error ? reject(error) : resolve(st))));
}

/** Opens `source` as a {@link ByteSource}. */
export async function openByteSource(source: SnapshotSource): Promise<ByteSource> {
  if (source instanceof Uint8Array) {
    let done = source.byteLength === 0;
    return {
      length: source.byteLength,
      next: async () => {
        if (done) return undefined;
        done = true;
        return source;
      },
      close: async () => undefined,
    };
  }
  if (typeof source === 'string') {
    const handle = await open(source, 'r');
    try {
      const st = await handle.stat();
      return fileSource(handle, st.isFile() ? st.size : undefined, true);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }
  if (typeof source === 'number') {
    if (!Number.isInteger(source) || source < 0) {
      throw new SnapshotArgumentError(
        'INVALID_OPTION',
        'source',
        `expected a non-negative integer fd, got ${source}`,
      );
    }
    const st = await fdStat(source);
    // A regular file is read from its current size (positional reads from 0); a pipe sequentially.
    const length = st.isFile() ? st.size : undefined;
    let position = 0;
    return {
      length,
      async next() {
        const buf = Buffer.allocUnsafeSlow(READ_CHUNK);
        let delay = 1;
        for (;;) {
          try {
            const n = await fdRead(source, buf, length === undefined ? null : position);
            position += n;
            return n === 0 ? undefined : buf.subarray(0, n);
          } catch (error) {
            // A non-blocking pipe (e.g. stdin set up by libuv) with nothing to read yet.
            if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
            await new Promise((resolve) => setTimeout(resolve, delay));
            delay = Math.min(20, delay * 2);
          }
        }
      },
      close: async () => undefined,
    };
  }
  if (source && typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    const it = (source as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
    return {
      length: undefined,
      async next() {
        for (;;) {
          const r = await it.next();
          if (r.done) return undefined;
          const chunk = r.value;
          if (!(chunk instanceof Uint8Array)) {
            throw new SnapshotArgumentError(
              'INVALID_OPTION',
              'source',
              'the stream yielded text: read it in binary mode',
            );
          }
          if (chunk.byteLength > 0) return chunk;
        }
      },
      async close() {
        await it.return?.();
      },
    };
  }
  throw new SnapshotArgumentError(
    'INVALID_OPTION',
    'source',
    'expected a file path, a file descriptor, a Uint8Array, or a Readable / async iterable of Uint8Array',
  );
}

function fileSource(handle: FileHandle, length: number | undefined, owned: boolean): ByteSource {
  let position = 0;
  return {
    length,
    async next() {
      const buf = Buffer.allocUnsafeSlow(READ_CHUNK);
      const { bytesRead } = await handle.read(buf, 0, buf.byteLength, length === undefined ? null : position);
      position += bytesRead;
      return bytesRead === 0 ? undefined : buf.subarray(0, bytesRead);
    },
    async close() {
      if (owned) await handle.close();
    },
  };
}
