import { describe, expect, it } from 'vitest';
import { median, protectedMemcpyThroughput } from './memcpy.js';

const uffd = await import('@bgsnap/fault-source-uffd').catch(() => undefined);
const available = uffd?.probeUffd().available === true;

describe('median', () => {
  it('takes the middle value, or the mean of the middle two, whatever the order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
});

describe.skipIf(!available)('protectedMemcpyThroughput (native)', () => {
  it('times one copy of freshly write-protected memory per pass', async () => {
    const rates = await protectedMemcpyThroughput(uffd!, 4 * 2 ** 20, 2);
    expect(rates).toHaveLength(2);
    for (const r of rates) expect(Number.isFinite(r) && r > 0).toBe(true);
  });
});
