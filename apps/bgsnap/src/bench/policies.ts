import { parseLimiterSpec } from '@bgsnap/rate-limiter';
import { BadInputError } from '../errors.js';

/** A limiter the benchmark runs: a short name for tables and plots, and the `--limiter` spec it stands for. */
export interface BenchPolicy {
  readonly name: string;
  readonly spec: string;
  readonly description: string;
}

/**
 * The policies `bgsnap bench` compares by default: no limit; the faithful port of the QEMU patch fed
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

/**
 * Resolves `--policies`: comma-separated preset names (`all` for every one), or `name=spec` pairs
 * separated by `;` for any limiter spec.
 * @throws BadInputError naming the unknown preset and listing the known ones, or a spec that does not parse.
 */
export function parsePolicies(text: string, option = '--policies'): BenchPolicy[] {
  const t = text.trim();
  if (t === '' || t === 'all') return [...BENCH_POLICIES];
  if (t.includes('=') && !BENCH_POLICIES.some((p) => p.name === t)) {
    return t.split(';').map((part) => {
      const eq = part.indexOf('=');
      const name = part.slice(0, eq).trim();
      const spec = part.slice(eq + 1).trim();
      if (eq <= 0 || spec === '') throw new BadInputError(option, `expected name=spec, got '${part}'`);
      try {
        parseLimiterSpec(spec);
      } catch (error) {
        throw new BadInputError(option, `${name}: ${(error as Error).message}`);
      }
      return { name, spec, description: spec };
    });
  }
  return t.split(',').map((n) => {
    const found = BENCH_POLICIES.find((p) => p.name === n.trim());
    if (!found) {
      throw new BadInputError(
        option,
        `unknown policy '${n.trim()}'; known: ${BENCH_POLICIES.map((p) => p.name).join(', ')}, all, or name=spec;...`,
      );
    }
    return found;
  });
}
