// Runs in a process of its own (forked by bench/signin-log.ts): reads the
// whole CSV download of the sign-in log from an existing database and reports
// the rows, the seconds, the process's peak RSS and peak JavaScript heap, so
// the figures are the export's alone (its worker threads included). It reads
// as the server does: worker threads, each through a bulk connection of its
// own (no memory map, a small page cache).
import { Exports } from '../src/modules/reports/exports.js';
import { SigninExporter } from '../src/modules/reports/signin-export.js';
import { SigninLog } from '../src/modules/reports/signin-log.js';
import { openStorage } from '../src/storage/database.js';

interface Job {
  url: string;
  dataDir: string;
  pgSchema?: string;
}

process.once('message', (job: Job) => {
  void (async () => {
    let exporter: SigninExporter | null = null;
    const storage = openStorage({ url: job.url, dataDir: job.dataDir, poolSize: 2, ...(job.pgSchema ? { pgSchema: job.pgSchema } : {}) });
    try {
      // As the server does: downloads read through the bulk connection.
      exporter = new SigninExporter({ reader: storage.bulk, location: storage.options });
      const exports = new Exports({ db: storage.bulkDb, signinLog: new SigninLog({ db: storage.bulkDb }), exporter });
      let peakRss = process.memoryUsage().rss;
      let peakHeap = process.memoryUsage().heapUsed;
      const sample = () => {
        const memory = process.memoryUsage();
        peakRss = Math.max(peakRss, memory.rss);
        peakHeap = Math.max(peakHeap, memory.heapUsed);
      };
      const sampler = setInterval(sample, 20);
      const began = process.hrtime.bigint();
      let rows = -1; // the header row
      for await (const chunk of await exports.signins({}, 'csv')) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        for (let at = bytes.indexOf('\r\n'); at !== -1; at = bytes.indexOf('\r\n', at + 2)) rows += 1;
      }
      const seconds = Number(process.hrtime.bigint() - began) / 1e9;
      clearInterval(sampler);
      sample();
      process.send!({ rows, seconds, peakRss, peakHeap });
    } catch (error) {
      process.send!({ error: String((error as Error).stack ?? error) });
    } finally {
      await exporter?.close();
      await storage.close();
    }
  })();
});
