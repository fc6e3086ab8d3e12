import { defineConfig } from 'vitest/config';

// One workspace run over every package's own vitest config, so `pnpm test` ends with one summary.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'examples/*', 'scripts'],
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-results.json' }]] : ['default'],
  },
});
