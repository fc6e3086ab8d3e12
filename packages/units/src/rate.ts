import { UnitParseError } from './errors.js';
import { splitQuantity } from './number-text.js';
import { inRange } from './range.js';
import { type FormatOptions, formatBytes, sizeUnitFactor } from './size.js';

/** Bounds and naming for {@link parseRate} and {@link parseCountRate}. */
export interface RateOptions {
  /** What is being parsed, for error messages: an option name such as `--sink-profile`. */
  what?: string;
  /** Smallest accepted value (default 0). */
  min?: number;
  /** Largest accepted value (default: any finite value). */
  max?: number;
}

const PER_SECOND = /\s*\/\s*s$/i;

/**
 * A number with a multiplier from `factorOf` and an optional `/s`, or a number as is; checked finite,
 * non-negative and within the options' bounds.
 */
function parsePerSecond(
  kind: 'rate' | 'count-rate',
  text: string | number,
  options: RateOptions,
  expected: string,
  factorOf: (unit: string) => number | undefined,
  show: (v: number) => string,
): number {
  let value: number | undefined;
  if (typeof text === 'number') value = text;
  else if (typeof text === 'string') {
    const q = splitQuantity(text.replace(PER_SECOND, ''));
    const factor = q ? factorOf(q.unit) : undefined;
    if (q && factor !== undefined) value = Number(q.number) * factor;
  }
  if (value === undefined || !Number.isFinite(value) || value < 0) {
    throw new UnitParseError(kind, text, expected, options.what);
  }
  const { what, min = 0, max = Number.POSITIVE_INFINITY } = options;
  return inRange(kind, text, value, { min, max, what }, show);
}

/**
 * Parses a bandwidth into bytes per second: any size {@link parseSize} reads, with an optional `/s`
 * (`100MiB/s`, `100M/s`, `100M`, `1GB/s`, `1048576`). Fractions are allowed (`1.5KiB/s` is 1536, and
 * `0.5B/s` is 0.5) because a rate need not be a whole number of bytes.
 *
 * @param text - The rate text, or a number of bytes per second.
 * @param options - See {@link RateOptions}.
 * @returns Bytes per second, finite and ≥ 0.
 * @throws {@link UnitParseError} when the text is not a rate; {@link UnitRangeError} when out of range.
 *
 * @example
 * parseRate('100M/s'); // 104857600
 */
export function parseRate(text: string | number, options: RateOptions = {}): number {
  const expected = 'a rate such as 100MiB/s, 100M/s, 1GB/s or 1048576 (bytes/s; the /s is optional)';
  const factorOf = (unit: string) => {
    const f = sizeUnitFactor(unit);
    return f === undefined ? undefined : Number(f);
  };
  return parsePerSecond('rate', text, options, expected, factorOf, formatRate);
}

/**
 * Formats bytes per second: {@link formatBytes} followed by `/s` (`100MiB/s`; with `precision`,
 * `1.50 GiB/s`). Exact by default, so `parseRate(formatRate(r)) === r`.
 *
 * @param bytesPerSecond - Bytes per second.
 * @param options - See {@link FormatOptions}.
 * @returns The text.
 */
export function formatRate(bytesPerSecond: number, options: FormatOptions = {}): string {
  return `${formatBytes(bytesPerSecond, options)}/s`;
}

/** SI multipliers of counts: a thousand writes per second is `1k`, not 1024. */
const COUNT_UNITS: ReadonlyMap<string, number> = new Map([
  ['', 1],
  ['k', 1e3],
  ['m', 1e6],
  ['g', 1e9],
]);

/**
 * Parses a count per second (operations, writes, faults): `20000`, `20k`, `1.5M`, `20k/s`. The
 * multipliers `k`, `M`, `G` (any case) are powers of 1000 — counts are not memory sizes.
 *
 * @param text - The rate text, or a number per second.
 * @param options - See {@link RateOptions}.
 * @returns Count per second, finite and ≥ 0 (fractions allowed).
 * @throws {@link UnitParseError} when the text is not a count rate; {@link UnitRangeError} when out of range.
 *
 * @example
 * parseCountRate('20k'); // 20000
 */
export function parseCountRate(text: string | number, options: RateOptions = {}): number {
  const expected = 'a count per second such as 20000, 20k, 1.5M or 20k/s (k, M, G are 1000-based)';
  const factorOf = (unit: string) => COUNT_UNITS.get(unit.toLowerCase());
  return parsePerSecond('count-rate', text, options, expected, factorOf, (v) => `${formatCount(v)}/s`);
}

/**
 * Formats a count with the largest SI multiplier that divides it (`20000` → `20k`, `1500000` →
 * `1500k`, `7` → `7`), so `parseCountRate(formatCount(n)) === n` for safe integers.
 *
 * @param count - The count (per second, when used for rates).
 * @returns The text.
 */
export function formatCount(count: number): string {
  if (Number.isInteger(count)) {
    for (const [name, f] of [
      ['G', 1e9],
      ['M', 1e6],
      ['k', 1e3],
    ] as const) {
      if (count >= f && count % f === 0) return `${count / f}${name}`;
    }
  }
  return String(count);
}
