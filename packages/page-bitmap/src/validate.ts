/**
 * Argument checks shared by both bitmap variants. The hot paths inline a cheap range test and call
 * these only to build the error, so the common case pays for one comparison chain.
 */

/** Largest page count either variant accepts: 2^32 pages, i.e. 16 TiB of 4 KiB pages. */
export const MAX_PAGE_COUNT = 2 ** 32;

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  return typeof value;
}

/** Builds the error for a bad integer argument that must lie in `[min, max]` (inclusive). */
export function integerError(name: string, value: unknown, min: number, max: number): TypeError | RangeError {
  const range = `an integer in [${min}, ${max}]`;
  if (typeof value !== 'number') return new TypeError(`${name} must be ${range}, got ${show(value)}`);
  return new RangeError(`${name} must be ${range}, got ${show(value)}`);
}

/** Throws unless `value` is an integer in `[min, max]` (inclusive). */
export function checkInteger(
  name: string,
  value: unknown,
  min: number,
  max: number,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw integerError(name, value, min, max);
  }
}

/** Throws unless `size` is a valid page count in `[1, max]`. */
export function checkSize(
  size: unknown,
  max: number = MAX_PAGE_COUNT,
  name = 'size',
): asserts size is number {
  checkInteger(name, size, 1, max);
}

/** Error for a bit index outside `[0, size - 1]`. */
export function indexError(name: string, value: unknown, size: number): TypeError | RangeError {
  return integerError(name, value, 0, size - 1);
}

/** Throws unless `[start, end)` is a valid half-open range within `[0, size]`. */
export function checkRange(
  start: unknown,
  end: unknown,
  size: number,
  startName = 'start',
  endName = 'end',
): asserts start is number {
  checkInteger(startName, start, 0, size);
  if (typeof end !== 'number' || !Number.isInteger(end) || end < start || end > size) {
    throw integerError(endName, end, start, size);
  }
}

/** Throws unless two bitmaps have the same size. */
export function checkSameSize(what: string, size: number, otherSize: number): void {
  if (size !== otherSize) {
    throw new RangeError(`${what}: other bitmap has size ${otherSize}, expected the same size ${size}`);
  }
}
