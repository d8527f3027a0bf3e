import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['@jobfleet/test-utils/global-setup', './test/build-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
