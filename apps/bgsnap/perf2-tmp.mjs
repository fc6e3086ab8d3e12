import { TrackedMemory } from '@bgsnap/fault-source-uffd';

const size = 256 * 2 ** 20;
const t = (label, fn) => {
  const s = performance.now();
  fn();
  console.log(label, (performance.now() - s).toFixed(1), 'ms');
};
const a = new Uint8Array(size);
t('fill normal', () => a.fill(1));
let b;
t('fresh alloc+copy normal', () => {
  b = new Uint8Array(size);
  b.set(a);
});
t('copy normal->existing', () => b.set(a));
const m = TrackedMemory.allocate(size);
const v = m.block(0);
t('fill tracked', () => v.fill(2));
t('copy tracked->existing', () => b.set(v));
t('copy normal->tracked', () => v.set(a));
const m2 = TrackedMemory.allocate(size, { hugePages: false });
const v2 = m2.block(0);
t('fill tracked nohuge', () => v2.fill(2));
t('copy tracked nohuge->existing', () => b.set(v2));
