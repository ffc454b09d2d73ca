// Given to every test process by vitest.config.ts (execArgv), and inherited by
// the worker threads it starts. Vitest runs src/ as TypeScript in the test's
// own thread, but a worker thread (the bulk reads' pool, src/storage/bulk.ts)
// loads its files with Node itself, which needs a loader for them: the worker
// threads, and only they, register tsx here. Built code (dist/) needs none, and
// src/ never loads tsx itself.
import { isMainThread } from 'node:worker_threads';

if (!isMainThread) {
  const { register } = await import('tsx/esm/api');
  register();
}
