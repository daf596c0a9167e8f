import { defineConfig } from 'vitest/config';

// Unit and property tests only: Playwright specs live in e2e/ and run through `npm run test:e2e`.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx', 'scripts/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
