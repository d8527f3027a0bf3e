import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['@jobfleet/test-utils/global-setup'],
  },
});
