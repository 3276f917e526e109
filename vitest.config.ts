import { defineConfig } from 'vitest/config';

// Tests run the workspace packages from their sources, as the apps do (see SOURCE_CONDITION_ARGS);
// the other conditions are Vite's defaults for server code.
const conditions = ['volley-source', 'module', 'node', 'development|production'];

export default defineConfig({
  ssr: { resolve: { conditions } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'scripts/**/*.test.ts'],
          // Integration tests spawn Redis and several Node processes each; on a 2-core
          // machine running the files one by one keeps their timing assertions honest.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
