// What an open web console costs a broker: its event stream (/api/v1/events, read and
// discarded) and polling of /api/v1/queues and /metrics at a fixed rate each (autocannon
// --overallRate, in its own process), for a duration. The result reads as one HTTP load: the
// requests of both polls, the worse latency, and the stream's failures counted as errors.
import { runHttpLoad, type HttpLoadResult } from './http-load.js';

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

export async function runConsoleLoad(baseUrl: string, durationS: number): Promise<HttpLoadResult & { readonly events: number }> {
  const [queues, metrics, stream] = await Promise.all([
    runHttpLoad(`${baseUrl}/api/v1/queues`, { connections: 1, durationS, overallRate: CONSOLE_POLL_RATE }),
    runHttpLoad(`${baseUrl}/metrics`, { connections: 1, durationS, overallRate: CONSOLE_POLL_RATE }),
    readEvents(`${baseUrl}/api/v1/events`, durationS),
  ]);
  return {
    requests: queues.requests + metrics.requests,
    requestsPerS: queues.requestsPerS + metrics.requestsPerS,
    latencyP50Ms: Math.max(queues.latencyP50Ms, metrics.latencyP50Ms),
    latencyP99Ms: Math.max(queues.latencyP99Ms, metrics.latencyP99Ms),
    latencyMaxMs: Math.max(queues.latencyMaxMs, metrics.latencyMaxMs),
    non2xx: queues.non2xx + metrics.non2xx,
    errors: queues.errors + metrics.errors + (stream.failed || stream.events === 0 ? 1 : 0),
    timeouts: queues.timeouts + metrics.timeouts,
    events: stream.events,
  };
}
