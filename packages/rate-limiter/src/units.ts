import { LimiterConfigError } from './errors.js';

const DURATION_UNITS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 };
const BYTE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  k: 1024,
  kb: 1e3,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1e9,
  gib: 1024 ** 3,
};
const NUMBER_WITH_UNIT = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*([a-zµ]*)$/i;

function split(text: string): [number, string] | undefined {
  const m = NUMBER_WITH_UNIT.exec(text.trim());
  if (!m) return undefined;
  return [Number(m[1]), (m[2] ?? '').toLowerCase()];
}

/**
 * Parses a duration such as `5ms`, `250us`, `1.5s` or `100` (a bare number is nanoseconds) into
 * integer nanoseconds. Numbers pass through unchanged.
 *
 * @param text - The duration text or a number of nanoseconds.
 * @param policy - Policy name for the error message.
 * @param option - Option name for the error message.
 * @returns Nanoseconds (rounded to an integer for strings).
 * @throws {@link LimiterConfigError} when the text is not a duration.
 */
export function parseDuration(text: string | number, policy = 'limiter', option = 'duration'): number {
  if (typeof text === 'number') return text;
  const parts = split(text);
  const factor = parts ? DURATION_UNITS[parts[1] === '' ? 'ns' : parts[1]] : undefined;
  if (!parts || factor === undefined) {
    throw new LimiterConfigError(policy, option, 'a duration such as 5ms, 250us, 1s or 100ns', text);
  }
  return Math.round(parts[0] * factor);
}

/**
 * Parses a byte size such as `4MiB`, `64KiB`, `1GB` or `4096` (a bare number is bytes). Binary units
 * (KiB, MiB, GiB, and the short K, M, G) are powers of 1024; KB, MB, GB are powers of 1000.
 *
 * @param text - The size text or a number of bytes.
 * @param policy - Policy name for the error message.
 * @param option - Option name for the error message.
 * @returns Bytes.
 * @throws {@link LimiterConfigError} when the text is not a size.
 */
export function parseBytes(text: string | number, policy = 'limiter', option = 'bytes'): number {
  if (typeof text === 'number') return text;
  const parts = split(text);
  const factor = parts ? BYTE_UNITS[parts[1] === '' ? 'b' : parts[1]] : undefined;
  if (!parts || factor === undefined) {
    throw new LimiterConfigError(policy, option, 'a size such as 4MiB, 64KiB, 1GB or 4096', text);
  }
  return Math.round(parts[0] * factor);
}

/**
 * Parses a bandwidth such as `100MiB/s`, `1GB/s` or `1048576` (a bare number is bytes per second; the
 * `/s` suffix is optional).
 *
 * @param text - The rate text or a number of bytes per second.
 * @param policy - Policy name for the error message.
 * @param option - Option name for the error message.
 * @returns Bytes per second.
 * @throws {@link LimiterConfigError} when the text is not a rate.
 */
export function parseRate(text: string | number, policy = 'limiter', option = 'rate'): number {
  if (typeof text === 'number') return text;
  const body = text.trim().replace(/\/s$/i, '');
  try {
    return parseBytes(body, policy, option);
  } catch {
    throw new LimiterConfigError(policy, option, 'a rate such as 100MiB/s, 1GB/s or 1048576 (bytes/s)', text);
  }
}

/**
 * Formats nanoseconds for names and reports: `5ms`, `250us`, `1.5s`, `800ns`.
 *
 * @param ns - Nanoseconds.
 * @returns A short human string.
 */
export function formatNs(ns: number): string {
  if (ns >= 1e9 && ns % 1e7 === 0) return `${ns / 1e9}s`;
  if (ns >= 1e6 && ns % 1e4 === 0) return `${ns / 1e6}ms`;
  if (ns >= 1e3 && ns % 10 === 0) return `${ns / 1e3}us`;
  return `${ns}ns`;
}

/**
 * Formats a byte count with a binary unit when it is a whole multiple: `4MiB`, `64KiB`, `1000B`.
 *
 * @param bytes - Bytes.
 * @returns A short human string.
 */
export function formatBytes(bytes: number): string {
  for (const [unit, f] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= f && bytes % f === 0) return `${bytes / f}${unit}`;
  }
  return `${bytes}B`;
}
