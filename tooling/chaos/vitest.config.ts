import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Builds this package's dist/ (the CLI the test runs) when it is missing or stale.
    globalSetup: ['@jobfleet/test-utils/build-setup'],
    testTimeout: 30_000,
  },
});
