import { defineProject } from 'vitest/config';

export default defineProject({
  // forks: the programs under test use the native addon and worker threads.
  test: { name: 'example-tcp-stream', include: ['*.test.ts'], pool: 'forks', testTimeout: 60_000 },
});
