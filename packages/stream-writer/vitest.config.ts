import { defineProject } from 'vitest/config';

export default defineProject({
  // forks, not threads: the file-sink tests change process.umask(), which worker threads may not.
  test: {
    name: 'stream-writer',
    include: ['src/**/*.test.ts'],
    pool: 'forks',
    setupFiles: ['./src/test-setup.ts'],
  },
});
