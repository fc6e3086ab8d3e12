import { all } from './all.js';
import { LimiterConfigError, UnknownLimiterError } from './errors.js';
import { LATENCY_CONTROLS, type LatencyTargetOptions, latencyTarget } from './latency-target.js';
import { LATENCY_MEASURES } from './measure.js';
import { type ThresholdOptions, threshold } from './threshold.js';
import { type TokenBucketOptions, tokenBucket } from './token-bucket.js';
import type { LimiterPolicy } from './types.js';
import { parseBytes, parseDuration, parseRate } from './units.js';
import { unlimited } from './unlimited.js';

/** How an option's value is written and converted. */
export type LimiterOptionKind = 'duration' | 'bytes' | 'rate' | 'integer' | 'boolean' | 'enum';

/** One option of a registered policy. */
export interface LimiterOptionSchema {
  /** The option's name in the TypeScript API, for example `latencyNs`. */
  readonly name: string;
  /** Keys accepted in a spec or options object; the first is the short spec key, for example `latency`. */
  readonly keys: readonly string[];
  /** Value kind: `duration` (`5ms`, `250us`; ns), `bytes` (`4MiB`), `rate` (`100MiB/s`), … */
  readonly kind: LimiterOptionKind;
  /** Unit of the converted value: `ns`, `bytes`, `bytes/s`, `pages`, or empty. */
  readonly unit: string;
  /** Default, in human form (`5ms`); undefined when the option is required. */
  readonly default: string | undefined;
  /** One-line description. */
  readonly description: string;
  /** For `enum`: the accepted values. */
  readonly values?: readonly string[];
}

/** A policy the registry can build by name. */
export interface LimiterPolicyInfo {
  /** Canonical name, as used in specs: `threshold`. */
  readonly name: string;
  /** Other accepted names. */
  readonly aliases: readonly string[];
  /** One-line description. */
  readonly description: string;
  /** Its options. */
  readonly options: readonly LimiterOptionSchema[];
  /** Builds the policy from options already converted to API names and units. */
  readonly create: (options: Record<string, unknown>) => LimiterPolicy;
}

const MEASURE = {
  kind: 'enum',
  unit: '',
  values: LATENCY_MEASURES,
  description: 'latency measure: sinceFetch (the patch), upperBound, or true (falls back to upperBound)',
} as const;

/** The built-in policies, in the order a CLI lists them. */
export const LIMITER_POLICIES: readonly LimiterPolicyInfo[] = [
  {
    name: 'unlimited',
    aliases: ['none', 'off'],
    description: 'no limit: scan as fast as the loop can (QEMU without the patch)',
    options: [],
    create: () => unlimited(),
  },
  {
    name: 'threshold',
    aliases: ['qemu', 'qemu-threshold', 'limit-scan-rate'],
    description:
      "faithful port of the QEMU patch's limit_scan_rate: after a slow fault, N steps each wait for a fault",
    options: [
      {
        name: 'latencyNs',
        keys: ['latency', 'latencyNs'],
        kind: 'duration',
        unit: 'ns',
        default: '5ms',
        description: 'a fault slower than this starts throttling (FAULT_HIGH_LATENCY_NS)',
      },
      {
        name: 'pages',
        keys: ['pages'],
        kind: 'integer',
        unit: 'pages',
        default: '200',
        description: 'steps throttled after a slow fault (SLOW_FAULT_SKIP_PAGES)',
      },
      {
        name: 'pollNs',
        keys: ['poll', 'pollNs'],
        kind: 'duration',
        unit: 'ns',
        default: '5ms',
        description: 'wait for a fault before each throttled step (SLOW_FAULT_POLL_TMO)',
      },
      { name: 'measure', keys: ['measure'], default: 'sinceFetch', ...MEASURE },
    ],
    create: (o) => threshold(o as ThresholdOptions),
  },
  {
    name: 'token-bucket',
    aliases: ['bucket', 'tokenBucket', 'max-bandwidth'],
    description: "fixed bandwidth cap with a burst, like QEMU's max-bandwidth",
    options: [
      {
        name: 'bytesPerSecond',
        keys: ['rate', 'bytesPerSecond'],
        kind: 'rate',
        unit: 'bytes/s',
        default: undefined,
        description: 'sustained rate (required), e.g. 100MiB/s',
      },
      {
        name: 'burstBytes',
        keys: ['burst', 'burstBytes'],
        kind: 'bytes',
        unit: 'bytes',
        default: '100ms of rate, >= 4KiB',
        description: 'bucket size, e.g. 4MiB',
      },
      {
        name: 'chargeFaults',
        keys: ['charge-faults', 'chargeFaults'],
        kind: 'boolean',
        unit: '',
        default: 'true',
        description: 'fault pages take tokens too',
      },
    ],
    create: (o) => tokenBucket(o as unknown as TokenBucketOptions),
  },
  {
    name: 'latency-target',
    aliases: ['latency', 'latencyTarget', 'adaptive'],
    description: 'adaptive: keeps p99 write-fault latency under a target, giving the scan the rest',
    options: [
      {
        name: 'p99TargetNs',
        keys: ['p99', 'target', 'p99TargetNs'],
        kind: 'duration',
        unit: 'ns',
        default: '1ms',
        description: 'p99 write-fault latency target',
      },
      {
        name: 'control',
        keys: ['control'],
        kind: 'enum',
        unit: '',
        values: LATENCY_CONTROLS,
        default: 'aimd',
        description: 'control law: aimd (chosen), codel (wbt-style) or pi',
      },
      {
        name: 'intervalNs',
        keys: ['interval', 'intervalNs'],
        kind: 'duration',
        unit: 'ns',
        default: '50ms',
        description: 'control interval',
      },
      {
        name: 'maxQueueBytes',
        keys: ['max-queue', 'maxQueueBytes'],
        kind: 'bytes',
        unit: 'bytes',
        default: '4MiB',
        description: "most data queued ahead of the sink; keep <= half the writer's high-water mark",
      },
      {
        name: 'minQueueBytes',
        keys: ['min-queue', 'minQueueBytes'],
        kind: 'bytes',
        unit: 'bytes',
        default: '256KiB',
        description: 'smallest window (also >= 2 sink writes)',
      },
      {
        name: 'pollNs',
        keys: ['poll', 'pollNs'],
        kind: 'duration',
        unit: 'ns',
        default: 'min(250us, target/4)',
        description: 'wait when holding the scan',
      },
      {
        name: 'maxHoldNs',
        keys: ['hold', 'maxHoldNs'],
        kind: 'duration',
        unit: 'ns',
        default: '50ms',
        description: 'progress floor: at least one page this often',
      },
      { name: 'measure', keys: ['measure'], default: 'true', ...MEASURE },
    ],
    create: (o) => latencyTarget(o as LatencyTargetOptions),
  },
];

/**
 * Every name {@link createPolicy} and {@link parseLimiterSpec} accept: canonical names first, then
 * aliases.
 *
 * @returns The names.
 */
export function limiterNames(): string[] {
  return [...LIMITER_POLICIES.map((p) => p.name), ...LIMITER_POLICIES.flatMap((p) => p.aliases)];
}

/**
 * Looks up a built-in policy by name or alias (case-insensitive).
 *
 * @param name - Name or alias.
 * @returns Its registry entry.
 * @throws {@link UnknownLimiterError} listing the known names.
 */
export function limiterInfo(name: string): LimiterPolicyInfo {
  const n = String(name).trim().toLowerCase();
  const info = LIMITER_POLICIES.find((p) => p.name === n || p.aliases.some((a) => a.toLowerCase() === n));
  if (!info)
    throw new UnknownLimiterError(
      String(name),
      LIMITER_POLICIES.map((p) => p.name),
    );
  return info;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

function convert(policy: string, o: LimiterOptionSchema, key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value; // numbers and booleans: the policy validates them
  switch (o.kind) {
    case 'duration':
      return parseDuration(value, policy, key);
    case 'bytes':
      return parseBytes(value, policy, key);
    case 'rate':
      return parseRate(value, policy, key);
    case 'integer': {
      const n = Number(value.trim());
      if (value.trim() === '' || !Number.isFinite(n))
        throw new LimiterConfigError(policy, key, 'an integer', value);
      return n;
    }
    case 'boolean': {
      const v = value.trim().toLowerCase();
      if (TRUE.has(v)) return true;
      if (FALSE.has(v)) return false;
      throw new LimiterConfigError(policy, key, 'true or false', value);
    }
    default:
      return value.trim();
  }
}

/**
 * Builds a built-in policy by name. Option keys may be the API names (`latencyNs`) or the short spec
 * keys (`latency`); values may be numbers in the API's units (ns, bytes, bytes/s) or strings with
 * human units (`5ms`, `4MiB`, `100MiB/s`).
 *
 * @param name - Policy name or alias (see {@link limiterNames}).
 * @param options - Options; see each policy's schema in {@link LIMITER_POLICIES}.
 * @returns A fresh policy.
 * @throws {@link UnknownLimiterError} for an unknown name; {@link LimiterConfigError} naming the
 * option for an unknown key or a bad value.
 *
 * @example
 * createPolicy('threshold', { latency: '2ms', pages: 100 });
 * createPolicy('token-bucket', { bytesPerSecond: 100 * 2 ** 20, burstBytes: 2 ** 22 });
 */
export function createPolicy(name: string, options: Record<string, unknown> = {}): LimiterPolicy {
  const info = limiterInfo(name);
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new LimiterConfigError(info.name, 'options', 'an object of options', options);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    const o = info.options.find((s) => s.keys.includes(key));
    if (!o) {
      const known = info.options.map((s) => s.keys[0]).join(', ');
      throw new LimiterConfigError(
        info.name,
        key,
        known ? `a known option (${known})` : 'absent: this policy takes no options',
        value,
      );
    }
    if (o.name in out)
      throw new LimiterConfigError(info.name, key, `given once (also set as ${o.name})`, value);
    out[o.name] = convert(info.name, o, key, value);
  }
  return info.create(out);
}

/** One member of a spec (`name[:options]` or `module[:options]`), after parsing. */
export interface ParsedLimiterSpec {
  /** The policy name as written, or for a module member its path or `file:` URL as written. */
  name: string;
  /** Its options, keys and values as written (strings) or as JSON gave them. */
  options: Record<string, unknown>;
  /**
   * For a module member: the path (`./mine.mjs`, `../p.mjs`, `/abs/p.mjs`) or `file:` URL, as written;
   * resolving and importing it is the caller's business (bgsnap's `resolveLimiter` does both).
   * Undefined for a built-in.
   */
  module?: string;
}

/** Prefixes that make a member a module path rather than a built-in name. */
export const MODULE_MEMBER_PREFIXES: readonly string[] = ['./', '../', '/', 'file:'];

/** Index of the next `sep` at or after `from` outside JSON strings and brackets, or the text's length. */
function nextTopLevel(text: string, from: number, sep: string): number {
  let depth = 0;
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === sep && depth === 0) return i;
  }
  return text.length;
}

function splitTopLevel(text: string, sep: string): string[] {
  const parts: string[] = [];
  for (let from = 0; ; ) {
    const at = nextTopLevel(text, from, sep);
    parts.push(text.slice(from, at));
    if (at >= text.length) return parts;
    from = at + 1;
  }
}

interface RawMember {
  head: string;
  module: boolean;
  body: string;
  raw: string;
}

/**
 * Splits a spec into members. A member's head (name or module path) ends at its first `:` or `+`;
 * for a `file:` URL the scheme's colon does not count. Its options run to the next top-level `+`.
 */
function splitMembers(spec: string): RawMember[] {
  const members: RawMember[] = [];
  let at = 0;
  for (;;) {
    const from = at;
    while (at < spec.length && /\s/.test(spec[at] as string)) at++;
    const module = MODULE_MEMBER_PREFIXES.some((p) => spec.startsWith(p, at));
    let end = module && spec.startsWith('file:', at) ? at + 'file:'.length : at;
    while (end < spec.length && spec[end] !== ':' && spec[end] !== '+') end++;
    const head = spec.slice(at, end).trim();
    let body = '';
    if (spec[end] === ':') {
      const stop = nextTopLevel(spec, end + 1, '+');
      body = spec.slice(end + 1, stop).trim();
      end = stop;
    }
    members.push({ head, module, body, raw: spec.slice(from, end) });
    if (end >= spec.length) return members;
    at = end + 1;
  }
}

function parseOptions(name: string, body: string): Record<string, unknown> {
  if (body === '') return {};
  if (body.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new LimiterConfigError(name, 'spec', 'a JSON object after the colon', body);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new LimiterConfigError(name, 'spec', 'a JSON object after the colon', body);
    }
    return parsed as Record<string, unknown>;
  }
  const options: Record<string, unknown> = {};
  for (const kv of splitTopLevel(body, ',')) {
    const eq = kv.indexOf('=');
    const key = (eq < 0 ? kv : kv.slice(0, eq)).trim();
    if (eq < 0 || key === '') throw new LimiterConfigError(name, key || 'spec', 'written key=value', kv);
    if (key in options) throw new LimiterConfigError(name, key, 'given once', kv);
    options[key] = kv.slice(eq + 1).trim();
  }
  return options;
}

/**
 * Parses a limiter spec into its members without building or importing anything. Grammar:
 *
 * ```
 * spec    := member ('+' member)*        several members: all of them (most restrictive wins)
 * member  := head [':' options]
 * head    := module | name
 * module  := ('./' | '../' | '/' | 'file:') then characters up to the first ':' or '+'
 * name    := characters up to the first ':' or '+' (a built-in policy name or alias)
 * options := key '=' value (',' key '=' value)*  or a JSON object; runs to the next '+' outside JSON
 * ```
 *
 * A member is a module path exactly when it starts with `./`, `../`, `/` or `file:`, so built-ins and
 * modules compose in either order: `latency-target+./mine.mjs:pages=4`, `./mine.mjs:pages=4+threshold`.
 * A module path cannot contain `:` or `+`: for such a file write a `file:` URL with them
 * percent-encoded (`file:///tmp/a%2Bb.mjs` is `/tmp/a+b.mjs`; `%3A` is `:`). Option values cannot
 * contain `+` or `,` outside a JSON object.
 *
 * Examples: `unlimited`, `threshold:latency=5ms,pages=200,poll=5ms`,
 * `token-bucket:rate=100MiB/s,burst=4MiB`, `latency-target:{"p99":"500us"}`,
 * `threshold+token-bucket:rate=1GiB/s`, `./my-policy.mjs:pages=4+latency-target`.
 *
 * @param spec - The spec text.
 * @returns One entry per member, in order.
 * @throws {@link LimiterConfigError} (option `spec`) for syntax errors.
 */
export function parseLimiterSpecParts(spec: string): ParsedLimiterSpec[] {
  if (typeof spec !== 'string' || spec.trim() === '') {
    throw new LimiterConfigError(
      'limiter',
      'spec',
      `a spec such as 'threshold:latency=5ms' (${limiterNames().join(', ')})`,
      spec,
    );
  }
  return splitMembers(spec).map((m) => {
    if (m.head === '' || m.head === 'file:') {
      throw new LimiterConfigError(
        'limiter',
        'spec',
        'name[:key=value,...] or ./module.mjs[:key=value,...] members joined by +',
        m.raw,
      );
    }
    const options = parseOptions(m.head, m.body);
    return m.module ? { name: m.head, options, module: m.head } : { name: m.head, options };
  });
}

/**
 * Builds a policy from a CLI spec of built-ins (syntax in {@link parseLimiterSpecParts}); several
 * members joined by `+` build {@link all} of them. Module members need an import, which this
 * synchronous function does not do: it rejects them.
 *
 * @param spec - For example `threshold:latency=5ms,pages=200` or `latency-target:p99=1ms`.
 * @returns A fresh policy.
 * @throws {@link UnknownLimiterError} (with `.known`) for an unknown name; {@link LimiterConfigError}
 * naming the option for anything else.
 *
 * @example
 * const policy = parseLimiterSpec(argv.limiter ?? 'latency-target');
 */
export function parseLimiterSpec(spec: string): LimiterPolicy {
  const policies = parseLimiterSpecParts(spec).map((p) => {
    if (p.module !== undefined) {
      throw new LimiterConfigError(
        'limiter',
        'spec',
        "built-in policies only (module members are imported by an async loader such as bgsnap's resolveLimiter)",
        p.module,
      );
    }
    return createPolicy(p.name, p.options);
  });
  return policies.length === 1 ? policies[0]! : all(...policies);
}

/**
 * Help text listing every built-in policy with its options, units and defaults, for a CLI's
 * `--help` or error output.
 *
 * @returns Multi-line text.
 */
export function describeLimiters(): string {
  const lines: string[] = [
    'limiters (--limiter member[+member...], member = name[:key=value,...] or ./module.mjs[:key=value,...]):',
  ];
  for (const p of LIMITER_POLICIES) {
    const aka = p.aliases.length ? ` (also: ${p.aliases.join(', ')})` : '';
    lines.push(`  ${p.name}${aka}: ${p.description}`);
    for (const o of p.options) {
      const values = o.values ? ` {${o.values.join('|')}}` : '';
      const def = o.default === undefined ? 'required' : `default ${o.default}`;
      lines.push(`    ${o.keys[0]}=<${o.kind}${values}>  ${o.description}; ${def}`);
    }
  }
  return lines.join('\n');
}
