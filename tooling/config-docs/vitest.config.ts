import { defineConfig } from 'vitest/config';

// The apps' specs are read from their sources, and so are the workspace packages they import (their
// `@jobfleet/source` export), as `pnpm docs:config` does: no build is needed.
export default defineConfig({
  resolve: { conditions: ['@jobfleet/source'] },
  ssr: { resolve: { conditions: ['@jobfleet/source'] } },
  test: { testTimeout: 60_000 },
});
