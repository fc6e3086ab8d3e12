import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'fault-source-uffd', include: ['src/**/*.test.ts'] },
});
