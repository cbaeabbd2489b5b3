import { defineConfig } from 'vitest/config';
import { sharedProcessTestFiles } from './test/support/isolation.js';

// Test files that leave the process as they found it reuse one process's modules; see isolation.ts.
const sharedProcess = sharedProcessTestFiles(import.meta.dirname);

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration suites share one Redis and spawn worker processes; two forks keep a 2-core box responsive.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'own-process',
          include: ['test/**/*.test.ts'],
          exclude: sharedProcess,
          // Fails the run when a test leaves keys under its prefix in Redis.
          globalSetup: ['test/support/leak-guard.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'shared-process',
          include: sharedProcess,
          isolate: false,
          globalSetup: ['test/support/leak-guard.ts'],
        },
      },
    ],
  },
});
