import { defineProject } from 'vitest/config';

// Workspace-level checks that span packages: every README example, compiled and run as written.
export default defineProject({
  test: { name: 'readme', include: ['*.test.ts'], testTimeout: 120_000, hookTimeout: 180_000 },
});
