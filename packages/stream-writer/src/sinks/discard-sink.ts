import type { Sink } from './sink.js';

const done = Promise.resolve();

/**
 * A sink that accepts and drops every byte at once: for benchmarks and dry runs. Every write resolves
 * immediately.
 */
export function discardSink(): Sink & {
  /** Bytes accepted so far. */
  readonly bytesWritten: number;
} {
  let bytes = 0;
  return {
    get bytesWritten() {
      return bytes;
    },
    write(chunk: Uint8Array): Promise<void> {
      bytes += chunk.byteLength;
      return done;
    },
    close: () => done,
    abort: () => done,
  };
}
