import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadInputError } from './errors.js';
import { resolveLimiter } from './limiter-spec.js';

// A policy module as a user writes one: a factory taking string options, validating them with the
// documented PolicyOptionsError.
const FIXTURE = `import { PolicyOptionsError, SCAN_UNLIMITED } from '@bgsnap/rate-limiter';
export default function createPolicy(options) {
  const pages = Number(options.pages ?? '8');
  if (!Number.isInteger(pages) || pages < 1) throw new PolicyOptionsError('mine', 'pages', 'an integer >= 1', options.pages);
  return { name: 'mine(' + pages + ')', start() {}, onFault() {}, onScan() {}, onSinkWrite() {},
    decide: () => ({ scanPages: pages, waitNs: 0 }) };
}
`;

let dir = '';
beforeAll(() => {
  // Inside the app so the fixture resolves @bgsnap/rate-limiter like a user's project would.
  dir = mkdtempSync(join(import.meta.dirname, '..', 'node_modules', '.limiter-spec-test-'));
  writeFileSync(join(dir, 'mine.mjs'), FIXTURE);
  writeFileSync(join(dir, 'a+b.mjs'), FIXTURE);
  writeFileSync(join(dir, 'throws.mjs'), `export default () => { throw new Error('boom: bad options'); };\n`);
  writeFileSync(
    join(dir, 'object.mjs'),
    `export default { name: 'obj', start() {}, onFault() {}, onScan() {}, onSinkWrite() {}, decide: () => ({ scanPages: 1, waitNs: 0 }) };\n`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function badInput(spec: string): Promise<BadInputError> {
  const error = await resolveLimiter(spec, dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BadInputError);
  return error as BadInputError;
}

describe('resolveLimiter: module members compose with built-ins', () => {
  it('built-in first, then the module with its options: both in the name', async () => {
    const p = await resolveLimiter('latency-target+./mine.mjs:pages=4', dir);
    expect(p.name).toMatch(/^all\(latency-target\(.*\),mine\(4\)\)$/);
  });

  it('module first: the built-in after it is a member, not an option', async () => {
    const p = await resolveLimiter('./mine.mjs:pages=4+latency-target', dir);
    expect(p.name).toMatch(/^all\(mine\(4\),latency-target\(.*\)\)$/);
  });

  it('a path with + is written as a file: URL with %2B', async () => {
    const url = pathToFileURL(join(dir, 'a+b.mjs')).href.replace('+', '%2B');
    const p = await resolveLimiter(`${url}:pages=2+threshold`, dir);
    expect(p.name).toMatch(/^all\(mine\(2\),threshold\(.*\)\)$/);
  });

  it('a factory rejecting its options is bad input carrying its message', async () => {
    const e = await badInput('threshold+./mine.mjs:pages=zero');
    expect(e.message).toMatch(
      /rejected its options: mine: option 'pages' must be an integer >= 1, got "zero"/,
    );
    expect((await badInput('./throws.mjs')).message).toMatch(/boom: bad options/);
  });

  it('names what is wrong for missing modules, unknown names and option-less objects', async () => {
    expect((await badInput('latency-target+./missing.mjs')).message).toMatch(/missing\.mjs does not exist/);
    expect((await badInput('mine.mjs')).message).toMatch(/unknown policy 'mine\.mjs'.*write \.\/mine\.mjs/);
    expect((await badInput('threshold+')).message).toMatch(/members joined by \+/);
    expect((await resolveLimiter('./object.mjs', dir)).name).toBe('obj');
    expect((await badInput('./object.mjs:pages=2')).message).toMatch(/takes no options/);
  });
});
