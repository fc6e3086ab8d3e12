const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  kib: 2 ** 10,
  m: 1e6,
  mib: 2 ** 20,
  g: 1e9,
  gib: 2 ** 30,
};

/**
 * `4096`, `64MiB`, `1GiB`, `100k` → a whole number of bytes (or items).
 * @throws RangeError naming `what` for anything else.
 */
export function parseSize(text: string, what = 'size'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const n = m && unit ? Number(m[1]) * unit : Number.NaN;
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new RangeError(`${what} must be a positive whole number like 4096, 64MiB or 1GiB; got '${text}'`);
  return n;
}
