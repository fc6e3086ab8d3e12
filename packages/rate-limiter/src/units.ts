// The limiter's unit helpers, kept for their public names and error type; the grammar lives in
// @bgsnap/units so the limiter, the CLI and the simulator read `100M/s` the same way.
import {
  formatDuration,
  formatBytes as formatSize,
  parseRate as parseBytesPerSecond,
  parseDuration as parseNs,
  parseSize,
  UnitParseError,
} from '@bgsnap/units';
import { LimiterConfigError } from './errors.js';

function asConfigError<T>(parse: () => T, policy: string, option: string, got: unknown): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof UnitParseError) throw new LimiterConfigError(policy, option, error.expected, got);
    throw error;
  }
}

/**
 * Parses a duration such as `5ms`, `250us`, `1.5s` or `100` (a bare number is nanoseconds) into
 * integer nanoseconds; the grammar is `@bgsnap/units`' `parseDuration`. Numbers pass through unchanged
 * (the policy validates them).
 *
 * @param text - The duration text or a number of nanoseconds.
 * @param policy - Policy name for the error message.
 * @param option - Option name for the error message.
 * @returns Nanoseconds.
 * @throws {@link LimiterConfigError} when the text is not a duration.
 */
export function parseDuration(text: string | number, policy = 'limiter', option = 'duration'): number {
  if (typeof text === 'number') return text;
  return asConfigError(() => parseNs(text), policy, option, text);
}

/**
 * Parses a byte size such as `4MiB`, `4M`, `64KiB`, `1TiB`, `1GB` or `4096` (a bare number is bytes);
 * the grammar is `@bgsnap/units`' `parseSize`: `K`/`M`/`G`/`T` and `KiB`…`TiB` are powers of 1024,
 * `KB`/`MB`/`GB`/`TB` powers of 1000. Numbers pass through unchanged.
 *
 * @param text - The size text or a number of bytes.
 * @param policy - Policy name for the error message.
 * @param option - Option name for the error message.
 * @returns Bytes.
 * @throws {@link LimiterConfigError} when the text is not a whole number of bytes.
 */
export function parseBytes(text: string | number, policy = 'limiter', option = 'bytes'): number {
  if (typeof text === 'number') return text;
  return asConfigError(() => parseSize(text), policy, option, text);
}

/**
 * Parses a bandwidth such as `100MiB/s`, `100M/s`, `1GB/s` or `1048576` (bytes per second; the `/s`
 * suffix is optional); the grammar is `@bgsnap/units`' `parseRate`. Numbers pass through unchanged.
 *
 * @param text - The rate text or a number of bytes per second.
 * @param policy - Policy name for the error message.
 * @param option - Option name for the error message.
 * @returns Bytes per second.
 * @throws {@link LimiterConfigError} when the text is not a rate.
 */
export function parseRate(text: string | number, policy = 'limiter', option = 'rate'): number {
  if (typeof text === 'number') return text;
  return asConfigError(() => parseBytesPerSecond(text), policy, option, text);
}

/**
 * Formats nanoseconds for names and reports, exactly: `5ms`, `250us`, `1.5s`, `800ns`
 * (`@bgsnap/units`' `formatDuration`).
 *
 * @param ns - Nanoseconds.
 * @returns A short string that {@link parseDuration} reads back to `ns`.
 */
export function formatNs(ns: number): string {
  return formatDuration(ns);
}

/**
 * Formats a byte count with the largest binary unit that divides it: `4MiB`, `64KiB`, `1000B`
 * (`@bgsnap/units`' `formatBytes`).
 *
 * @param bytes - Bytes.
 * @returns A short string that {@link parseBytes} reads back to `bytes`.
 */
export function formatBytes(bytes: number): string {
  return formatSize(bytes);
}
