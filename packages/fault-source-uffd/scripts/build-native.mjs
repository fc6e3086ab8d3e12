#!/usr/bin/env node
// Compiles the userfaultfd addon from source with node-gyp, against the headers of the Node.js that
// runs this script (no download: --nodedir points at <prefix>/include/node when it is there).
//
// `--install` (the package's install script): never fails the install. When the platform cannot have
// the addon, or the build fails, it says why, leaves build/bgsnap-build-error.txt for the loader to
// quote, and exits 0; using the package then throws UffdUnavailableError.
// Without `--install` (the build script) it behaves the same unless BGSNAP_REQUIRE_NATIVE=1, which
// turns a failed build into a failed script.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const installMode = process.argv.includes('--install');
const required = process.env.BGSNAP_REQUIRE_NATIVE === '1';
const errorFile = join(root, 'build', 'bgsnap-build-error.txt');
const addon = join(root, 'build', 'Release', 'bgsnap_uffd.node');

function log(msg) {
  console.log(`[@bgsnap/fault-source-uffd] ${msg}`);
}

function giveUp(reason) {
  mkdirSync(join(root, 'build'), { recursive: true });
  writeFileSync(errorFile, `${new Date().toISOString()}\n${reason}\n`);
  log(`native addon not built: ${reason.split('\n')[0]}`);
  log('the package installs anyway; using it throws UffdUnavailableError until the addon is built.');
  process.exit(required && !installMode ? 1 : 0);
}

const supported =
  (process.platform === 'linux' && process.arch === 'x64') || process.env.BGSNAP_FORCE_NATIVE_BUILD === '1';
if (!supported)
  giveUp(`userfaultfd addon is built on Linux x64 only; this is ${process.platform}/${process.arch}`);

function findNodeGyp() {
  try {
    return createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    // fall through to the copy bundled with npm
  }
  const candidates = [
    process.env.npm_config_node_gyp,
    join(
      dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  return candidates.find((c) => c && existsSync(c));
}

function findNodeDir() {
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function newestSource() {
  let newest = statSync(join(root, 'binding.gyp')).mtimeMs;
  for (const f of readdirSync(join(root, 'native')))
    newest = Math.max(newest, statSync(join(root, 'native', f)).mtimeMs);
  return newest;
}

if (existsSync(addon) && statSync(addon).mtimeMs >= newestSource() && !process.argv.includes('--force')) {
  log('native addon is up to date');
  process.exit(0);
}

const gyp = findNodeGyp();
if (!gyp) giveUp('node-gyp was not found (neither the node-gyp dependency nor the copy bundled with npm)');
const nodedir = findNodeDir();
const args = [gyp, 'rebuild', '--release'];
if (nodedir) args.push(`--nodedir=${nodedir}`);
else log('Node headers not found next to the node binary; node-gyp will try to download them');
log(`building: node ${args.map((a) => a.replace(root, '.')).join(' ')}`);
const res = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: process.env });
const output = `${res.stdout ?? ''}${res.stderr ?? ''}`;
if (res.status !== 0 || !existsSync(addon)) {
  const tail = output.trim().split('\n').slice(-25).join('\n');
  giveUp(`node-gyp failed (exit ${res.status}); needs python3, make, g++ and Node headers\n${tail}`);
}
rmSync(errorFile, { force: true });
log(`built ${addon.replace(root, '.')}`);
