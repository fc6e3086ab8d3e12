// Shared lexing: a non-negative decimal number, optional exponent, optional unit. Signs are not part of
// the grammar because no size, duration or rate is negative.
const QUANTITY = /^\s*((?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*([^\s\d.]*)\s*$/i;
const DECIMAL = /^(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i;
/** Exponents beyond this cannot give a safe integer from a sane mantissa; refusing them keeps BigInt small. */
const MAX_EXPONENT = 40;

/** A number and the unit text after it, or undefined when the text is not `<number><unit>`. */
export function splitQuantity(text: string): { number: string; unit: string } | undefined {
  const m = QUANTITY.exec(text);
  if (!m) return undefined;
  return { number: m[1] ?? '', unit: m[2] ?? '' };
}

/**
 * `number × factor` computed exactly (decimal text, integer factor), or undefined when the product is
 * not a whole number or the exponent is absurd. Floating point would turn `1.1GB` into 1100000000.0000002.
 */
export function exactProduct(number: string, factor: bigint): bigint | undefined {
  const m = DECIMAL.exec(number);
  if (!m) return undefined;
  const whole = m[1] ?? '';
  const fraction = m[2] ?? '';
  const exponent = Number(m[3] ?? '0');
  if (Math.abs(exponent) > MAX_EXPONENT) return undefined;
  const digits = BigInt(`${whole}${fraction}` || '0');
  const scale = fraction.length - exponent;
  const product = digits * factor;
  if (scale <= 0) return product * 10n ** BigInt(-scale);
  const divisor = 10n ** BigInt(scale);
  return product % divisor === 0n ? product / divisor : undefined;
}
