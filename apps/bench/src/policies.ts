import { parseLimiterSpec, UnknownLimiterError } from '@bgsnap/rate-limiter';
import { BadInputError, resolveLimiter } from 'bgsnap';

/**
 * A limiter the benchmark runs: a short name for tables and plots, and the limiter spec it stands for
 * (a `@bgsnap/rate-limiter` spec, or the path of a module exporting a policy, as `bgsnap run --limiter`).
 */
export interface BenchPolicy {
  readonly name: string;
  readonly spec: string;
  readonly description: string;
}

/**
 * The policies `bgsnap-bench` compares by default: no limit; the faithful port of the QEMU patch fed
 * its own measure, then the upper-bound and true measures; a fixed token bucket; the adaptive
 * latency target; and the latency target capped by a token bucket (the most restrictive of both).
 */
export const BENCH_POLICIES: readonly BenchPolicy[] = [
  { name: 'unlimited', spec: 'unlimited', description: 'no limit (QEMU as merged)' },
  {
    name: 'qemu',
    spec: 'threshold',
    description: "the QEMU patch's limit_scan_rate, its own measure (since fetch)",
  },
  {
    name: 'qemu-upper',
    spec: 'threshold:measure=upperBound',
    description: 'the same, fed the upper-bound measure',
  },
  { name: 'qemu-true', spec: 'threshold:measure=true', description: 'the same, fed the true fault latency' },
  {
    name: 'bucket',
    spec: 'token-bucket:rate=512MiB/s,burst=8MiB',
    description: 'token bucket 512 MiB/s, 8 MiB burst',
  },
  { name: 'latency', spec: 'latency-target:p99=1ms', description: 'adaptive latency target, p99 1 ms' },
  {
    name: 'latency+bucket',
    spec: 'latency-target:p99=1ms+token-bucket:rate=1GiB/s,burst=8MiB',
    description: 'latency target capped at 1 GiB/s (most restrictive of both)',
  },
];

/** Names go into row ids, tables and plot legends: keep them to one plain word. */
const NAME = /^[A-Za-z0-9][\w.+-]*$/;

/** Whether `value` (after `name=`) begins a limiter: a module path or a known policy name. */
function startsLimiter(value: string): boolean {
  // Paths as the shell gives them (./x, ../x, /x, C:\x), file: URLs, or any *.js/*.mjs/*.cjs file;
  // not an option value such as `1MiB/s`.
  if (/^(\.{0,2}[/\\]|[A-Za-z]:[/\\]|file:)|^[^:]*\.(m|c)?js(:|$)/.test(value)) return true;
  const head = value.split(/[:+]/, 1)[0]!.trim();
  try {
    parseLimiterSpec(head);
    return true;
  } catch (error) {
    if (error instanceof UnknownLimiterError) return false;
    return true; // a known name that wants options: still the start of a spec
  }
}

/**
 * Splits the `--policies` values into items. `;` always separates; `,` separates too, except inside a
 * spec's options (`token-bucket:rate=1MiB/s,burst=1MiB`): a comma starts a new item only when what
 * follows is a bare word (a preset name, `all`), or `name=` followed by a module path or a known
 * policy name.
 */
export function splitPolicyItems(values: readonly string[]): string[] {
  const items: string[] = [];
  for (const value of values) {
    for (const part of value.split(';')) {
      let current: string | undefined;
      for (const raw of part.split(',')) {
        const seg = raw.trim();
        const eq = seg.indexOf('=');
        const starts =
          current === undefined ||
          NAME.test(seg) || // a bare word: a preset name (or an unknown one, reported as such)
          (eq > 0 && NAME.test(seg.slice(0, eq).trim()) && startsLimiter(seg.slice(eq + 1).trim()));
        if (starts) {
          if (current !== undefined) items.push(current);
          current = seg;
        } else current = `${current},${raw}`;
      }
      if (current !== undefined && current.trim() !== '') items.push(current.trim());
    }
  }
  return items;
}

/**
 * Resolves `--policies` (the option may be repeated): preset names (`all` for every one), and
 * `name=spec` items where the spec is any `--limiter` spec of the app, a policy module's path
 * included (`mine=./my-policy.mjs`, `mine=./my-policy.mjs:key=value`). Each spec is built once here
 * with the app's own {@link resolveLimiter}, so a bad one fails before anything is measured. No value
 * (or only empty ones) means every preset.
 * @throws BadInputError naming the unknown preset (listing the known ones), a spec or module that does
 * not build a policy, or a name given twice.
 */
export async function parsePolicies(
  values: string | readonly string[],
  option = '--policies',
): Promise<BenchPolicy[]> {
  const items = splitPolicyItems(typeof values === 'string' ? [values] : values);
  if (items.length === 0) return [...BENCH_POLICIES];
  const out: BenchPolicy[] = [];
  const add = (p: BenchPolicy): void => {
    if (out.some((q) => q.name === p.name)) throw new BadInputError(option, `policy '${p.name}' given twice`);
    out.push(p);
  };
  for (const item of items) {
    if (item === 'all') {
      for (const p of BENCH_POLICIES) add(p);
      continue;
    }
    const preset = BENCH_POLICIES.find((p) => p.name === item);
    if (preset) {
      add(preset);
      continue;
    }
    const eq = item.indexOf('=');
    if (eq <= 0) {
      throw new BadInputError(
        option,
        `unknown policy '${item}'; known: ${BENCH_POLICIES.map((p) => p.name).join(', ')}, all, or name=spec (a limiter spec or a policy module's path)`,
      );
    }
    const name = item.slice(0, eq).trim();
    const spec = item.slice(eq + 1).trim();
    if (!NAME.test(name)) {
      throw new BadInputError(option, `policy name '${name}' must be letters, digits and . _ + - only`);
    }
    if (spec === '') throw new BadInputError(option, `expected name=spec, got '${item}'`);
    try {
      await resolveLimiter(spec);
    } catch (error) {
      const message = (error as Error).message.replace(/^--limiter: /, '');
      throw new BadInputError(option, `${name}: ${message}`);
    }
    add({ name, spec, description: spec });
  }
  return out;
}
