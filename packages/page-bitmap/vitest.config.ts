import { defineProject } from 'vitest/config';

export default defineProject({
  // Property and worker tests take 1-4 s on a quiet machine; the generous timeout keeps them from
  // failing when the shared 2-core machine is heavily loaded (nothing here can hang).
  test: { name: 'page-bitmap', include: ['src/**/*.test.ts'], testTimeout: 30_000 },
});
