import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['@jobfleet/test-utils/global-setup'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
