import { SnapshotFormatError } from '../errors.js';
import type { ByteSource } from './byte-source.js';

/**
 * Sequential reader over a {@link ByteSource} that knows its stream offset. `take(n)` returns a view
 * into a source chunk when the bytes lie in one, else a copy: callers bound `n` before asking.
 */
export class Cursor {
  /** Stream offset of the next unread byte. */
  offset = 0;
  private chunk: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private ended = false;

  constructor(private readonly source: ByteSource) {}

  /** Bytes left in the stream, when the source knows its length. */
  get remaining(): number | undefined {
    return this.source.length === undefined ? undefined : this.source.length - this.offset;
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.source.next();
    if (!next) {
      this.ended = true;
      return false;
    }
    this.chunk = next;
    this.pos = 0;
    return true;
  }

  /**
   * Exactly `n` bytes, or a TRUNCATED error naming `itemOffset` (the start of the record being read)
   * and where the stream ended.
   */
  async take(n: number, itemOffset: number, what: string): Promise<Uint8Array> {
    const available = this.chunk.byteLength - this.pos;
    if (available >= n) {
      const view = this.chunk.subarray(this.pos, this.pos + n);
      this.pos += n;
      this.offset += n;
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.pos >= this.chunk.byteLength && !(await this.fill())) {
        throw new SnapshotFormatError(
          'TRUNCATED',
          itemOffset,
          `stream ends at byte ${this.offset} inside the ${what} that starts at byte ${itemOffset}`,
        );
      }
      const k = Math.min(n - filled, this.chunk.byteLength - this.pos);
      out.set(this.chunk.subarray(this.pos, this.pos + k), filled);
      this.pos += k;
      this.offset += k;
      filled += k;
    }
    return out;
  }

  /** True if no byte is left. */
  async atEnd(): Promise<boolean> {
    if (this.pos < this.chunk.byteLength) return false;
    return !(await this.fill());
  }
}
