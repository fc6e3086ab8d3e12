import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

// The README's usage example is a complete program: run it as users would (importing the package by
// name, which resolves to this package through its own `exports`).
it('the README usage example runs and saves every page', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(code, 'a ```js block in the README').toBeDefined();
  const dir = fileURLToPath(new URL('../build/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}readme-example.mjs`;
  writeFileSync(file, code!);
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
  expect(r.stderr).toBe('');
  expect(r.stdout).toMatch(/^saved 16384 pages; faults: \d+/);
  expect(r.status).toBe(0);
});
