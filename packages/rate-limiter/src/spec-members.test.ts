import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LimiterConfigError } from './errors.js';
import { parseLimiterSpec, parseLimiterSpecParts } from './registry.js';

describe('spec members: built-ins and modules in either order', () => {
  it('reads a module member after a built-in, with the module’s options', () => {
    expect(parseLimiterSpecParts('latency-target+./mine.mjs:pages=4')).toEqual([
      { name: 'latency-target', options: {} },
      { name: './mine.mjs', options: { pages: '4' }, module: './mine.mjs' },
    ]);
  });

  it('reads a built-in after a module member instead of folding it into the options', () => {
    expect(parseLimiterSpecParts('./mine.mjs:pages=4+latency-target:p99=2ms')).toEqual([
      { name: './mine.mjs', options: { pages: '4' }, module: './mine.mjs' },
      { name: 'latency-target', options: { p99: '2ms' } },
    ]);
  });

  it.each([
    ['../up/p.mjs', '../up/p.mjs'],
    ['/abs/p.mjs', '/abs/p.mjs'],
    ['file:///tmp/a%2Bb.mjs', 'file:///tmp/a%2Bb.mjs'],
    ['./dir.v2/p.js', './dir.v2/p.js'],
  ])('%s is a module member', (spec, module) => {
    const [part] = parseLimiterSpecParts(`${spec}:x=1+threshold`);
    expect(part).toEqual({ name: module, options: { x: '1' }, module });
  });

  it('keeps a + inside JSON options, for modules too', () => {
    expect(parseLimiterSpecParts('./m.mjs:{"a":"1+2"}+threshold')).toEqual([
      { name: './m.mjs', options: { a: '1+2' }, module: './m.mjs' },
      { name: 'threshold', options: {} },
    ]);
  });

  it('treats a name without a path prefix as a built-in', () => {
    expect(parseLimiterSpecParts('mine.mjs')).toEqual([{ name: 'mine.mjs', options: {} }]);
  });

  it.each([
    'threshold+',
    '+threshold',
    'threshold++latency-target',
    'file:',
    'file::x=1',
    './m.mjs:pages',
    './m.mjs:{"a":1',
    './m.mjs:pages=1,pages=2',
  ])('rejects %j with a LimiterConfigError', (spec) => {
    expect(() => parseLimiterSpecParts(spec)).toThrow(LimiterConfigError);
  });

  it('parseLimiterSpec (synchronous, built-ins only) refuses module members by name', () => {
    expect(() => parseLimiterSpec('threshold+./mine.mjs')).toThrow(/\.\/mine\.mjs/);
    expect(() => parseLimiterSpec('threshold+./mine.mjs')).toThrow(LimiterConfigError);
  });

  it('any order of built-in and module members parses back to the same members', () => {
    const builtin = fc.constantFrom('threshold', 'latency-target:p99=2ms', 'token-bucket:rate=1M/s');
    const module = fc
      .tuple(fc.constantFrom('./', '../', '/'), fc.stringMatching(/^[a-z][a-z0-9._/-]{0,12}$/))
      .map(([prefix, rest]) => `${prefix}${rest}.mjs:pages=4`);
    fc.assert(
      fc.property(fc.array(fc.oneof(builtin, module), { minLength: 1, maxLength: 5 }), (members) => {
        const parts = parseLimiterSpecParts(members.join('+'));
        expect(parts.map((p) => (p.module ? `${p.module}:pages=${p.options.pages}` : p.name))).toEqual(
          members.map((m) => (m.startsWith('.') || m.startsWith('/') ? m : m.split(':')[0])),
        );
      }),
    );
  });
});
