// Runs in a process of its own (forked by bench/signin-log.ts): reads the
// whole CSV download of the sign-in log from an existing database and reports
// the rows, the seconds and the process's peak RSS, so the figure is the
// export's alone.
import { Exports } from '../src/modules/reports/exports.js';
import { SigninLog } from '../src/modules/reports/signin-log.js';
import { openStorage } from '../src/storage/database.js';

interface Job {
  url: string;
  dataDir: string;
  pgSchema?: string;
}

process.once('message', (job: Job) => {
  void (async () => {
    const storage = openStorage({ url: job.url, dataDir: job.dataDir, poolSize: 2, ...(job.pgSchema ? { pgSchema: job.pgSchema } : {}) });
    try {
      const exports = new Exports({ db: storage.db, signinLog: new SigninLog({ db: storage.db }) });
      let peakRss = process.memoryUsage().rss;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
      const began = process.hrtime.bigint();
      let rows = -1; // the header row
      for await (const chunk of await exports.signins({}, 'csv')) for (let at = chunk.indexOf('\r\n'); at !== -1; at = chunk.indexOf('\r\n', at + 2)) rows += 1;
      const seconds = Number(process.hrtime.bigint() - began) / 1e9;
      clearInterval(sampler);
      process.send!({ rows, seconds, peakRss: Math.max(peakRss, process.memoryUsage().rss) });
    } catch (error) {
      process.send!({ error: String((error as Error).stack ?? error) });
    } finally {
      await storage.close();
    }
  })();
});
