// What an open web console costs a broker: its event stream (/api/v1/events, read and
// discarded) and polling of /api/v1/queues and /metrics at a fixed rate each, for a duration.
// A console is one light client: the polls run here in the harness (fetch, paced), not in
// autocannon processes, whose start-up alone would take the CPU of a short run on 2 cores. The
// result reads as one HTTP load: the requests of both polls, their latency, and the stream's
// failures counted as errors.
import type { HttpLoadResult } from './http-load.js';

/** Requests per second of each poll: a console refreshing its views, and a fast scraper. */
export const CONSOLE_POLL_RATE = 10;
export const CONSOLE_ENDPOINT = 'console (SSE + /api/v1/queues + /metrics at 10/s each)';

async function readEvents(url: string, durationS: number): Promise<{ events: number; failed: boolean }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), durationS * 1000);
  let events = 0;
  try {
    const response = await fetch(url, { signal: controller.signal });
    if (!response.ok || !response.body) return { events, failed: true };
    const reader = response.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { events, failed: true };
      events += Buffer.from(value).toString('utf8').split('\n\n').length - 1;
    }
  } catch (err) {
    return { events, failed: (err as Error).name !== 'AbortError' };
  } finally {
    clearTimeout(timer);
  }
}

/** GETs `url` every 1/rate seconds for the duration (one at a time: a slow answer delays the
 * next), recording each latency. */
async function poll(url: string, ratePerS: number, durationS: number): Promise<{ latenciesMs: number[]; failures: number }> {
  const latenciesMs: number[] = [];
  let failures = 0;
  const endMs = performance.now() + durationS * 1000;
  let nextMs = performance.now();
  while (performance.now() < endMs) {
    const startedMs = performance.now();
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (!response.ok) failures++;
    } catch {
      failures++;
    }
    latenciesMs.push(performance.now() - startedMs);
    nextMs += 1000 / ratePerS;
    const waitMs = nextMs - performance.now();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
  return { latenciesMs, failures };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? 0 : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number);
}

export async function runConsoleLoad(baseUrl: string, durationS: number): Promise<HttpLoadResult & { readonly events: number }> {
  const [queues, metrics, stream] = await Promise.all([
    poll(`${baseUrl}/api/v1/queues`, CONSOLE_POLL_RATE, durationS),
    poll(`${baseUrl}/metrics`, CONSOLE_POLL_RATE, durationS),
    readEvents(`${baseUrl}/api/v1/events`, durationS),
  ]);
  const latencies = [...queues.latenciesMs, ...metrics.latenciesMs].sort((a, b) => a - b);
  return {
    requests: latencies.length,
    requestsPerS: Math.round(latencies.length / durationS),
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP99Ms: percentile(latencies, 0.99),
    latencyMaxMs: Math.round(latencies[latencies.length - 1] ?? 0),
    non2xx: 0,
    errors: queues.failures + metrics.failures + (stream.failed || stream.events === 0 ? 1 : 0),
    timeouts: 0,
    events: stream.events,
  };
}
