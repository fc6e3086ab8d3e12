// The README's policy module and its vitest-free conformance check, extracted from README.md and run
// with plain `node` as a user would (needs the package built: the snippet imports its dist).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');
const README = readFileSync(join(PKG, 'README.md'), 'utf8');

function block(firstLine: string): string {
  const start = README.indexOf(`\`\`\`js\n${firstLine}\n`);
  expect(start, `README block starting ${firstLine}`).toBeGreaterThanOrEqual(0);
  const body = README.slice(start + '```js\n'.length);
  return body.slice(0, body.indexOf('```'));
}

let dir = '';
beforeAll(() => {
  // Inside the package, so `@bgsnap/rate-limiter` resolves by self-reference like an installed dependency.
  dir = mkdtempSync(join(PKG, '.readme-module-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(policySource: string): { status: number | null; stdout: string; stderr: string } {
  writeFileSync(join(dir, 'my-policy.mjs'), policySource);
  writeFileSync(join(dir, 'check-policy.mjs'), block('// check-policy.mjs'));
  const r = spawnSync(process.execPath, ['check-policy.mjs'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!existsSync(join(PKG, 'dist', 'conformance.js')))(
  'README: a policy module checked without vitest',
  () => {
    it('the README policy conforms and the check exits 0', () => {
      const r = check(block('// my-policy.mjs'));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('my-policy(4): conforms');
    });

    it('the same check exits 1 naming the rule for a policy that never lets the scan run', () => {
      const broken = block('// my-policy.mjs').replace(
        'scanPages: pages, waitNs: 0',
        'scanPages: 0, waitNs: 0',
      );
      const r = check(broken);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/legal/);
    });

    it('the README factory rejects bad options with PolicyOptionsError', async () => {
      writeFileSync(join(dir, 'my-policy.mjs'), block('// my-policy.mjs'));
      const mod = (await import(join(dir, 'my-policy.mjs'))) as {
        default: (o: Record<string, unknown>) => unknown;
      };
      const { PolicyOptionsError } = await import('./errors.js');
      expect(() => mod.default({ pages: 'zero' })).toThrow(
        /my-policy: option 'pages' must be an integer >= 1/,
      );
      try {
        mod.default({ pages: 'zero' });
      } catch (e) {
        expect((e as Error).name).toBe(PolicyOptionsError.name);
      }
    });
  },
);
