// HTTP load with autocannon, run as its own process (autocannon's CLI with --json), so that the
// broker, the AMQP load generator and the HTTP load each have their own event loop, as separate
// clients would.
import { createRequire } from 'node:module';
import { runJsonProcess } from './process.js';

const require = createRequire(import.meta.url);

export interface HttpLoadResult {
  readonly requests: number;
  readonly requestsPerS: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly latencyMaxMs: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}

interface AutocannonJson {
  readonly duration: number;
  readonly requests: { readonly total: number };
  readonly latency: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}

/** `overallRate`: requests per second across all connections (absent: as fast as answered). */
export async function runHttpLoad(url: string, options: { readonly connections: number; readonly durationS: number; readonly overallRate?: number }): Promise<HttpLoadResult> {
  const script = require.resolve('autocannon/autocannon.js');
  const rate = options.overallRate !== undefined ? ['--overallRate', String(options.overallRate)] : [];
  const run = await runJsonProcess<AutocannonJson>(
    [script, '--connections', String(options.connections), '--duration', String(options.durationS), ...rate, '--json', url],
    (options.durationS + 30) * 1000,
  );
  const value = run.value;
  return {
    requests: value.requests.total,
    requestsPerS: Math.round(value.requests.total / (value.duration || options.durationS)),
    latencyP50Ms: value.latency.p50,
    latencyP99Ms: value.latency.p99,
    latencyMaxMs: value.latency.max,
    non2xx: value.non2xx,
    errors: value.errors,
    timeouts: value.timeouts,
  };
}
