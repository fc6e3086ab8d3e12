/** A RESP2 error reply (`-ERR ...`), as the client side of {@link RespParser} returns it. */
export class RespError extends Error {
  override name = 'RespError';
}

/** One parsed RESP2 value: simple string, error, integer, bulk string (or null), array (or null). */
export type RespValue = string | number | Buffer | null | RespError | RespValue[];

const CRLF = Buffer.from('\r\n');

/**
 * An incremental RESP2 parser: `push()` chunks as they arrive, then `next()` until it returns
 * `undefined` (need more bytes). Pipelining-safe: any number of values per chunk, and any value split
 * across chunks. Bulk strings are returned as views of the received bytes (no copy).
 * With `inline`, a line not starting with `*` is a command split on spaces (what `telnet` sends).
 */
export class RespParser {
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  constructor(private readonly inline = false) {}

  /** Adds received bytes. */
  push(chunk: Buffer): void {
    // Keep only the unparsed tail: a partial value is usually one short fragment.
    this.#buf = this.#pos < this.#buf.length ? Buffer.concat([this.#buf.subarray(this.#pos), chunk]) : chunk;
    this.#pos = 0;
  }

  /** The next complete value, or `undefined` when more bytes are needed. */
  next(): RespValue | undefined {
    if (this.#pos >= this.#buf.length) return undefined;
    if (this.inline && this.#buf[this.#pos] !== 0x2a /* * */) {
      const end = this.#buf.indexOf(CRLF, this.#pos);
      if (end < 0) return undefined;
      const line = this.#buf.toString('latin1', this.#pos, end).trim();
      this.#pos = end + 2;
      return line === '' ? this.next() : line.split(/\s+/).map((w) => Buffer.from(w, 'latin1'));
    }
    const start = this.#pos;
    const value = this.#value();
    if (value === undefined) this.#pos = start; // incomplete: retry from the start with more bytes
    return value;
  }

  #line(): string | undefined {
    const end = this.#buf.indexOf(CRLF, this.#pos);
    if (end < 0) return undefined;
    const line = this.#buf.toString('latin1', this.#pos + 1, end);
    this.#pos = end + 2;
    return line;
  }

  #value(): RespValue | undefined {
    const type = this.#buf[this.#pos];
    const line = this.#line();
    if (line === undefined) return undefined;
    switch (type) {
      case 0x2b: // +
        return line;
      case 0x2d: // -
        return new RespError(line);
      case 0x3a: // :
        return Number(line);
      case 0x24: {
        // $
        const n = Number(line);
        if (n < 0) return null;
        if (this.#pos + n + 2 > this.#buf.length) return undefined;
        const bytes = this.#buf.subarray(this.#pos, this.#pos + n);
        this.#pos += n + 2;
        return bytes;
      }
      case 0x2a: {
        // *
        const n = Number(line);
        if (n < 0) return null;
        const items: RespValue[] = [];
        for (let i = 0; i < n; i++) {
          const item = this.#value();
          if (item === undefined) return undefined;
          items.push(item);
        }
        return items;
      }
      default:
        throw new RespError(`ERR Protocol error: unexpected byte ${type} in RESP stream`);
    }
  }
}

/** Encoders for replies and requests. */
export const resp = {
  simple: (s: string): Buffer => Buffer.from(`+${s}\r\n`, 'latin1'),
  error: (s: string): Buffer => Buffer.from(`-${s}\r\n`, 'latin1'),
  integer: (n: number): Buffer => Buffer.from(`:${n}\r\n`, 'latin1'),
  bulk: (b: Uint8Array | string | null): Buffer => {
    if (b === null) return Buffer.from('$-1\r\n');
    const bytes = typeof b === 'string' ? Buffer.from(b) : b;
    return Buffer.concat([Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF]);
  },
  array: (items: Buffer[]): Buffer => Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items]),
  /** A command as a client sends it: an array of bulk strings. */
  command: (args: (Uint8Array | string | number)[]): Buffer =>
    resp.array(args.map((a) => resp.bulk(typeof a === 'number' ? String(a) : a))),
};
