#!/usr/bin/env node
// Compiles the userfaultfd addon from source with node-gyp, against the headers of the Node.js that
// runs this script (no download: --nodedir points at <prefix>/include/node when it is there).
//
// node-gyp is not a dependency of the published package: npm and pnpm each carry their own and name it
// in npm_config_node_gyp for install scripts; failing that this uses the copy inside the npm next to
// the running node, then the workspace's devDependency, then `npx node-gyp`.
//
// `--install` (the package's install script): never fails the install unless BGSNAP_REQUIRE_NATIVE=1.
// When the platform cannot have the addon, a build tool is missing or the build fails, it prints the
// cause (the missing tool, or the compiler's own error lines) and the remedy, leaves them in
// build/bgsnap-build-error.txt for the loader to quote, and exits 0; using the package then throws
// UffdUnavailableError with the same cause. Without `--install` (the build script) it behaves the
// same unless BGSNAP_REQUIRE_NATIVE=1, which turns a failed build into a failed script.
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildErrorLines, missingBuildTools, OUTPUT_MARKER, REMEDY } from './build-diagnosis.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const installMode = process.argv.includes('--install');
const required = process.env.BGSNAP_REQUIRE_NATIVE === '1';
const errorFile = join(root, 'build', 'bgsnap-build-error.txt');
const addon = join(root, 'build', 'Release', 'bgsnap_uffd.node');
const PREFIX = '[@bgsnap/fault-source-uffd]';

function log(msg) {
  console.log(`${PREFIX} ${msg}`);
}

// npm runs a dependency's install script with its output captured and shows it only when the script
// fails; this one exits 0 on purpose, so its warning also goes to the terminal when there is one.
function warn(text) {
  console.error(text);
  if (!installMode || process.stderr.isTTY) return;
  try {
    const tty = openSync('/dev/tty', 'w');
    try {
      writeSync(tty, `${text}\n`);
    } finally {
      closeSync(tty);
    }
  } catch {
    // no controlling terminal (CI): the warning stays in the install log and in the error file
  }
}

/**
 * @param {string} cause what went wrong, one or more lines, first line the summary
 * @param {string} [output] the raw build output, kept in the error file after the cause
 */
function giveUp(cause, output = '') {
  mkdirSync(join(root, 'build'), { recursive: true });
  const tail = output.trim().split('\n').slice(-40).join('\n');
  writeFileSync(
    errorFile,
    `${new Date().toISOString()}\n${cause}\nremedy: ${REMEDY}\n${tail ? `${OUTPUT_MARKER}\n${tail}\n` : ''}`,
  );
  const indented = cause
    .split('\n')
    .map((l) => `${PREFIX}   ${l}`)
    .join('\n');
  warn(
    `${PREFIX} WARNING: the native addon was not built:\n${indented}\n` +
      `${PREFIX} the package installs anyway; using it throws UffdUnavailableError until the addon is built.\n` +
      `${PREFIX} remedy: ${REMEDY}`,
  );
  process.exit(required ? 1 : 0);
}

const supported =
  (process.platform === 'linux' && process.arch === 'x64') || process.env.BGSNAP_FORCE_NATIVE_BUILD === '1';
if (!supported)
  giveUp(`userfaultfd addon is built on Linux x64 only; this is ${process.platform}/${process.arch}`);

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

/** The node-gyp to run, as [command, ...args]. */
function findNodeGyp() {
  const npmBundled = join(
    dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
  const candidates = [process.env.npm_config_node_gyp, npmBundled];
  try {
    candidates.push(createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not in the bgsnap workspace: no devDependency copy
  }
  const script = candidates.find((c) => c && existsSync(c));
  if (script) return [process.execPath, script];
  const npx = join(dirname(process.execPath), 'npx');
  return [existsSync(npx) ? npx : 'npx', '--yes', 'node-gyp@11'];
}

function findNodeDir() {
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

const nodedir = findNodeDir();
const missing = missingBuildTools(process.env);
if (missing.length > 0) giveUp(`missing build tools:\n${missing.join('\n')}`);

const [cmd, ...gypArgs] = findNodeGyp();
const args = [...gypArgs, 'rebuild', '--release'];
if (nodedir) args.push(`--nodedir=${nodedir}`);
else
  log(
    `Node headers not found in ${join(dirname(process.execPath), '..', 'include', 'node')}; node-gyp will try to download them`,
  );
log(`building: ${[cmd, ...args].map((a) => a.replace(root, '.')).join(' ')}`);
const res = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env: process.env });
const output = `${res.stdout ?? ''}${res.stderr ?? ''}${res.error ? `\n${res.error.message}` : ''}`;
if (res.status !== 0 || !existsSync(addon)) {
  const errors = buildErrorLines(output);
  const summary = `node-gyp failed (exit ${res.status ?? res.error?.message})`;
  giveUp(errors.length > 0 ? `${summary}:\n${errors.join('\n')}` : summary, output);
}
rmSync(errorFile, { force: true });
log(`built ${addon.replace(root, '.')}`);
