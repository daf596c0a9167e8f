import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Unit and property tests only: Playwright specs live in e2e/ and run through `npm run test:e2e`.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx', 'scripts/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One test file per core. Vitest's default leaves a core free (cores - 1): on a 2-core machine
    // that ran the files one at a time, 404 s against 214 s with two (the suite is mostly CPU-bound
    // property tests; measured on the 2-core CI machine, session 11).
    maxWorkers: availableParallelism(),
  },
});
