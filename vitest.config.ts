import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    globalSetup: ['test/helpers/global-setup.ts'],
    // Worker threads started by the code under test load src/ as TypeScript (test/helpers/typescript-in-workers.mjs).
    execArgv: ['--import', new URL('./test/helpers/typescript-in-workers.mjs', import.meta.url).href],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
