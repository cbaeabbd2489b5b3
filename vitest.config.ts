import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration suites share one Redis and spawn worker processes; two forks keep a 2-core box responsive.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // Fails the run when a test leaves keys under its prefix in Redis.
    globalSetup: ['test/support/leak-guard.ts'],
  },
});
