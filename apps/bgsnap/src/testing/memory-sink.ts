import type { Sink } from '@bgsnap/stream-writer';

/** A Sink that keeps everything in memory; optionally fails on the n-th write or stalls every write. */
export class MemorySink implements Sink {
  readonly chunks: Uint8Array[] = [];
  closed = false;
  aborted = false;
  writes = 0;

  constructor(
    private readonly failOnWrite = 0,
    private readonly delayMs = 0,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    this.writes++;
    if (this.failOnWrite > 0 && this.writes >= this.failOnWrite) throw new Error('disk on fire (ENOSPC)');
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    this.chunks.push(new Uint8Array(chunk)); // copy: the writer reuses its batch buffers
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async abort(): Promise<void> {
    this.aborted = true;
  }

  bytes(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}
