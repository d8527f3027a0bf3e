import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['@jobfleet/test-utils/global-setup'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
});
