import { defineConfig } from 'vitest/config';

export default defineConfig({
  // docker-compose (Python) and promtool take seconds on a busy machine.
  test: { testTimeout: 30_000 },
});
