import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'fault-source-sim', include: ['src/**/*.test.ts'] },
});
