/**
 * The install script (scripts/build-native.mjs --install) on a machine missing a build tool or with a
 * source that does not compile: it must name the real cause at install, keep the install green, and
 * leave that cause for the loader, whose error then quotes it with a remedy that works in a consumer's
 * project. Runs on a copy of the package so the real build/ is untouched.
 */
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { which } from '../scripts/build-diagnosis.mjs';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const temp = mkdtempSync(join(tmpdir(), 'bgsnap-install-script-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** A copy of what the published package ships, plus a link to its dependencies for the loader. */
function packageCopy(name: string): string {
  const dir = join(temp, name);
  for (const part of ['package.json', 'binding.gyp', 'native', 'scripts', 'dist'])
    cpSync(join(pkg, part), join(dir, part), { recursive: true });
  symlinkSync(join(pkg, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** A folder of links to just these tools, to use as the whole PATH. */
function binWith(name: string, tools: string[]): string {
  const bin = join(temp, `bin-${name}`);
  mkdirSync(bin);
  for (const tool of tools) {
    const real = which(tool, process.env.PATH);
    if (real) symlinkSync(real, join(bin, tool));
  }
  return bin;
}

function install(dir: string, env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [join(dir, 'scripts', 'build-native.mjs'), '--install'], {
    cwd: dir,
    encoding: 'utf8',
    env: { HOME: process.env.HOME, ...env },
  });
}

/** The message of the UffdUnavailableError the copy's loader throws. */
function loadError(dir: string): string {
  const entry = join(dir, 'dist', 'index.js');
  const script = `import(${JSON.stringify(entry)}).then((m) => { try { m.TrackedMemory.allocate(4096); console.log('loaded'); } catch (e) { console.log(e.name, e.message, e.remedy); } })`;
  return spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' }).stdout;
}

const haveTools = ['python3', 'make', 'g++'].every((t) => which(t, process.env.PATH));

describe.skipIf(process.platform !== 'linux' || process.arch !== 'x64')('install script', () => {
  it('no python3 on PATH → names python3 and the consumer remedy, exits 0, and the loader quotes it', () => {
    const dir = packageCopy('no-python');
    const r = install(dir, { PATH: binWith('no-python', ['make', 'g++', 'c++', 'sh']) });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/not built:\n.*missing build tools:\n.*python3: not found on PATH/);
    expect(r.stderr).toContain('npm rebuild @bgsnap/fault-source-uffd');
    expect(r.stderr).not.toMatch(/C\+\+ compiler|make:/);
    expect(existsSync(join(dir, 'build', 'bgsnap-build-error.txt'))).toBe(true);
    const msg = loadError(dir);
    expect(msg).toMatch(
      /^UffdUnavailableError .*not built; the last build attempt said:\nmissing build tools:\npython3: not found/,
    );
    expect(msg).toContain('npm rebuild @bgsnap/fault-source-uffd');
  });

  it('no C++ compiler → names it; BGSNAP_REQUIRE_NATIVE=1 turns that into a failed install', () => {
    const dir = packageCopy('no-cxx');
    const PATH = binWith('no-cxx', ['python3', 'make', 'sh']);
    const r = install(dir, { PATH });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('C++ compiler: none of g++, c++, clang++ is on PATH');
    expect(r.stderr).not.toContain('python3:');
    expect(install(dir, { PATH, BGSNAP_REQUIRE_NATIVE: '1' }).status).toBe(1);
  });

  it.skipIf(!haveTools)(
    "a source that does not compile → the compiler's error line, not node-gyp's boilerplate",
    () => {
      const dir = packageCopy('broken-source');
      for (const f of readdirSync(join(dir, 'native')).filter((f) => f.endsWith('.cc')))
        appendFileSync(join(dir, 'native', f), '\n#error bgsnap-test-broken-source\n');
      const r = install(dir, { PATH: process.env.PATH });
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(
        /node-gyp failed \(exit \d+\):\n.*\.cc:\d+:\d+: error: #error bgsnap-test-broken-source/,
      );
      expect(r.stderr).not.toMatch(/gyp ERR!/);
      const file = readFileSync(join(dir, 'build', 'bgsnap-build-error.txt'), 'utf8');
      expect(file).toContain('gyp ERR!'); // the raw output is kept after the cause, for the curious
      expect(loadError(dir)).toContain('error: #error bgsnap-test-broken-source');
    },
  );
});
