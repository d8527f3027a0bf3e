import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The sandbox runs the built `dist/render/sandbox-entry.js` in a worker thread, so dist/ must be current.
    globalSetup: ['@jobfleet/test-utils/global-setup', '@jobfleet/test-utils/build-setup'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
