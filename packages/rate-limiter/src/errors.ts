/**
 * Thrown for bad policy configuration: an unknown option name, a value of the wrong type, a value out
 * of range, or a spec string that does not parse. `option` names the offending option so a CLI can
 * point at it.
 *
 * @example
 * try { tokenBucket({ bytesPerSecond: -1, burstBytes: 1 }); }
 * catch (e) { if (e instanceof LimiterConfigError) console.error(e.option); } // 'bytesPerSecond'
 */
export class LimiterConfigError extends Error {
  /** Stable error code for programmatic checks. */
  readonly code = 'ERR_LIMITER_CONFIG';
  /** The policy whose configuration is wrong, for example `token-bucket`. */
  readonly policy: string;
  /** The option at fault, for example `bytesPerSecond`; `'name'` for an unknown policy name, `'spec'` for a syntax error. */
  readonly option: string;
  /** What would have been accepted, for example `a finite number > 0 (bytes/s)`. */
  readonly allowed: string;

  /**
   * @param policy - Policy name.
   * @param option - Offending option.
   * @param allowed - Description of the accepted values.
   * @param got - The rejected value, shown in the message.
   */
  constructor(policy: string, option: string, allowed: string, got: unknown) {
    super(`${policy}: option '${option}' must be ${allowed}, got ${describe(got)}`);
    this.name = 'LimiterConfigError';
    this.policy = policy;
    this.option = option;
    this.allowed = allowed;
  }
}

/**
 * Thrown by {@link createPolicy} and {@link parseLimiterSpec} for a policy name the registry does not
 * know. `known` lists the accepted names, so a CLI can print them.
 */
export class UnknownLimiterError extends LimiterConfigError {
  /** Every policy name the registry accepts (canonical names first, then aliases). */
  readonly known: readonly string[];

  /**
   * @param name - The unknown name.
   * @param known - Accepted names.
   */
  constructor(name: string, known: readonly string[]) {
    super('limiter', 'name', `one of ${known.join(', ')}`, name);
    this.name = 'UnknownLimiterError';
    this.known = known;
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  try {
    return JSON.stringify(v) ?? typeof v;
  } catch {
    return typeof v;
  }
}

/**
 * The error a custom policy module's factory should throw for bad options. The factory receives
 * options as written in the spec (strings for `key=value`, JSON values for a JSON object) and runs
 * twice: once on the main thread to validate, before anything is allocated, and again in the save
 * loop's worker. bgsnap's CLI reports any error the factory throws during validation as bad input
 * (exit 2, with the message); this class adds the option and the accepted values to it.
 *
 * @example
 * export default function createPolicy(options) {
 *   const pages = Number(options.pages ?? '4');
 *   if (!Number.isInteger(pages) || pages < 1)
 *     throw new PolicyOptionsError('mine', 'pages', 'an integer >= 1', options.pages);
 *   // ...
 * }
 */
export class PolicyOptionsError extends LimiterConfigError {
  /**
   * @param policy - Your policy's name, for example `mine`.
   * @param option - The offending option, as the spec writes it (`pages`).
   * @param allowed - What would have been accepted (`an integer >= 1`).
   * @param got - The rejected value.
   */
  constructor(policy: string, option: string, allowed: string, got: unknown) {
    super(policy, option, allowed, got);
    this.name = 'PolicyOptionsError';
  }
}
