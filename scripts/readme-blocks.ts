// Extracts the code blocks of the workspace's READMEs, for scripts/readme-examples.test.ts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** How the test treats a block, from an `<!-- readme-example: KIND — why -->` comment before it. */
export type BlockMode = 'run' | 'no-run' | 'fragment';

/** One fenced code block of a README. */
export interface ReadmeBlock {
  /** README path relative to the workspace root. */
  readme: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** Info string's language: `js`, `ts`, `sh`, … */
  lang: string;
  /** `run` (default): type-checked and run; `no-run`: type-checked only; `fragment`: neither. */
  mode: BlockMode;
  /** The reason given with `no-run` or `fragment`. */
  why: string;
  code: string;
}

/** The workspace root (this file lives in `scripts/`). */
export const ROOT = join(import.meta.dirname, '..');

/** The root README, every app's and every package's README, relative to the root. */
export function readmePaths(): string[] {
  const within = (dir: string) =>
    readdirSync(join(ROOT, dir))
      .map((d) => `${dir}/${d}/README.md`)
      .filter((p) => existsSync(join(ROOT, p)));
  return ['README.md', ...within('apps'), ...within('packages')];
}

/** READMEs that npm ships to consumers: every public package's and the `bgsnap` app's. */
export function publishedReadmePaths(): string[] {
  return readmePaths().filter((p) => {
    if (p === 'README.md') return false;
    const pkg = JSON.parse(readFileSync(join(ROOT, p.replace('README.md', 'package.json')), 'utf8'));
    return pkg.private !== true;
  });
}

const MARK = /<!--\s*readme-example:\s*(no-run|fragment)\s*(?:[—:-]+\s*)?(.*?)\s*-->/;

/** Every fenced block of `readme`, with its mode from the marker comment right before it. */
export function readmeBlocks(readme: string): ReadmeBlock[] {
  const lines = readFileSync(join(ROOT, readme), 'utf8').split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
    let j = start - 1;
    while (j >= 0 && lines[j]!.trim() === '') j--;
    const mark = j >= 0 ? MARK.exec(lines[j]!) : null;
    blocks.push({
      readme,
      line: start + 1,
      lang: open[1]!,
      mode: (mark?.[1] as BlockMode | undefined) ?? 'run',
      why: mark?.[2] ?? '',
      code: `${body.join('\n')}\n`,
    });
  }
  return blocks;
}
