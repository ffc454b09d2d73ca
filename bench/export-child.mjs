// Runs in a process of its own (forked by bench/signin-log.ts): reads the CSV
// download of the sign-in log from an existing database and reports the rows,
// the seconds, the process's peak RSS and peak JavaScript heap, so the
// figures are the download's alone, its worker threads included. It runs the
// built server code (dist/) as a server does, in plain Node: no TypeScript
// loader in this process or its workers.
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';
import { Exports } from '../dist/modules/reports/exports.js';
import { SigninExporter } from '../dist/modules/reports/signin-export.js';
import { SigninLog } from '../dist/modules/reports/signin-log.js';
import { openStorage } from '../dist/storage/database.js';

/** @param {{ url: string, dataDir: string, pgSchema?: string, from: number, warmUpFrom: number }} job */
async function run(job) {
  const storage = openStorage({ url: job.url, dataDir: job.dataDir, poolSize: 2, ...(job.pgSchema ? { pgSchema: job.pgSchema } : {}) });
  // As the server builds it: the storage's bulk reader, whose worker threads each read through a connection of their own.
  const exporter = new SigninExporter({ reader: storage.bulk });
  const exports = new Exports({ db: storage.bulkDb, signinLog: new SigninLog({ db: storage.bulkDb }), exporter });
  try {
    let peakRss = process.memoryUsage().rss;
    let peakHeap = process.memoryUsage().heapUsed;
    const sample = () => {
      const memory = process.memoryUsage();
      peakRss = Math.max(peakRss, memory.rss);
      peakHeap = Math.max(peakHeap, memory.heapUsed);
    };
    // A first small download (the newest hour) starts the worker threads, as a running server has them.
    for await (const chunk of await exports.signins({ from: new Date(job.warmUpFrom).toISOString() }, 'csv')) void chunk;
    const sampler = setInterval(sample, 20);
    const began = process.hrtime.bigint();
    let rows = -1; // the header row
    for await (const chunk of await exports.signins({ from: new Date(job.from).toISOString() }, 'csv')) {
      sample();
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      for (let at = bytes.indexOf('\r\n'); at !== -1; at = bytes.indexOf('\r\n', at + 2)) rows += 1;
    }
    const seconds = Number(process.hrtime.bigint() - began) / 1e9;
    clearInterval(sampler);
    sample();
    return { rows, seconds, peakRss, peakHeap };
  } finally {
    await storage.close();
  }
}

process.once('message', (job) => {
  run(job).then(
    (result) => process.send(result),
    (error) => process.send({ error: String(error?.stack ?? error) }),
  );
});
