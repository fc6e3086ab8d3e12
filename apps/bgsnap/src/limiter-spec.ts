import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  all,
  createPolicy,
  LIMITER_POLICIES,
  type LimiterPolicy,
  type ParsedLimiterSpec,
  parseLimiterSpecParts,
  UnknownLimiterError,
} from '@bgsnap/rate-limiter';
import { BadInputError } from './errors.js';

/**
 * A limiter described by data, so it can cross to a worker thread: `+`-joined members, each a built-in
 * `@bgsnap/rate-limiter` policy (`threshold`, `threshold:latency=2ms`, `token-bucket:rate=100MiB/s`) or
 * the path of a module exporting a policy (`./my-policy.mjs`, `./my-policy.mjs:pages=4`), in any order:
 * `latency-target+./mine.mjs:pages=4` is the most restrictive of both. A member is a module exactly when
 * it starts with `./`, `../`, `/` or `file:`; the grammar is `parseLimiterSpecParts`'.
 */
export type LimiterSpec = string;

/** Canonical names of the built-in policies (aliases such as `qemu` are accepted too). */
export const KNOWN_LIMITERS: readonly string[] = LIMITER_POLICIES.map((p) => p.name);

/** The default policy: the faithful port of the QEMU patch's `limit_scan_rate`. */
export const DEFAULT_LIMITER: LimiterSpec = 'threshold';

const METHODS = ['start', 'onFault', 'onScan', 'onSinkWrite', 'decide'] as const;

function checkPolicy(value: unknown, where: string): LimiterPolicy {
  const p = value as Partial<LimiterPolicy> | undefined;
  if (
    !p ||
    typeof p !== 'object' ||
    typeof p.name !== 'string' ||
    METHODS.some((m) => typeof p[m] !== 'function')
  ) {
    throw new BadInputError(
      '--limiter',
      `${where} is not a LimiterPolicy (needs a string 'name' and methods ${METHODS.join(', ')})`,
    );
  }
  return p as LimiterPolicy;
}

function modulePath(module: string, cwd: string): string {
  if (!module.startsWith('file:')) return resolve(cwd, module);
  try {
    return fileURLToPath(module); // decodes %2B and %3A, the escapes for '+' and ':' in a path
  } catch (error) {
    throw new BadInputError('--limiter', `'${module}' is not a file URL: ${(error as Error).message}`);
  }
}

/**
 * Imports a module member and builds its policy. The factory contract: the module's `default` export
 * (or `policy`, or `createPolicy`) is a policy object, or a function called with the member's options
 * as written (strings for `key=value`, JSON values for a JSON object) that returns one. It runs once on
 * the main thread to validate the spec and again in the save loop's worker, so it must not have side
 * effects; for bad options it should throw `PolicyOptionsError` — any error it throws is reported as
 * bad input (exit 2) with its message.
 */
async function loadModulePolicy(
  part: ParsedLimiterSpec & { module: string },
  cwd: string,
): Promise<LimiterPolicy> {
  const path = modulePath(part.module, cwd);
  if (!existsSync(path)) throw new BadInputError('--limiter', `policy module ${path} does not exist`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new BadInputError('--limiter', `cannot load policy module ${path}: ${(error as Error).message}`);
  }
  const exported = mod.default ?? mod.policy ?? mod.createPolicy;
  if (typeof exported !== 'function') {
    if (Object.keys(part.options).length > 0) {
      throw new BadInputError(
        '--limiter',
        `${path} exports a policy object, which takes no options; export a factory to accept ${Object.keys(part.options).join(', ')}`,
      );
    }
    return checkPolicy(exported, `the default export of ${path}`);
  }
  let value: unknown;
  try {
    value = (exported as (options: Record<string, unknown>) => unknown)({ ...part.options });
  } catch (error) {
    const e = error as Error | undefined;
    throw new BadInputError(
      '--limiter',
      `policy module ${path} rejected its options: ${e?.message ?? String(error)}`,
    );
  }
  return checkPolicy(value, `the value returned by ${path}'s factory`);
}

function builtinPolicy(part: ParsedLimiterSpec): LimiterPolicy {
  try {
    return createPolicy(part.name, part.options);
  } catch (error) {
    if (error instanceof UnknownLimiterError) {
      const hint = /\.[cm]?js$/.test(part.name) ? `; for a module write ./${part.name}` : '';
      throw new BadInputError(
        '--limiter',
        `unknown policy '${part.name}'; known policies: ${error.known.join(', ')} (or the path of a module exporting a policy, starting with ./, ../, / or file:)${hint}`,
      );
    }
    throw new BadInputError('--limiter', (error as Error).message);
  }
}

/**
 * Builds a policy from a {@link LimiterSpec}: every member, built-in or module, in the order written;
 * several members give `all(...)` of them, whose name lists each member's. Module paths resolve
 * against `cwd`. See `loadModulePolicy`'s contract above (and the rate-limiter README's "Writing a
 * custom policy") for what a module exports.
 *
 * @param spec - The spec; default {@link DEFAULT_LIMITER}.
 * @param cwd - Base of relative module paths.
 * @returns A fresh policy.
 * @throws BadInputError for a syntax error, an unknown name (listing the known ones), bad options, a
 * missing or bad module, or any error a module's factory throws.
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
  let parts: ParsedLimiterSpec[];
  try {
    parts = parseLimiterSpecParts(spec);
  } catch (error) {
    throw new BadInputError('--limiter', (error as Error).message);
  }
  const policies: LimiterPolicy[] = [];
  for (const part of parts) {
    policies.push(
      part.module === undefined
        ? builtinPolicy(part)
        : await loadModulePolicy({ ...part, module: part.module }, cwd),
    );
  }
  return policies.length === 1 ? (policies[0] as LimiterPolicy) : all(...policies);
}
