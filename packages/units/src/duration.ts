import { UnitParseError } from './errors.js';
import { exactProduct, splitQuantity } from './number-text.js';
import { inRange } from './range.js';
import type { FormatOptions } from './size.js';

/** Duration units in nanoseconds; `m` is minutes (durations have no mega). */
const DURATION_UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['µs', 1_000n], // U+00B5 MICRO SIGN
  ['μs', 1_000n], // U+03BC GREEK SMALL LETTER MU, which some keyboards give instead
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

/** Unit of a bare number in {@link parseDuration}. */
export type BareDurationUnit = 'ns' | 'us' | 'ms' | 's';

/** Bounds, naming and the bare-number unit for {@link parseDuration}. */
export interface DurationOptions {
  /** What is being parsed, for error messages: an option name such as `--interval`. */
  what?: string;
  /** Unit of a number written without one (default `ns`). */
  bareUnit?: BareDurationUnit;
  /** Smallest accepted value in ns (default 0). */
  min?: number;
  /** Largest accepted value in ns (default `Number.MAX_SAFE_INTEGER`). */
  max?: number;
}

/**
 * Parses a duration into whole nanoseconds: `100ns`, `250us` (or `250µs`), `5ms`, `1.5s`, `2m`
 * (minutes), `1h`. A bare number is in `bareUnit` (default ns). Units are case-sensitive (`ms` and `Ms`
 * are not the same idea); the result must be a whole number of nanoseconds.
 *
 * @param text - The duration text, or a number already in `bareUnit`.
 * @param options - See {@link DurationOptions}.
 * @returns Nanoseconds, a safe integer.
 * @throws {@link UnitParseError} when the text is not a duration; {@link UnitRangeError} when out of range.
 *
 * @example
 * parseDuration('250us'); // 250000
 * parseDuration('30', { bareUnit: 's' }); // 30000000000
 */
export function parseDuration(text: string | number, options: DurationOptions = {}): number {
  const { what, bareUnit = 'ns', min = 0, max = Number.MAX_SAFE_INTEGER } = options;
  const expected = `a duration such as 100ns, 250us, 5ms, 1.5s or 2m (a bare number is ${bareUnit})`;
  const q = typeof text === 'number' || typeof text === 'string' ? splitQuantity(String(text)) : undefined;
  const factor = q ? DURATION_UNITS.get(q.unit === '' ? bareUnit : q.unit) : undefined;
  const exact = q && factor !== undefined ? exactProduct(q.number, factor) : undefined;
  if (exact === undefined) throw new UnitParseError('duration', text, expected, what);
  const ns = exact > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(exact);
  return inRange('duration', text, ns, { min, max, what }, formatDuration);
}

const EXACT_UNITS: readonly [string, number][] = [
  ['s', 1e9],
  ['ms', 1e6],
  ['us', 1e3],
];

/**
 * Formats nanoseconds. Exact by default: the largest of `s`, `ms`, `us` in which the value needs at
 * most three decimals (`5ms`, `1.5s`, `1.001us`), else `ns`, so that `parseDuration(formatDuration(n))
 * === n` for every safe integer n ≥ 0. With `precision`, a rounded form for people: `1.23 ms`, `950 ns`.
 *
 * @param ns - Nanoseconds.
 * @param options - See {@link FormatOptions}.
 * @returns The text.
 */
export function formatDuration(ns: number, options: FormatOptions = {}): string {
  if (options.precision !== undefined) {
    const unit = [...EXACT_UNITS].find(([, f]) => Math.abs(ns) >= f);
    const label = unit?.[0] === 'us' ? 'µs' : unit?.[0];
    return unit ? `${(ns / unit[1]).toFixed(options.precision)} ${label}` : `${Math.round(ns)} ns`;
  }
  if (Number.isInteger(ns)) {
    for (const [name, f] of EXACT_UNITS) {
      // Three decimals at most, computed on integers so the text is exact.
      if (ns >= f && ns % (f / 1000) === 0) return `${trimDecimal(ns, f)}${name}`;
    }
  }
  return `${ns}ns`;
}

/** `value / factor` written without floating-point noise (factor is 1e3, 1e6 or 1e9). */
function trimDecimal(value: number, factor: number): string {
  const rest = value % factor; // exact on integers, unlike floor(value / factor) near 2^53
  const whole = (value - rest) / factor;
  if (rest === 0) return String(whole);
  const digits = String(factor).length - 1;
  return `${whole}.${String(rest).padStart(digits, '0').slice(0, 3).replace(/0+$/, '')}`;
}
