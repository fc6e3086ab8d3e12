import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'fault-source', include: ['src/**/*.test.ts'] },
});
