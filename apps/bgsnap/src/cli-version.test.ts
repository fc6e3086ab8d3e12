import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The built CLI (build first: `pnpm --filter bgsnap build`).
const app = join(dirname(fileURLToPath(import.meta.url)), '..');
const temp = mkdtempSync(join(tmpdir(), 'bgsnap-version-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

function version(appDir: string, flag: string) {
  return spawnSync(process.execPath, [join(appDir, 'dist', 'cli.js'), flag], { encoding: 'utf8' });
}

describe('bgsnap --version', () => {
  it("prints the app's package.json version and exits 0", () => {
    const { version: expected } = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
    for (const flag of ['--version', '-V']) {
      const r = version(app, flag);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`${expected}\n`);
    }
  });

  it('reads the version at run time from the package that ships the CLI', () => {
    const copy = join(temp, 'app');
    cpSync(join(app, 'dist'), join(copy, 'dist'), { recursive: true });
    symlinkSync(join(app, 'node_modules'), join(copy, 'node_modules'));
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
    writeFileSync(join(copy, 'package.json'), JSON.stringify({ ...pkg, version: '9.8.7-copy' }));
    expect(version(copy, '--version').stdout).toBe('9.8.7-copy\n');
  });
});
