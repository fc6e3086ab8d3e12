import { UnitParseError, UnitRangeError } from './errors.js';
import { exactProduct, splitQuantity } from './number-text.js';
import { inRange } from './range.js';

const KI = 1024n;
/**
 * Size units, matched case-insensitively. Binary prefixes, spelt out (`KiB`) or as one letter (`K`, `k`),
 * are powers of 1024 because these sizes are memory sizes; `KB`, `MB`, `GB`, `TB` and `PB` are SI
 * (powers of 1000), as disks and networks quote them. A bare number is bytes.
 */
const SIZE_UNITS: ReadonlyMap<string, bigint> = new Map([
  ['', 1n],
  ['b', 1n],
  ['k', KI],
  ['kib', KI],
  ['m', KI ** 2n],
  ['mib', KI ** 2n],
  ['g', KI ** 3n],
  ['gib', KI ** 3n],
  ['t', KI ** 4n],
  ['tib', KI ** 4n],
  ['p', KI ** 5n],
  ['pib', KI ** 5n],
  ['kb', 10n ** 3n],
  ['mb', 10n ** 6n],
  ['gb', 10n ** 9n],
  ['tb', 10n ** 12n],
  ['pb', 10n ** 15n],
]);

const SIZE_EXPECTED =
  'a size such as 4096, 64KiB, 4MiB or 1TiB (K, M, G, T are 1024-based; KB, MB, GB are 1000-based)';

/** Bounds and naming for {@link parseSize}. */
export interface SizeOptions {
  /** What is being parsed, for error messages: an option name such as `--size`. */
  what?: string;
  /** Smallest accepted value in bytes (default 0). */
  min?: number;
  /** Largest accepted value in bytes (default `Number.MAX_SAFE_INTEGER`). */
  max?: number;
}

/**
 * The unit factor of a size unit text (`MiB`, `k`, `GB`, `` for bytes), or undefined when it is not a
 * size unit. Exposed for rate parsing.
 *
 * @param unit - Unit text, any case.
 * @returns Bytes per unit.
 */
export function sizeUnitFactor(unit: string): bigint | undefined {
  return SIZE_UNITS.get(unit.toLowerCase());
}

/**
 * Parses a size into whole bytes: `4096`, `4096B`, `64KiB`, `64k`, `4MiB`, `1.5GiB`, `1TiB`, `1GB`.
 * Binary units (`KiB`…`PiB` and the one-letter `K`/`k`, `M`, `G`, `T`, `P`) are powers of 1024; `KB`,
 * `MB`, `GB`, `TB`, `PB` are powers of 1000; units are case-insensitive; a bare number is bytes. The
 * result must be a whole number of bytes (`1.5KiB` is 1536; `0.3KiB` is an error). A number input is
 * checked the same way.
 *
 * @param text - The size text, or a number of bytes.
 * @param options - `what` for messages; `min`/`max` bounds in bytes.
 * @returns Bytes, a safe integer.
 * @throws {@link UnitParseError} when the text is not a size; {@link UnitRangeError} when it is out of
 * `[min, max]`.
 *
 * @example
 * parseSize('1TiB', { what: '--size', max: 16 * 2 ** 40 }); // 1099511627776
 */
export function parseSize(text: string | number, options: SizeOptions = {}): number {
  const { what, min = 0, max = Number.MAX_SAFE_INTEGER } = options;
  let bytes: number;
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text < 0) throw new UnitParseError('size', text, SIZE_EXPECTED, what);
    bytes = text;
  } else {
    const q = typeof text === 'string' ? splitQuantity(text) : undefined;
    const factor = q ? sizeUnitFactor(q.unit) : undefined;
    const exact = q && factor !== undefined ? exactProduct(q.number, factor) : undefined;
    if (exact === undefined) throw new UnitParseError('size', text, SIZE_EXPECTED, what);
    if (exact > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new UnitRangeError('size', text, Number(exact), `a size of at most ${formatBytes(max)}`, what);
    }
    bytes = Number(exact);
  }
  return inRange('size', text, bytes, { min, max, what }, formatBytes);
}

/** How {@link formatBytes} and the other formatters write numbers. */
export interface FormatOptions {
  /**
   * Absent (default): the exact compact form that the matching parser reads back to the same value
   * (`4MiB`, `1536B`, `250us`). A number: a rounded human form with that many decimals and a space
   * (`1.50 GiB`, `1.23 ms`), for reports.
   */
  precision?: number;
}

const BINARY: readonly [string, number][] = [
  ['PiB', 1024 ** 5],
  ['TiB', 1024 ** 4],
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
];

/**
 * Formats bytes with binary units. Exact by default: the largest binary unit that divides the value
 * evenly (`4194304` → `4MiB`, `1536` → `1536B`), so that `parseSize(formatBytes(n)) === n` for every
 * safe integer n ≥ 0. With `precision`, a rounded form
 * for people: `formatBytes(1610612736, { precision: 2 })` is `1.50 GiB`.
 *
 * @param bytes - Bytes (non-integers are written in `B`).
 * @param options - See {@link FormatOptions}.
 * @returns The text.
 */
export function formatBytes(bytes: number, options: FormatOptions = {}): string {
  if (options.precision !== undefined) {
    const unit = BINARY.find(([, f]) => Math.abs(bytes) >= f);
    return unit ? `${(bytes / unit[1]).toFixed(options.precision)} ${unit[0]}` : `${bytes} B`;
  }
  if (Number.isInteger(bytes)) {
    for (const [name, f] of BINARY) if (bytes >= f && bytes % f === 0) return `${bytes / f}${name}`;
  }
  return `${bytes}B`;
}
