import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'bgsnap', include: ['src/**/*.test.ts'] },
});
