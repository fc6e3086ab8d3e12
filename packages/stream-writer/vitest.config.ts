import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'stream-writer', include: ['src/**/*.test.ts'] },
});
