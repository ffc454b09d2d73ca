// The load generator of the benchmarks: runs autocannon against one route and
// reports a summary to its parent. It runs in its own process (bench/lib.ts
// forks it) so the load it makes does not share the event loop, heap or
// garbage collector of the server it measures.
import autocannon from 'autocannon';
import type { LoadJob, LoadSummary } from './lib.js';

type SetupRequest = (request: autocannon.Request) => autocannon.Request;

/** autocannon options for a job: one fixed path, a random path from the list, or a request source module. */
function optionsFor(job: LoadJob, seconds: number, source: SetupRequest | null): autocannon.Options {
  const { paths } = job;
  const options: autocannon.Options = {
    url: job.url + (paths[0] ?? '/'),
    connections: job.connections,
    duration: seconds,
    headers: job.headers,
  };
  if (source) {
    options.requests = [{ setupRequest: source }];
  } else if (paths.length > 1) {
    const pick = () => paths[Math.floor(Math.random() * paths.length)]!;
    options.requests = [{ setupRequest: (request) => ({ ...request, path: pick() }) }];
  }
  return options;
}

function summarise(result: autocannon.Result, cpu: NodeJS.CpuUsage): LoadSummary {
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
    clientCpuMicrosPerRequest: (cpu.user + cpu.system) / Math.max(1, result.requests.total),
  };
}

async function loadSource(job: LoadJob): Promise<SetupRequest | null> {
  if (!job.requestSource) return null;
  const module = (await import(job.requestSource.module)) as { createRequestSource(data: unknown): SetupRequest };
  return module.createRequestSource(job.requestSource.data);
}

async function runJob(job: LoadJob): Promise<LoadSummary> {
  const source = await loadSource(job);
  // Warm-up (JIT, connection set-up, database page cache) is run and thrown away.
  if (job.warmupSeconds > 0) await autocannon(optionsFor(job, job.warmupSeconds, source));
  const cpu = process.cpuUsage();
  const result = await autocannon(optionsFor(job, job.seconds, source));
  return summarise(result, process.cpuUsage(cpu));
}

process.once('message', (job: LoadJob) => {
  runJob(job).then(
    (summary) => process.send?.({ ok: true, summary }, () => process.disconnect()),
    (error: unknown) => process.send?.({ ok: false, error: String(error) }, () => process.disconnect()),
  );
});
