import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AtomicPageBitmap } from './atomic-page-bitmap.js';
import { PageBitmap } from './page-bitmap.js';
import { collectRuns, ModelBitmap } from './test-support/model.js';

/**
 * Random operation sequences applied to a bitmap and to the naive model, with every query compared.
 * Sizes include ones that are not multiples of 32 or of the 2^16-bit block, and indices are biased
 * towards word and block boundaries, where off-by-one errors live.
 */

const SIZES = [1, 2, 31, 32, 33, 63, 64, 65, 1000, 65535, 65536, 65537, 131071, 196613];
const BLOCK = 65536;

function indexArb(size: number): fc.Arbitrary<number> {
  const clamp = (v: number) => Math.max(0, Math.min(size - 1, v));
  return fc.oneof(
    fc.nat(size - 1),
    fc
      .tuple(fc.nat(Math.ceil(size / 32)), fc.integer({ min: -2, max: 2 }))
      .map(([k, d]) => clamp(k * 32 + d)),
    fc
      .tuple(fc.nat(Math.ceil(size / BLOCK)), fc.integer({ min: -40, max: 40 }))
      .map(([b, d]) => clamp(b * BLOCK + d)),
    fc.constant(size - 1),
  );
}

/** A position in [0, size], for range ends and `from` arguments. */
function boundArb(size: number): fc.Arbitrary<number> {
  return fc.oneof(
    indexArb(size),
    indexArb(size).map((i) => i + 1),
    fc.constant(0),
    fc.constant(size),
  );
}

function rangeArb(size: number): fc.Arbitrary<[number, number]> {
  return fc.tuple(boundArb(size), boundArb(size)).map(([a, b]) => (a <= b ? [a, b] : [b, a]));
}

type Op =
  | { op: 'set' | 'clear' | 'test'; i: number }
  | { op: 'setRange' | 'clearRange' | 'countRange' | 'runs' | 'find'; s: number; e: number }
  | { op: 'fill'; v: boolean }
  | { op: 'nextSet' | 'nextClear'; from: number; wrap: boolean };

function opArb(size: number): fc.Arbitrary<Op> {
  const i = indexArb(size);
  return fc.oneof(
    { weight: 4, arbitrary: i.map((i) => ({ op: 'set' as const, i })) },
    { weight: 2, arbitrary: i.map((i) => ({ op: 'clear' as const, i })) },
    { weight: 1, arbitrary: i.map((i) => ({ op: 'test' as const, i })) },
    { weight: 2, arbitrary: rangeArb(size).map(([s, e]) => ({ op: 'setRange' as const, s, e })) },
    { weight: 2, arbitrary: rangeArb(size).map(([s, e]) => ({ op: 'clearRange' as const, s, e })) },
    { weight: 1, arbitrary: rangeArb(size).map(([s, e]) => ({ op: 'countRange' as const, s, e })) },
    { weight: 1, arbitrary: rangeArb(size).map(([s, e]) => ({ op: 'runs' as const, s, e })) },
    { weight: 2, arbitrary: rangeArb(size).map(([s, e]) => ({ op: 'find' as const, s, e })) },
    { weight: 1, arbitrary: fc.boolean().map((v) => ({ op: 'fill' as const, v })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(boundArb(size), fc.boolean())
        .map(([from, wrap]) => ({ op: 'nextSet' as const, from, wrap })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(boundArb(size), fc.boolean())
        .map(([from, wrap]) => ({ op: 'nextClear' as const, from, wrap })),
    },
  );
}

const scenario = fc
  .oneof(fc.constantFrom(...SIZES), fc.integer({ min: 1, max: 200_000 }))
  .chain((size) => fc.tuple(fc.constant(size), fc.array(opArb(size), { maxLength: 40 })));

type Subject = PageBitmap | AtomicPageBitmap;

function apply(bm: Subject, model: ModelBitmap, o: Op): void {
  switch (o.op) {
    case 'set':
      expect(bm.set(o.i), `set(${o.i})`).toBe(model.set(o.i));
      break;
    case 'clear':
      expect(bm.clear(o.i), `clear(${o.i})`).toBe(model.clear(o.i));
      break;
    case 'test':
      expect(bm.test(o.i), `test(${o.i})`).toBe(model.test(o.i));
      break;
    case 'setRange':
      expect(bm.setRange(o.s, o.e), `setRange(${o.s}, ${o.e})`).toBe(model.setRange(o.s, o.e));
      break;
    case 'clearRange':
      expect(bm.clearRange(o.s, o.e), `clearRange(${o.s}, ${o.e})`).toBe(model.clearRange(o.s, o.e));
      break;
    case 'countRange':
      expect(bm.countRange(o.s, o.e), `countRange(${o.s}, ${o.e})`).toBe(model.countRange(o.s, o.e));
      break;
    case 'runs':
      expect(collectRuns(bm, o.s, o.e), `forEachRun(${o.s}, ${o.e})`).toEqual(model.runs(o.s, o.e));
      expect([...bm.runs(o.s, o.e)], `runs(${o.s}, ${o.e})`).toEqual(model.runs(o.s, o.e));
      break;
    case 'find': {
      const set = model.nextSet(o.s);
      const clear = model.nextClear(o.s);
      expect(bm.findSet(o.s, o.e), `findSet(${o.s}, ${o.e})`).toBe(set >= 0 && set < o.e ? set : -1);
      expect(bm.findClear(o.s, o.e), `findClear(${o.s}, ${o.e})`).toBe(
        clear >= 0 && clear < o.e ? clear : -1,
      );
      break;
    }
    case 'fill':
      bm.fill(o.v);
      model.fill(o.v);
      break;
    case 'nextSet':
      expect(bm.nextSet(o.from, o.wrap), `nextSet(${o.from}, ${o.wrap})`).toBe(model.nextSet(o.from, o.wrap));
      break;
    case 'nextClear':
      expect(bm.nextClear(o.from, o.wrap), `nextClear(${o.from}, ${o.wrap})`).toBe(
        model.nextClear(o.from, o.wrap),
      );
      break;
  }
}

function checkWhole(bm: Subject, model: ModelBitmap): void {
  expect(bm.count()).toBe(model.count());
  expect(collectRuns(bm)).toEqual(model.runs());
  expect(bm.nextSet(0)).toBe(model.nextSet(0));
  expect(bm.nextClear(0)).toBe(model.nextClear(0));
}

describe.each([
  ['PageBitmap', (size: number): Subject => new PageBitmap(size)],
  ['AtomicPageBitmap', (size: number): Subject => new AtomicPageBitmap(size)],
])('%s against the naive model', (_name, make) => {
  it('agrees on every query after random operation sequences', () => {
    fc.assert(
      fc.property(scenario, ([size, ops]) => {
        const bm = make(size);
        const model = new ModelBitmap(size);
        for (const o of ops) apply(bm, model, o);
        checkWhole(bm, model);
      }),
      { numRuns: 120 },
    );
  });

  it('clone is equal and independent', () => {
    fc.assert(
      fc.property(scenario, indexArb(65537), ([size, ops], extra) => {
        const bm = make(size);
        const model = new ModelBitmap(size);
        for (const o of ops) apply(bm, model, o);
        const copy = bm.clone();
        expect(copy.equals(bm)).toBe(true);
        const i = extra % size;
        const wasSet = bm.test(i);
        if (wasSet) copy.clear(i);
        else copy.set(i);
        expect(copy.equals(bm)).toBe(false);
        expect(bm.test(i)).toBe(wasSet);
      }),
      { numRuns: 60 },
    );
  });
});

describe('PageBitmap serialisation and cross-bitmap operations', () => {
  it('toBytes/fromBytes round-trips any state', () => {
    fc.assert(
      fc.property(scenario, ([size, ops]) => {
        const bm = new PageBitmap(size);
        const model = new ModelBitmap(size);
        for (const o of ops) apply(bm, model, o);
        const back = PageBitmap.fromBytes(bm.toBytes());
        expect(back.size).toBe(size);
        expect(back.equals(bm)).toBe(true);
        checkWhole(back, model);
      }),
      { numRuns: 80 },
    );
  });

  it('or / and / andNot match the element-wise model, across variants', () => {
    const pair = fc
      .oneof(fc.constantFrom(...SIZES), fc.integer({ min: 1, max: 140_000 }))
      .chain((size) =>
        fc.tuple(
          fc.constant(size),
          fc.array(opArb(size), { maxLength: 15 }),
          fc.array(opArb(size), { maxLength: 15 }),
        ),
      );
    fc.assert(
      fc.property(
        pair,
        fc.constantFrom('or', 'and', 'andNot'),
        fc.boolean(),
        ([size, opsA, opsB], which, atomicB) => {
          const a = new PageBitmap(size);
          const ma = new ModelBitmap(size);
          for (const o of opsA) apply(a, ma, o);
          const b: Subject = atomicB ? new AtomicPageBitmap(size) : new PageBitmap(size);
          const mb = new ModelBitmap(size);
          for (const o of opsB) apply(b, mb, o);
          a[which](b);
          for (let i = 0; i < size; i++) {
            const x = ma.bits[i]!;
            const y = mb.bits[i]!;
            ma.bits[i] = which === 'or' ? x | y : which === 'and' ? x & y : x & (1 - y);
          }
          checkWhole(a, ma);
          expect(a.equals(AtomicPageBitmap.fromBitmap(a))).toBe(true);
        },
      ),
      { numRuns: 80 },
    );
  });
});

describe('AtomicPageBitmap claims against the model', () => {
  it('claimRun claims the first clear bit at/after from and the clear bits directly after it', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 200 }), fc.nat())),
        ([size, ops], claims) => {
          const bm = new AtomicPageBitmap(size);
          const model = new ModelBitmap(size);
          for (const o of ops) apply(bm, model, o);
          for (const [f, maxLength, e] of claims) {
            const from = f % (size + 1);
            const end = from + (e % (size - from + 1));
            const got = bm.claimRun(from, maxLength, end);
            const s = model.nextClear(from);
            if (s < 0 || s >= end) {
              expect(got).toBeNull();
              continue;
            }
            let len = 0;
            while (len < maxLength && s + len < end && !model.test(s + len)) model.set(s + len++);
            expect(got).toEqual([s, len]);
          }
          checkWhole(bm, model);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('claimRange reports exactly the bits that were clear', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 10 }),
        ([size, ops], ranges) => {
          const bm = new AtomicPageBitmap(size);
          const model = new ModelBitmap(size);
          for (const o of ops) apply(bm, model, o);
          for (const [x, y] of ranges) {
            const a = x % (size + 1);
            const b = y % (size + 1);
            const [s, e] = a <= b ? [a, b] : [b, a];
            const before = new ModelBitmap(size);
            before.bits.set(model.bits);
            // The claimed bits are the clear bits of [s, e): the runs of the complement.
            const expected = new ModelBitmap(size);
            for (let i = s; i < e; i++) if (!model.test(i)) expected.set(i);
            const reported: [number, number][] = [];
            const n = bm.claimRange(s, e, (rs, rl) => {
              reported.push([rs, rl]);
            });
            model.setRange(s, e);
            expect(n).toBe(expected.count());
            expect(reported).toEqual(expected.runs());
          }
          checkWhole(bm, model);
        },
      ),
      { numRuns: 100 },
    );
  });
});
