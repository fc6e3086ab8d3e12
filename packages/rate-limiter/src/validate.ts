import { LimiterConfigError } from './errors.js';

/** Range rules for one numeric option. */
export interface NumberRule {
  /** Smallest accepted value. */
  min?: number;
  /** Whether `min` itself is rejected. */
  minExclusive?: boolean;
  /** Largest accepted value. */
  max?: number;
  /** Only integers are accepted. */
  integer?: boolean;
  /** Unit shown in the error message, for example `ns`. */
  unit?: string;
}

/**
 * Checks that `options` is undefined or a plain object whose keys are all in `known`.
 * @internal
 */
export function checkOptionNames(policy: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new LimiterConfigError(policy, 'options', 'an object of options', options);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new LimiterConfigError(
        policy,
        key,
        known.length > 0 ? `a known option (${known.join(', ')})` : 'absent: this policy takes no options',
        (options as Record<string, unknown>)[key],
      );
    }
  }
}

function describeRule(rule: NumberRule): string {
  const kind = rule.integer ? 'an integer' : 'a finite number';
  const parts: string[] = [];
  if (rule.min !== undefined) parts.push(`${rule.minExclusive ? '>' : '>='} ${rule.min}`);
  if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
  const unit = rule.unit ? ` (${rule.unit})` : '';
  return `${kind}${parts.length ? ` ${parts.join(' and ')}` : ''}${unit}`;
}

/**
 * Returns `value`, or `fallback` when it is undefined, after checking it against `rule`.
 * @internal
 */
export function numberOption(
  policy: string,
  option: string,
  value: unknown,
  fallback: number,
  rule: NumberRule,
): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!rule.integer || Number.isInteger(value)) &&
    (rule.min === undefined || (rule.minExclusive ? value > rule.min : value >= rule.min)) &&
    (rule.max === undefined || value <= rule.max);
  if (!ok) throw new LimiterConfigError(policy, option, describeRule(rule), value);
  return value;
}

/**
 * Returns `value`, or `fallback` when undefined, after checking it is one of `values`.
 * @internal
 */
export function enumOption<T extends string>(
  policy: string,
  option: string,
  value: unknown,
  fallback: T,
  values: readonly T[],
): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    throw new LimiterConfigError(policy, option, `one of ${values.map((v) => `'${v}'`).join(', ')}`, value);
  }
  return value as T;
}

/**
 * Returns `value`, or `fallback` when undefined, after checking it is a boolean.
 * @internal
 */
export function booleanOption(policy: string, option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new LimiterConfigError(policy, option, 'true or false', value);
  return value;
}

/**
 * Like {@link numberOption}, for an option without a default.
 * @internal
 */
export function requiredNumberOption(
  policy: string,
  option: string,
  value: unknown,
  rule: NumberRule,
): number {
  if (value === undefined)
    throw new LimiterConfigError(policy, option, `${describeRule(rule)} (required)`, value);
  return numberOption(policy, option, value, 0, rule);
}
