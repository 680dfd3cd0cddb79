import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // vitest's own output, then the plain "N passed, N failed" line CI reads.
    reporters: ['default', './test/reporters/summary-line.ts'],
    // CDK synthesis and embedded databases are slow on a 2-core machine; these are ceilings, not targets.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
