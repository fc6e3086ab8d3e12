import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type LimiterPolicy,
  latencyTarget,
  parseBytes,
  parseDuration,
  parseRate,
  threshold,
  tokenBucket,
  unlimited,
} from '@bgsnap/rate-limiter';
import { BadInputError } from './errors.js';

/**
 * A limiter described by data, so it can cross to a worker thread: `name[:key=value,...]` for a
 * built-in policy (e.g. `threshold:latencyNs=2ms`), or the path of a module that exports a policy
 * (`./my-policy.mjs`, optionally `./my-policy.mjs:key=value`).
 */
export type LimiterSpec = string;

type Factory = (options: Record<string, unknown>) => LimiterPolicy;

const BUILT_IN: Record<string, Factory> = {
  unlimited: () => unlimited(),
  threshold: (o) => threshold(o),
  qemu: (o) => threshold(o),
  'token-bucket': (o) => tokenBucket(o as never),
  'latency-target': (o) => latencyTarget(o),
};

/** Names `--limiter` accepts besides module paths. `qemu` is an alias of `threshold`. */
export const KNOWN_LIMITERS: readonly string[] = Object.keys(BUILT_IN);

/** The default policy: the faithful port of the QEMU patch's `limit_scan_rate`. */
export const DEFAULT_LIMITER: LimiterSpec = 'threshold';

function parseValue(key: string, raw: string, policy: string): unknown {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (/Ns$/.test(key)) return parseDuration(raw, policy, key);
  if (/PerSecond$/.test(key)) return parseRate(raw, policy, key);
  if (/Bytes$/.test(key)) return parseBytes(raw, policy, key);
  const n = Number(raw);
  return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
}

function parseOptions(text: string | undefined, policy: string): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  if (!text) return options;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0)
      throw new BadInputError('--limiter', `option '${part}' of '${policy}' must look like key=value`);
    const key = part.slice(0, eq).trim();
    options[key] = parseValue(key, part.slice(eq + 1).trim(), policy);
  }
  return options;
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
    const options = parseOptions(optionText, path);
    const value = typeof exported === 'function' ? (exported as Factory)(options) : exported;
    return checkPolicy(value, `the default export of ${path}`);
  }
  const factory = BUILT_IN[name];
  if (!factory) {
    throw new BadInputError(
      '--limiter',
      `unknown policy '${name}'; known policies: ${KNOWN_LIMITERS.join(', ')} (or the path of a module exporting a policy)`,
    );
  }
  try {
    return factory(parseOptions(optionText, name));
  } catch (error) {
    if (error instanceof BadInputError) throw error;
    throw new BadInputError('--limiter', (error as Error).message);
  }
}
