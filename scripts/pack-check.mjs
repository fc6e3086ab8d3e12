#!/usr/bin/env node
// Packs every workspace package as it would be published (`pnpm pack`, so workspace:^ becomes a real
// range) and installs the tarballs the way a consumer does: plain npm, a fresh folder, an empty HOME
// and cache. Then checks that:
//   - each tarball ships a LICENSE and its dist, and no tests, sources or bench folders;
//   - the CLI installs within the size budget, its addon builds with the node-gyp npm brings, and
//     `bgsnap --version` and `bgsnap run --size 64MiB` work;
//   - every library entry loads with require() and with import (an entry that needs an optional peer
//     fails with the install command until the peer is added, then loads);
//   - a strict TypeScript consumer type-checks under module nodenext (ESM and CommonJS files; the
//     CommonJS one also runs) and under moduleResolution bundler.
// Prereq: a built workspace (`pnpm build`). Usage: node scripts/pack-check.mjs [--keep]
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const PNPM = ['--yes', 'pnpm@10.34.8'];
/** The packed CLI's install must stay within this (a quarter of what it was before the diet). */
const BUDGET = { packages: 45, bytes: 11 * 1024 * 1024 };
// Dependencies of the CLI's benchmark harness that are moving to their own package (apps/bench). While
// the CLI still lists them their subtrees are measured and shown but kept out of the budget.
const MOVING_OUT = ['vega', '@resvg/resvg-js'];
const keep = process.argv.includes('--keep');

const root = mkdtempSync(join(tmpdir(), 'bgsnap-pack-check-'));
const home = join(root, 'home');
mkdirSync(home);
const failures = [];

// A consumer's environment: none of the npm_* / pnpm settings of the workspace run that started us.
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(npm_|pnpm_|PNPM_|INIT_CWD$|NODE_PATH$)/i.test(k)),
);
Object.assign(env, {
  HOME: home,
  npm_config_cache: join(root, 'npm-cache'),
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
  npm_config_loglevel: 'error',
});

const started = Date.now();
function step(msg) {
  console.log(`pack-check: [${Math.round((Date.now() - started) / 1000)}s] ${msg}`);
}

function fail(msg) {
  failures.push(msg);
  console.log(`pack-check: FAIL ${msg}`);
}

/** Runs a command; returns its result, recording a failure (with its output) when it exits non-zero. */
function sh(cmd, args, cwd, { expectFailure = false, quiet = false } = {}) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ok = r.status === 0;
  if (ok === expectFailure && !quiet) {
    fail(`${cmd} ${args.join(' ')} (in ${cwd.replace(root, '$TMP')}) exited ${r.status ?? r.error?.message}`);
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
    if (out) console.log(out.replace(/^/gm, '    '));
  }
  return r;
}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

// ---- pack ----------------------------------------------------------------------------------------
const packageDirs = ['apps', 'packages']
  .flatMap((group) => readdirSync(join(repo, group)).map((d) => join(repo, group, d)))
  .filter((d) => existsSync(join(d, 'package.json')))
  .filter((d) => !readJson(join(d, 'package.json')).private); // never published (apps/bench)
const tarballDir = join(root, 'tarballs');
mkdirSync(tarballDir);
/** name → { manifest (as packed), tarball } */
const pkgs = new Map();
const built = packageDirs.filter((dir) => {
  const manifest = readJson(join(dir, 'package.json'));
  if (existsSync(join(dir, 'dist'))) return true;
  fail(`${manifest.name}: no dist/ (run \`npx --yes pnpm@10.34.8 build\` first)`);
  return false;
});
if (built.length === packageDirs.length) {
  // One recursive pack: a pnpm start per package costs several seconds each on a loaded machine.
  sh('npx', [...PNPM, '-r', 'pack', '--pack-destination', tarballDir], repo);
  for (const file of readdirSync(tarballDir).filter((f) => f.endsWith('.tgz'))) {
    const tarball = join(tarballDir, file);
    const manifest = JSON.parse(sh('tar', ['-xzOf', tarball, 'package/package.json'], root).stdout);
    if (!manifest.private) pkgs.set(manifest.name, { manifest, tarball });
  }
  for (const dir of packageDirs) {
    const { name, private: isPrivate } = readJson(join(dir, 'package.json'));
    if (!isPrivate && !pkgs.has(name)) fail(`${name}: pnpm pack made no tarball`);
  }
}
step(`packed ${[...pkgs.keys()].join(', ')}`);

// ---- what each tarball ships ---------------------------------------------------------------------
for (const [name, { tarball, manifest: packed }] of pkgs) {
  const files = sh('tar', ['-tzf', tarball], root).stdout.split('\n').filter(Boolean);
  const has = (f) => files.includes(`package/${f}`);
  if (!has('LICENSE')) fail(`${name}: the tarball has no LICENSE`);
  if (!files.some((f) => f.startsWith('package/dist/'))) fail(`${name}: the tarball has no dist/`);
  const unwanted = files.filter((f) => /\.test\.|\/src\/|^package\/bench\/|\/test-support\//.test(f));
  if (unwanted.length > 0) fail(`${name}: the tarball ships ${unwanted.slice(0, 5).join(', ')}`);
  if (JSON.stringify(packed).includes('workspace:'))
    fail(`${name}: the packed package.json still says workspace:`);
  for (const field of ['repository', 'homepage', 'bugs', 'license', 'keywords'])
    if (!packed[field]) fail(`${name}: the packed package.json has no ${field}`);
}

/** The tarballs of `name` and of every workspace package it depends on, transitively. */
function closure(name, seen = new Set()) {
  const p = pkgs.get(name);
  if (!p || seen.has(name)) return seen;
  seen.add(name);
  for (const dep of Object.keys(p.manifest.dependencies ?? {})) closure(dep, seen);
  return seen;
}

/** A fresh consumer folder with these workspace packages installed from their tarballs. */
function consumer(folder, names, { allowScripts = [], ignoreScripts = false } = {}) {
  const dir = join(root, folder);
  mkdirSync(dir);
  const tarballs = names.map((n) => pkgs.get(n).tarball);
  // npm 11 runs a dependency's install script only when the project allows it (by name, or by the
  // file: spec for a tarball); older npm ignores the field.
  const allow = {};
  for (const n of allowScripts) {
    allow[n] = true;
    allow[`file:${pkgs.get(n).tarball}`] = true;
  }
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: `consumer-${folder}`, version: '1.0.0', private: true, allowScripts: allow }, null, 2)}\n`,
  );
  sh(
    'npm',
    ['install', '--no-audit', '--no-fund', ...(ignoreScripts ? ['--ignore-scripts'] : []), ...tarballs],
    dir,
  );
  return dir;
}

/** Installed packages (every folder npm placed) and their bytes, from `npm ls`. */
function measure(dir) {
  const r = sh('npm', ['ls', '--all', '--json', '--long'], dir, { quiet: true });
  const tree = JSON.parse(r.stdout || '{}');
  const seen = new Map(); // path → name
  const excluded = new Set();
  const walk = (node, underMovingOut) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (!child.path || seen.has(child.path)) continue;
      seen.set(child.path, name);
      const moving = underMovingOut || MOVING_OUT.includes(name);
      if (moving) excluded.add(child.path);
      walk(child, moving);
    }
  };
  walk(tree, false);
  // A package that something else also needs is not excluded.
  const keepPaths = new Set();
  const walkKept = (node) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (!child.path || MOVING_OUT.includes(name) || keepPaths.has(child.path)) continue;
      keepPaths.add(child.path);
      walkKept(child);
    }
  };
  walkKept(tree);
  const bytes = (p) => {
    const s = statSync(p, { throwIfNoEntry: false });
    if (!s) return 0;
    if (!s.isDirectory()) return s.size;
    let n = 0;
    for (const e of readdirSync(p)) if (!(e === 'node_modules')) n += bytes(join(p, e));
    return n;
  };
  let all = { packages: 0, bytes: 0 };
  let budgeted = { packages: 0, bytes: 0 };
  for (const path of seen.keys()) {
    const b = bytes(path);
    all = { packages: all.packages + 1, bytes: all.bytes + b };
    if (keepPaths.has(path) || !excluded.has(path))
      budgeted = { packages: budgeted.packages + 1, bytes: budgeted.bytes + b };
  }
  return { all, budgeted, movingOutPresent: excluded.size > 0 };
}

const mib = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;

// ---- the CLI -------------------------------------------------------------------------------------
const cliName = 'bgsnap';
if (pkgs.has(cliName)) {
  step('installing the packed CLI into a fresh folder (builds the addon with the node-gyp npm brings)');
  const cli = consumer('cli', [...closure(cliName)], { allowScripts: ['@bgsnap/fault-source-uffd'] });
  const size = measure(cli);
  step(`CLI install: ${size.all.packages} packages, ${mib(size.all.bytes)}`);
  if (size.movingOutPresent)
    step(
      `CLI install without ${MOVING_OUT.join(', ')} (moving to apps/bench): ${size.budgeted.packages} packages, ${mib(size.budgeted.bytes)}`,
    );
  if (size.budgeted.packages > BUDGET.packages || size.budgeted.bytes > BUDGET.bytes)
    fail(
      `the CLI install is over budget: ${size.budgeted.packages} packages (max ${BUDGET.packages}), ${mib(size.budgeted.bytes)} (max ${mib(BUDGET.bytes)})`,
    );
  const addon = join(
    cli,
    'node_modules',
    '@bgsnap',
    'fault-source-uffd',
    'build',
    'Release',
    'bgsnap_uffd.node',
  );
  if (process.platform === 'linux' && process.arch === 'x64' && !existsSync(addon)) {
    const why = join(cli, 'node_modules', '@bgsnap', 'fault-source-uffd', 'build', 'bgsnap-build-error.txt');
    fail(`the addon was not built at install${existsSync(why) ? `:\n${readFileSync(why, 'utf8')}` : ''}`);
  }
  const v = sh('npx', ['--no', '--', 'bgsnap', '--version'], cli);
  if (v.status === 0 && v.stdout.trim() !== pkgs.get(cliName).manifest.version)
    fail(
      `bgsnap --version printed ${JSON.stringify(v.stdout.trim())}, not ${pkgs.get(cliName).manifest.version}`,
    );
  const run = sh('npx', ['--no', '--', 'bgsnap', 'run', '--size', '64MiB'], cli);
  if (run.status === 0)
    step(`bgsnap run --size 64MiB: ok (${run.stderr.includes('falling back') ? 'simulator' : 'native'})`);
}

// ---- each library, alone -------------------------------------------------------------------------
/** Entries a consumer may load: "." and the subpaths, except ./package.json. */
const entriesOf = (manifest) =>
  Object.keys(manifest.exports ?? { '.': null })
    .filter((k) => k !== './package.json')
    .map((k) => (k === '.' ? manifest.name : `${manifest.name}/${k.slice(2)}`));
/** Optional peers an entry needs, by entry; an entry listed here must name its peer when it is missing. */
const PEER_ENTRIES = {
  '@bgsnap/rate-limiter/conformance': { peer: 'fast-check', range: '^4.0.0' },
  '@bgsnap/rate-limiter/testing': { peer: 'vitest' },
  '@bgsnap/fault-source/testing': { peer: 'vitest' },
};
const libraries = [...pkgs.keys()].filter((n) => n !== cliName);
for (const name of libraries) {
  // The uffd package is installed with its install script skipped (--ignore-scripts, or an npm that
  // blocks dependency scripts): loading must work, and using it must say how to build the addon.
  const dir = consumer(`lib-${basename(name)}`, [...closure(name)], {
    ignoreScripts: name === '@bgsnap/fault-source-uffd',
  });
  for (const entry of entriesOf(pkgs.get(name).manifest)) {
    const { peer, range } = PEER_ENTRIES[entry] ?? {};
    if (peer === 'vitest') continue; // the vitest suites load only inside a vitest run
    const req = sh('node', ['-e', `require(${JSON.stringify(entry)})`], dir, { expectFailure: !!peer });
    const imp = sh('node', ['--input-type=module', '-e', `await import(${JSON.stringify(entry)})`], dir, {
      expectFailure: !!peer,
    });
    if (peer) {
      for (const r of [req, imp])
        if (!r.stderr.includes(`npm install --save-dev ${peer}`))
          fail(
            `${entry} without ${peer}: the error does not say how to install it:\n${r.stderr.slice(0, 600)}`,
          );
      sh('npm', ['install', '--no-audit', '--no-fund', '--save-dev', `${peer}@${range}`], dir);
      sh('node', ['-e', `require(${JSON.stringify(entry)})`], dir);
      sh('node', ['--input-type=module', '-e', `await import(${JSON.stringify(entry)})`], dir);
    }
  }
  if (name === '@bgsnap/stream-writer') {
    // @node-rs/crc32 is optional: where it cannot install, the zlib fallback must take over.
    const impl = () =>
      sh(
        'node',
        ['-e', "console.log(require('@bgsnap/stream-writer').crc32Implementation)"],
        dir,
      ).stdout.trim();
    const withIt = impl();
    rmSync(join(dir, 'node_modules', '@node-rs'), { recursive: true, force: true });
    const without = impl();
    if (without !== 'zlib')
      fail(`@bgsnap/stream-writer without @node-rs/crc32 uses ${JSON.stringify(without)}, not zlib`);
    else step(`@bgsnap/stream-writer checksums: ${withIt} with @node-rs/crc32, zlib without it`);
  }
  if (name === '@bgsnap/fault-source-uffd' && process.platform === 'linux') {
    const r = sh(
      'node',
      [
        '-e',
        "try { require('@bgsnap/fault-source-uffd').TrackedMemory.allocate(4096) } catch (e) { console.log(e.name + ': ' + e.message) }",
      ],
      dir,
    );
    if (
      !/UffdUnavailableError: .*not built/s.test(r.stdout) ||
      !r.stdout.includes('npm rebuild @bgsnap/fault-source-uffd')
    )
      fail(`@bgsnap/fault-source-uffd without its addon: unexpected message:\n${r.stdout}${r.stderr}`);
  }
}
step(`require() and import of ${libraries.length} libraries checked`);

// ---- a strict TypeScript consumer ----------------------------------------------------------------
if (pkgs.has(cliName)) {
  const cli = join(root, 'cli');
  sh(
    'npm',
    ['install', '--no-audit', '--no-fund', '--save-dev', 'typescript@~5.9.0', '@types/node@^20'],
    cli,
  );
  const typedEntries = [...pkgs.values()]
    .flatMap(({ manifest }) => entriesOf(manifest))
    .filter((e) => !PEER_ENTRIES[e]);
  const names = typedEntries.map((e, i) => [`m${i}`, e]);
  const esm = names.map(([id, e]) => `import * as ${id} from '${e}';`).join('\n');
  const keys = `[${names.map(([id]) => `Object.keys(${id}).length`).join(', ')}]`;
  writeFileSync(join(cli, 'consumer-esm.mts'), `${esm}\nexport const sizes: number[] = ${keys};\n`);
  writeFileSync(join(cli, 'consumer-bundler.ts'), `${esm}\nexport const sizes: number[] = ${keys};\n`);
  writeFileSync(
    join(cli, 'consumer-cjs.cts'),
    `${names.map(([id, e]) => `import ${id} = require('${e}');`).join('\n')}\nconst sizes: number[] = ${keys};\nif (sizes.some((n) => n === 0)) throw new Error('an entry exported nothing');\nconsole.log('cjs consumer ok');\n`,
  );
  const strict = { strict: true, skipLibCheck: false, target: 'es2022', types: ['node'] };
  writeFileSync(
    join(cli, 'tsconfig.nodenext.json'),
    JSON.stringify({
      compilerOptions: { ...strict, module: 'nodenext', moduleResolution: 'nodenext', outDir: 'out' },
      files: ['consumer-esm.mts', 'consumer-cjs.cts'],
    }),
  );
  writeFileSync(
    join(cli, 'tsconfig.bundler.json'),
    JSON.stringify({
      compilerOptions: { ...strict, module: 'preserve', moduleResolution: 'bundler', noEmit: true },
      files: ['consumer-bundler.ts'],
    }),
  );
  const tsc = join(cli, 'node_modules', 'typescript', 'bin', 'tsc');
  if (sh('node', [tsc, '-p', 'tsconfig.nodenext.json'], cli).status === 0) {
    step('TypeScript consumer (module nodenext, ESM and CommonJS): type-checks');
    if (sh('node', [join('out', 'consumer-cjs.cjs')], cli).status === 0) step('its CommonJS build runs');
  }
  if (sh('node', [tsc, '-p', 'tsconfig.bundler.json'], cli).status === 0)
    step('TypeScript consumer (moduleResolution bundler): type-checks');
}

if (keep) step(`kept ${root}`);
else rmSync(root, { recursive: true, force: true });
if (failures.length > 0) {
  console.log(`pack-check: ${failures.length} problem(s)`);
  process.exit(1);
}
step('all packages publishable and installable');
