import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// End-to-end: module policies composed with built-ins on the built CLI (build first).
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

const FIXTURE = `export default function createPolicy(options) {
  const pages = Number(options.pages ?? '8');
  if (!Number.isInteger(pages) || pages < 1) throw new RangeError('fixture: pages must be an integer >= 1, got ' + options.pages);
  return { name: 'fixture(' + pages + ')', start() {}, onFault() {}, onScan() {}, onSinkWrite() {},
    decide: () => ({ scanPages: pages, waitNs: 0 }) };
}
`;

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bgsnap-limiter-modules-'));
  writeFileSync(join(dir, 'fixture.mjs'), FIXTURE);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bgsnap(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const uffdAvailable = await import('@bgsnap/fault-source-uffd')
  .then((m) => m.probeUffd().available)
  .catch(() => false);

describe.skipIf(!existsSync(CLI))('bgsnap run --limiter with a module member (end to end)', () => {
  it.skipIf(!uffdAvailable).each([
    ['latency-target+./fixture.mjs:pages=4', /^all\(latency-target\(.*\),fixture\(4\)\)$/],
    ['./fixture.mjs:pages=4+latency-target', /^all\(fixture\(4\),latency-target\(.*\)\)$/],
  ])('%s runs both policies', async (spec, name) => {
    const r = await bgsnap(['run', '--size', '8MiB', '--limiter', spec, '--json', '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.limiter).toMatch(name);
    expect(report.verification.ok).toBe(true);
  });

  it('a factory that throws on its options is bad input: exit 2 with its message, nothing run', async () => {
    const r = await bgsnap([
      'run',
      '--size',
      '8MiB',
      '--limiter',
      'latency-target+./fixture.mjs:pages=0',
      '--json',
      '--no-progress',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/fixture: pages must be an integer >= 1, got 0/);
    expect(r.stdout).toBe('');
  });
});
