// The load generator of the benchmarks: runs autocannon against one route and
// reports a summary to its parent. It runs in its own process (bench/lib.ts
// forks it) so the load it makes does not share the event loop, heap or
// garbage collector of the server it measures.
import autocannon from 'autocannon';
import type { LoadJob, LoadSummary } from './lib.js';

/** autocannon options for a job: one fixed path, or a random path from the list for every request. */
function optionsFor(job: LoadJob, seconds: number): autocannon.Options {
  const { paths } = job;
  const options: autocannon.Options = {
    url: job.url + (paths[0] ?? '/'),
    connections: job.connections,
    duration: seconds,
    headers: job.headers,
  };
  if (paths.length > 1) {
    const pick = () => paths[Math.floor(Math.random() * paths.length)]!;
    options.requests = [{ setupRequest: (request) => ({ ...request, path: pick() }) }];
  }
  return options;
}

function summarise(result: autocannon.Result): LoadSummary {
  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stats.count ?? 0;
  return {
    requestsPerSecond: result.requests.average,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    seconds: result.duration,
  };
}

async function runJob(job: LoadJob): Promise<LoadSummary> {
  // Warm-up (JIT, connection set-up, database page cache) is run and thrown away.
  if (job.warmupSeconds > 0) await autocannon(optionsFor(job, job.warmupSeconds));
  return summarise(await autocannon(optionsFor(job, job.seconds)));
}

process.once('message', (job: LoadJob) => {
  runJob(job).then(
    (summary) => process.send?.({ ok: true, summary }, () => process.disconnect()),
    (error: unknown) => process.send?.({ ok: false, error: String(error) }, () => process.disconnect()),
  );
});
