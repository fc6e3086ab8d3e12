/** Test support (not exported): an in-memory sink that keeps every byte, with optional delays and failures. */
import type { Sink } from '../sinks/sink.js';

export interface MemorySink extends Sink {
  readonly chunks: Uint8Array[];
  readonly closed: boolean;
  readonly aborted: boolean;
  bytes(): Uint8Array;
}

export function memorySink(
  opts: { delayMs?: number; failAfterWrites?: number; error?: Error } = {},
): MemorySink {
  const chunks: Uint8Array[] = [];
  let closed = false;
  let aborted = false;
  let writes = 0;
  return {
    chunks,
    get closed() {
      return closed;
    },
    get aborted() {
      return aborted;
    },
    async write(chunk) {
      writes++;
      if (opts.failAfterWrites !== undefined && writes > opts.failAfterWrites) {
        throw opts.error ?? Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      }
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      // Copy: the writer reuses the chunk once this promise settles.
      chunks.push(chunk.slice());
    },
    async close() {
      closed = true;
    },
    async abort() {
      aborted = true;
    },
    bytes() {
      // A plain Uint8Array: Buffer#slice would return views and let tests corrupt shared fixtures.
      return new Uint8Array(Buffer.concat(chunks));
    },
  };
}
