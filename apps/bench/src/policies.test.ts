import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadInputError } from 'bgsnap';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BENCH_POLICIES, parsePolicies, splitPolicyItems } from './policies.js';
import { writePolicyModule } from './policy-module.fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'bgsnap-bench-policies-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MODULE = writePolicyModule(dir);
const NOT_A_POLICY = join(dir, 'not-a-policy.mjs');
writeFileSync(NOT_A_POLICY, 'export default { name: 42 };\n');

describe('parsePolicies', () => {
  it('all, a subset, and custom name=spec pairs', async () => {
    expect(await parsePolicies('all')).toHaveLength(BENCH_POLICIES.length);
    expect(await parsePolicies([])).toHaveLength(BENCH_POLICIES.length);
    expect((await parsePolicies('qemu,latency')).map((p) => p.name)).toEqual(['qemu', 'latency']);
    expect(await parsePolicies('slow=token-bucket:rate=1MiB/s,burst=1MiB;fast=unlimited')).toEqual([
      {
        name: 'slow',
        spec: 'token-bucket:rate=1MiB/s,burst=1MiB',
        description: 'token-bucket:rate=1MiB/s,burst=1MiB',
      },
      { name: 'fast', spec: 'unlimited', description: 'unlimited' },
    ]);
  });

  it("a user's policy module by path, beside presets: comma list or repeated option", async () => {
    const listed = await parsePolicies(`qemu,mine=${MODULE}:pages=16,fast=unlimited`);
    expect(listed.map((p) => [p.name, p.spec])).toEqual([
      ['qemu', 'threshold'],
      ['mine', `${MODULE}:pages=16`],
      ['fast', 'unlimited'],
    ]);
    const repeated = await parsePolicies(['qemu', `mine=${MODULE}:pages=16`, 'fast=unlimited']);
    expect(repeated).toEqual(listed);
  });

  it('rejects unknown names (listing the known ones), specs and modules that build no policy, and repeats', async () => {
    await expect(parsePolicies('qemu,nope')).rejects.toThrow(BadInputError);
    await expect(parsePolicies('qemu,nope')).rejects.toThrow(/unknown policy 'nope'.*unlimited, qemu/);
    await expect(parsePolicies('x=no-such-policy')).rejects.toThrow(/^--policies: x: unknown policy/);
    await expect(parsePolicies(`x=${NOT_A_POLICY}`)).rejects.toThrow(
      /^--policies: x: .*is not a LimiterPolicy/,
    );
    await expect(parsePolicies(`x=${join(dir, 'missing.mjs')}`)).rejects.toThrow(/does not exist/);
    await expect(parsePolicies(['qemu', 'qemu'])).rejects.toThrow(/'qemu' given twice/);
    await expect(parsePolicies('bad name=unlimited')).rejects.toThrow(BadInputError);
  });

  it('every preset spec builds a policy', async () => {
    for (const p of BENCH_POLICIES)
      await expect(parsePolicies(`${p.name}=${p.spec}`)).resolves.toHaveLength(1);
  });
});

describe('splitPolicyItems', () => {
  // Specs whose options hold commas, `=` and slashes: a comma inside them never starts an item.
  const specs = [
    'token-bucket:rate=1MiB/s,burst=1MiB',
    'token-bucket:burst=1MiB,rate=1MiB/s',
    'threshold:latency=2ms,pages=3,poll=250us',
    'latency-target:{"p99":"500us","control":"pi"}',
    'latency-target:p99=1ms+token-bucket:rate=1GiB/s,burst=8MiB',
    './my-policy.mjs:pages=16,mode=slow',
    '/abs/policy.js',
    'file:///abs/policy.mjs:pages=4,mode=slow',
    'unlimited',
  ];
  const item = fc.oneof(
    fc.constantFrom(...BENCH_POLICIES.map((p) => p.name)),
    fc
      .tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), fc.constantFrom(...specs))
      .map(([n, s]) => `${n}=${s}`),
  );

  it('a comma list, a ; list and repeated values give the same items', () => {
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 6 }), (items) => {
        expect(splitPolicyItems([items.join(',')])).toEqual(items);
        expect(splitPolicyItems([items.join(';')])).toEqual(items);
        expect(splitPolicyItems(items)).toEqual(items);
      }),
    );
  });
});
