import { type UnitKind, UnitRangeError } from './errors.js';

const NOUN: Readonly<Record<UnitKind, string>> = {
  size: 'size',
  duration: 'duration',
  rate: 'rate',
  'count-rate': 'rate',
};

/** `value` if it lies in `[min, max]`; else a {@link UnitRangeError} showing the bounds with `show`. */
export function inRange(
  kind: UnitKind,
  text: string | number,
  value: number,
  bounds: { min: number; max: number; what: string | undefined },
  show: (v: number) => string,
): number {
  if (value < bounds.min || value > bounds.max) {
    const expected = `a ${NOUN[kind]} from ${show(bounds.min)} to ${show(bounds.max)}`;
    throw new UnitRangeError(kind, text, value, expected, bounds.what);
  }
  return value;
}
