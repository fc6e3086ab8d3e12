import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  LIMITER_POLICIES,
  type LimiterPolicy,
  parseLimiterSpec,
  parseLimiterSpecParts,
  UnknownLimiterError,
} from '@bgsnap/rate-limiter';
import { BadInputError } from './errors.js';

/**
 * A limiter described by data, so it can cross to a worker thread: a `@bgsnap/rate-limiter` spec
 * (`threshold`, `threshold:latency=2ms`, `token-bucket:rate=100MiB/s,burst=4MiB`, `a+b` for the most
 * restrictive of several), or the path of a module that exports a policy (`./my-policy.mjs`,
 * optionally `./my-policy.mjs:key=value,...` passed to its factory).
 */
export type LimiterSpec = string;

/** Canonical names of the built-in policies (aliases such as `qemu` are accepted too). */
export const KNOWN_LIMITERS: readonly string[] = LIMITER_POLICIES.map((p) => p.name);

/** The default policy: the faithful port of the QEMU patch's `limit_scan_rate`. */
export const DEFAULT_LIMITER: LimiterSpec = 'threshold';

function parseModuleOptions(text: string | undefined, path: string): Record<string, unknown> {
  if (!text) return {};
  try {
    return parseLimiterSpecParts(`module:${text}`)[0]?.options ?? {};
  } catch (error) {
    throw new BadInputError('--limiter', `options of ${path}: ${(error as Error).message}`);
  }
}

function isModulePath(name: string): boolean {
  return name.includes('/') || name.includes('\\') || /\.(m|c)?js$/.test(name);
}

function checkPolicy(value: unknown, where: string): LimiterPolicy {
  const p = value as Partial<LimiterPolicy> | undefined;
  const methods = ['start', 'onFault', 'onScan', 'onSinkWrite', 'decide'] as const;
  if (
    !p ||
    typeof p !== 'object' ||
    typeof p.name !== 'string' ||
    methods.some((m) => typeof p[m] !== 'function')
  ) {
    throw new BadInputError(
      '--limiter',
      `${where} is not a LimiterPolicy (needs a string 'name' and methods ${methods.join(', ')})`,
    );
  }
  return p as LimiterPolicy;
}

/**
 * Builds a policy from a {@link LimiterSpec}. Module specs are imported (relative paths resolve against
 * `cwd`); the module's `default` export (or `policy`, or `createPolicy`) is a policy object or a factory
 * called with the parsed options.
 * @throws BadInputError for an unknown name (listing the known ones), bad options or a bad module.
 */
export async function resolveLimiter(
  spec: LimiterSpec = DEFAULT_LIMITER,
  cwd = process.cwd(),
): Promise<LimiterPolicy> {
  if (typeof spec !== 'string' || spec.trim() === '') {
    throw new BadInputError(
      '--limiter',
      `expected a policy name or module path, got ${JSON.stringify(spec)}`,
    );
  }
  // A module path may contain ':' only as a drive letter; options follow the last ':' after the file name.
  const m = /^(.*?\.(?:m|c)?js|[^:]+)(?::(.*))?$/.exec(spec.trim());
  const name = m?.[1] ?? spec;
  const optionText = m?.[2];
  if (isModulePath(name)) {
    const path = isAbsolute(name) ? name : resolve(cwd, name);
    if (!existsSync(path)) throw new BadInputError('--limiter', `policy module ${path} does not exist`);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (error) {
      throw new BadInputError('--limiter', `cannot load policy module ${path}: ${(error as Error).message}`);
    }
    const exported = mod.default ?? mod.policy ?? mod.createPolicy;
    const options = parseModuleOptions(optionText, path);
    const value =
      typeof exported === 'function'
        ? (exported as (options: Record<string, unknown>) => LimiterPolicy)(options)
        : exported;
    return checkPolicy(value, `the default export of ${path}`);
  }
  try {
    return parseLimiterSpec(spec);
  } catch (error) {
    if (error instanceof UnknownLimiterError) {
      throw new BadInputError(
        '--limiter',
        `unknown policy in '${spec}'; known policies: ${error.known.join(', ')} (or the path of a module exporting a policy)`,
      );
    }
    throw new BadInputError('--limiter', (error as Error).message);
  }
}
