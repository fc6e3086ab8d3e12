import { defineProject } from 'vitest/config';

export default defineProject({
  // forks: the native uffd addon and worker threads mix badly in vitest's thread pool.
  test: { name: 'example-kv-server', include: ['src/**/*.test.ts'], pool: 'forks', testTimeout: 60_000 },
});
