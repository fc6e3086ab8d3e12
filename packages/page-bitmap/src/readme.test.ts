import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const README = fileURLToPath(new URL('../README.md', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

describe('README usage example', () => {
  it('runs against the built package and prints what its comments say', () => {
    if (!existsSync(DIST)) throw new Error(`${DIST} is missing: build the package before the tests`);
    const code = /```js\n([\s\S]*?)```/.exec(readFileSync(README, 'utf8'))?.[1];
    expect(code).toBeDefined();
    // Every `console.log(...) // expected` line states its output; collect those expectations.
    const expected: string[] = [];
    for (const line of code!.split('\n')) {
      const m = /^console\.log\(.*\); \/\/ (.*?)(?: \(.*\)|: .*)?$/.exec(line);
      if (m) expected.push(m[1]!);
      const out = /^\/\/ (save pages .*)$/.exec(line);
      if (out) expected.push(out[1]!);
    }
    expect(expected.length).toBeGreaterThan(5);
    const stdout = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', code!.replace("'@bgsnap/page-bitmap'", JSON.stringify(DIST))],
      {
        encoding: 'utf8',
      },
    );
    const printed = stdout
      .trim()
      .split('\n')
      .map((l) => l.replace(/\s+/g, ' '));
    expect(printed).toEqual(expected.map((l) => l.replace(/\s+/g, ' ')));
  });
});
