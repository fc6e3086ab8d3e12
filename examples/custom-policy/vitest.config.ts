import { defineProject } from 'vitest/config';

export default defineProject({
  // forks: the CLI runs spawn native-addon processes; keep each test file in its own process.
  test: { name: 'example-custom-policy', include: ['*.test.ts'], pool: 'forks', testTimeout: 60_000 },
});
