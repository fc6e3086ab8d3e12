import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'page-bitmap', include: ['src/**/*.test.ts'] },
});
