import { defineConfig } from 'vitest/config';

/** Files that must not share loaded modules with other test files: they walk what every loaded module declared (the cached reads). */
const ISOLATED = ['test/read-cache.no-stale-reads.test.ts'];

export default defineConfig({
  test: {
    pool: 'forks',
    // One per core: a third worker on two cores made the run slower, and child-process tests ran out of time.
    maxWorkers: 2,
    globalSetup: ['test/helpers/global-setup.ts'],
    // Worker threads started by the code under test load src/ as TypeScript (test/helpers/typescript-in-workers.mjs).
    execArgv: ['--import', new URL('./test/helpers/typescript-in-workers.mjs', import.meta.url).href],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      // A worker keeps the modules it loaded for the next file: loading src/ again for each of ninety files cost a third of the run.
      { extends: true, test: { name: 'shared', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], exclude: ISOLATED, isolate: false } },
      { extends: true, test: { name: 'isolated', include: ISOLATED, isolate: true } },
    ],
  },
});
