import { defineProject } from 'vitest/config';

// Native addon + worker threads: run test files in child processes, not in vitest's thread pool.
export default defineProject({
  test: {
    name: 'fault-source-uffd',
    include: ['src/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
