/** Which kind of quantity a parser expected. */
export type UnitKind = 'size' | 'duration' | 'rate' | 'count-rate';

/**
 * Thrown when a text is not a size, duration or rate of the expected form. The message names what was
 * being parsed (`what`, e.g. `--size`), the input, and what would have been accepted.
 *
 * @example
 * try { parseSize('4 parsecs', { what: '--size' }); }
 * catch (e) { if (e instanceof UnitParseError) console.error(e.message); }
 * // --size: expected a size such as 4096, 64KiB, 4MiB or 1TiB, got "4 parsecs"
 */
export class UnitParseError extends Error {
  /** Stable error code for programmatic checks. */
  readonly code: string = 'ERR_UNIT_PARSE';
  /** The kind of quantity expected. */
  readonly kind: UnitKind;
  /** The rejected input, as given. */
  readonly input: string;
  /** What would have been accepted, in words. */
  readonly expected: string;
  /** What was being parsed (an option name such as `--size`), or the kind when none was given. */
  readonly what: string;

  /**
   * @param kind - The kind of quantity expected.
   * @param input - The rejected input.
   * @param expected - What would have been accepted.
   * @param what - What was being parsed, for the message; defaults to `kind`.
   */
  constructor(kind: UnitKind, input: string | number, expected: string, what: string = kind) {
    super(`${what}: expected ${expected}, got ${JSON.stringify(String(input))}`);
    this.name = 'UnitParseError';
    this.kind = kind;
    this.input = String(input);
    this.expected = expected;
    this.what = what;
  }
}

/**
 * Thrown when a well-formed value lies outside the caller's `min`/`max` (or past the largest exact
 * integer). A subclass of {@link UnitParseError}, so one `catch` handles both.
 */
export class UnitRangeError extends UnitParseError {
  override readonly code: string = 'ERR_UNIT_RANGE';
  /** The parsed value, in the base unit (bytes, ns, bytes/s or per second). */
  readonly value: number;

  /**
   * @param kind - The kind of quantity.
   * @param input - The rejected input.
   * @param value - Its parsed value in the base unit.
   * @param expected - The accepted range, in words.
   * @param what - What was being parsed, for the message.
   */
  constructor(kind: UnitKind, input: string | number, value: number, expected: string, what?: string) {
    super(kind, input, expected, what);
    this.name = 'UnitRangeError';
    this.value = value;
  }
}
