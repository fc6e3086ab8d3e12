// Every README example, as written: JS/TS blocks type-checked under strict TypeScript (nodenext)
// against the built packages and run with node; `bgsnap` / `bgsnap-bench` lines checked against the
// CLIs' own `--help`; published READMEs free of workspace-only instructions. Needs a build first.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishedReadmePaths, type ReadmeBlock, ROOT, readmeBlocks, readmePaths } from './readme-blocks.js';

const BGSNAP_CLI = join(ROOT, 'apps/bgsnap/dist/cli.js');
const BENCH_CLI = join(ROOT, 'apps/bench/dist/cli.js');
const blocks = readmePaths().flatMap(readmeBlocks);
const code = blocks.filter((b) => (b.lang === 'js' || b.lang === 'ts') && b.mode !== 'fragment');

/** File name of a block: the `// name.mjs` its first line gives (other blocks import it), or one made up. */
function fileName(b: ReadmeBlock): string {
  const named = /^\/\/ ([\w.-]+\.(?:mjs|js|ts))\b/.exec(b.code)?.[1];
  const base = named ?? `line-${b.line}.${b.lang === 'ts' ? 'ts' : 'mjs'}`;
  return base.endsWith('.js') ? base.replace(/\.js$/, '.mjs') : base;
}

// Inside apps/bgsnap, which depends on every published package: imports resolve as they would for a
// consumer who installed them (through each package's `exports`, `bgsnap` by self-reference).
let work = '';
const fileOf = new Map<ReadmeBlock, string>();
let diagnostics: { file: string | undefined; text: string }[] = [];

beforeAll(() => {
  for (const cli of [BGSNAP_CLI, BENCH_CLI]) {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: build the workspace before this test`);
  }
  work = mkdtempSync(join(ROOT, 'apps/bgsnap/.readme-examples-'));
  for (const b of code) {
    const file = join(
      work,
      b.readme.replace(/\/?README\.md$/, '').replace(/\//g, '-') || 'root',
      fileName(b),
    );
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, b.code);
    fileOf.set(b, file);
  }
  const options: ts.CompilerOptions = {
    strict: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    types: ['node'],
    allowJs: true,
    checkJs: true,
    noEmit: true,
    skipLibCheck: true,
  };
  // Plain JavaScript has no annotations, so JS blocks are checked strictly except for implicit `any`.
  const files = [...fileOf.values()];
  const programs = [
    ts.createProgram(
      files.filter((f) => f.endsWith('.ts')),
      options,
    ),
    ts.createProgram(
      files.filter((f) => !f.endsWith('.ts')),
      { ...options, noImplicitAny: false },
    ),
  ];
  const host = {
    getCanonicalFileName: (f: string) => f,
    getCurrentDirectory: () => work,
    getNewLine: () => '\n',
  };
  diagnostics = programs
    .flatMap((program) => ts.getPreEmitDiagnostics(program))
    .map((d) => ({ file: d.file?.fileName, text: ts.formatDiagnostic(d, host) }));
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each(code.map((b) => [`${b.readme}:${b.line} (${b.lang}, ${b.mode})`, b] as const))('%s', (_, b) => {
  it('type-checks under strict TypeScript (nodenext)', () => {
    const file = fileOf.get(b)!;
    expect(diagnostics.filter((d) => d.file === file || d.file === undefined).map((d) => d.text)).toEqual([]);
  });

  it.skipIf(b.mode === 'no-run')('runs with node and exits 0', () => {
    const file = fileOf.get(b)!;
    let run = file;
    if (file.endsWith('.ts')) {
      run = file.replace(/\.ts$/, '.run.mjs');
      const js = ts.transpileModule(b.code, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      writeFileSync(run, js);
    }
    const r = spawnSync(process.execPath, [run], { cwd: dirname(file), encoding: 'utf8', timeout: 90_000 });
    expect(r.status, `${r.stderr}\n${r.stdout}`).toBe(0);
  });
});

it('every js/ts block not run says why (no-run or fragment with a reason)', () => {
  for (const b of blocks.filter((x) => x.mode !== 'run')) expect(b.why, `${b.readme}:${b.line}`).not.toBe('');
});

/** The long options a `--help` text lists (`--no-matrix` included). */
function helpOptions(cli: string, args: string[]): Set<string> {
  const r = spawnSync(process.execPath, [cli, ...args, '--help'], { encoding: 'utf8', timeout: 30_000 });
  expect(r.status, `${cli} ${args.join(' ')} --help: ${r.stderr}`).toBe(0);
  return new Set(r.stdout.match(/--[a-z][\w-]*/g) ?? []);
}

describe('sh blocks: every bgsnap and bgsnap-bench command uses options its --help lists', () => {
  const commands = blocks
    .filter((b) => b.lang === 'sh')
    .flatMap((b) =>
      b.code
        .split('\n')
        .map((l) => l.replace(/\s+#.*$/, '').trim())
        .flatMap((l) => l.split(/\s*&&\s*/))
        .map((c) => c.replace(/^npx (--yes )?(?=bgsnap)/, '').split(/\s+/))
        .filter((t) => t[0] === 'bgsnap' || t[0] === 'bgsnap-bench')
        .map((t) => [`${b.readme}:${b.line}: ${t.join(' ')}`, t] as const),
    );

  it('finds the examples', () => expect(commands.length).toBeGreaterThan(10));

  it.each(commands)('%s', (_, tokens) => {
    const [cli, args] = tokens[0] === 'bgsnap' ? [BGSNAP_CLI, [tokens[1]!]] : [BENCH_CLI, [] as string[]];
    const known = helpOptions(cli, args);
    for (const t of tokens.filter((x) => x.startsWith('--'))) {
      expect(known, `${t} in ${tokens.join(' ')}`).toContain(t.replace(/=.*$/, ''));
    }
  });
});

/** Text a published README must not contain: it addresses a consumer, not a workspace developer. */
const WORKSPACE_ONLY: readonly (string | RegExp)[] = [
  'pnpm start',
  'pnpm add',
  'pnpm --filter',
  'npx pnpm',
  'node dist/cli.js',
  '../shared/',
  'as the lead wrote it',
  'npx vitest',
  /`src\/[\w./-]*\.test\.ts`/, // test files are not in the package
];

describe.each(publishedReadmePaths())('%s speaks to consumers', (readme) => {
  it('has no workspace-only instruction', () => {
    const text = readFileSync(join(ROOT, readme), 'utf8');
    for (const bad of WORKSPACE_ONLY) {
      expect(typeof bad === 'string' ? text.includes(bad) : bad.test(text), `${readme}: ${bad}`).toBe(false);
    }
  });
});
