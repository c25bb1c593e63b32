// One measured row: start a fresh server, run the load generator against it as a separate
// process, stop the server, and flatten the result into a table row. A row that fails (the server
// would not start, crashed, or the loadgen could not attach) is still a row, with `ok: false` and
// the reason, so one bad configuration does not hide the others.
import type { LoadgenOptions } from './loadgen-options.js';
import { LOADGEN_DEFAULTS, loadgenArgs } from './loadgen-options.js';
import type { LoadgenResult } from './loadgen-result.js';
import { loadgenScript } from './paths.js';
import { runJsonProcess } from './process.js';
import { processCpuS } from './proc-cpu.js';
import type { ResultRow } from './results.js';
import type { BenchServer } from './servers.js';

/** What a row varies; everything else takes the loadgen's defaults. */
export type LoadShape = Partial<Omit<LoadgenOptions, 'host' | 'port' | 'tls'>> &
  Pick<LoadgenOptions, 'producers' | 'consumers' | 'sizeBytes' | 'durationS' | 'warmupS'>;

/** Runs the loadgen process and returns its JSON result (exit status 0 or 2 both carry one). */
export async function runLoadgen(options: LoadgenOptions): Promise<LoadgenResult> {
  const timeoutMs = (options.warmupS + options.durationS + options.drainS) * 1000 + 30_000;
  const run = await runJsonProcess<LoadgenResult | { msg: 'loadgen failed'; error: string }>(
    [loadgenScript, ...loadgenArgs(options)],
    timeoutMs,
  );
  if (run.value.msg !== 'loadgen result') {
    throw new Error(`loadgen failed: ${'error' in run.value ? run.value.error : JSON.stringify(run.value)}`);
  }
  return run.value;
}

export function sizeLabel(bytes: number): string {
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

export function shapeLabel(shape: Pick<LoadShape, 'sizeBytes' | 'producers' | 'consumers'>): string {
  return `${sizeLabel(shape.sizeBytes)} ${shape.producers}+${shape.consumers}`;
}

/** Flattens a loadgen result into table fields (msgs/s is what consumers received). */
export function loadRowFields(result: LoadgenResult): ResultRow {
  const e2e = result.latencyMs.endToEnd;
  const settle = result.latencyMs.settle;
  return {
    msgsPerS: result.receivedMsgsPerS,
    sentMsgsPerS: result.sentMsgsPerS,
    acceptedMsgsPerS: result.acceptedMsgsPerS,
    mibPerS: result.receivedMiBPerS,
    e2eP50Ms: e2e.p50,
    e2eP99Ms: e2e.p99,
    e2eP999Ms: e2e.p999,
    e2eMaxMs: e2e.max,
    settleP50Ms: result.lossChecked ? settle.p50 : null,
    settleP99Ms: result.lossChecked ? settle.p99 : null,
    lost: result.counts.lost,
    duplicates: result.counts.duplicates,
    errors: result.errors,
    loadgenCpuPct: result.cpu.pctOfCore,
  };
}

export interface MeasuredRow {
  readonly row: ResultRow;
  readonly ok: boolean;
  readonly result?: LoadgenResult;
}

/**
 * Measures one configuration on a freshly started server. `label` fields (server, durability, ...)
 * are copied into the row first so the table can name the configuration.
 */
export async function measureRow(
  label: ResultRow,
  start: () => Promise<BenchServer>,
  shape: LoadShape,
  log: (line: string) => void,
): Promise<MeasuredRow> {
  const base = { ...label, shape: shapeLabel(shape), sizeBytes: shape.sizeBytes, producers: shape.producers, consumers: shape.consumers };
  let server: BenchServer | undefined;
  try {
    server = await start();
    // A server with a TLS port is measured through it (and logged in to when shape.user is set).
    const options: LoadgenOptions = { ...LOADGEN_DEFAULTS, ...shape, host: server.host, port: server.sslPort ?? server.port, ...(server.sslPort !== undefined ? { tls: true } : {}) };
    log(`  ${server.kind} pid ${server.pid} port ${server.port}: ${shapeLabel(shape)}, durable ${options.durable ? 'yes' : 'no'}, ${options.settle}, ${options.durationS} s`);
    const peerPids = server.peerPids ?? [];
    const cpuBeforeS = processCpuS(server.pid);
    const peerCpuBeforeS = peerPids.map(processCpuS);
    const wallBeforeMs = performance.now();
    const result = await runLoadgen(options);
    const cpuAfterS = processCpuS(server.pid);
    const peerCpuAfterS = peerPids.map(processCpuS);
    // Average over the whole loadgen run (connect, warm-up, window, drain), in % of one core.
    const wallS = (performance.now() - wallBeforeMs) / 1000;
    const serverCpuPct = cpuBeforeS !== undefined && cpuAfterS !== undefined ? Math.round(((cpuAfterS - cpuBeforeS) / wallS) * 100) : null;
    const peerCpuPct = peerPids.length > 0 ? Math.round((peerPids.reduce((sum, _, i) => sum + ((peerCpuAfterS[i] ?? 0) - (peerCpuBeforeS[i] ?? 0)), 0) / wallS) * 100) : null;
    const crashed = server.exitedEarly();
    const ok = result.ok && !crashed;
    const problem = crashed ? 'server exited during the run' : result.ok ? undefined : describeFailure(result);
    log(
      `    ${result.receivedMsgsPerS} msg/s, e2e p50 ${result.latencyMs.endToEnd.p50} ms p99 ${result.latencyMs.endToEnd.p99} ms, ` +
        `server CPU ${serverCpuPct ?? '?'}%, loadgen CPU ${result.cpu.pctOfCore}%${problem ? `; ${problem}` : ''}`,
    );
    return { ok, result, row: { ...base, ...loadRowFields(result), serverCpuPct, ...(peerCpuPct === null ? {} : { peerCpuPct }), ok, problem: problem ?? null, detail: result } };
  } catch (err) {
    const problem = (err as Error).message.split('\n')[0] as string;
    log(`    failed: ${(err as Error).message}`);
    return { ok: false, row: { ...base, msgsPerS: null, ok: false, problem } };
  } finally {
    if (server) {
      const status = await server.stop();
      if (status.code !== 0 && status.signal !== 'SIGTERM') {
        log(`    ${server.kind} exited with code ${status.code} signal ${status.signal} on SIGTERM`);
      }
    }
  }
}

function describeFailure(result: LoadgenResult): string {
  const parts: string[] = [];
  if (result.counts.lost > 0) parts.push(`${result.counts.lost} lost`);
  if (!result.drained) parts.push(`drain incomplete after ${result.drainMs} ms (${result.counts.unsettled} unsettled)`);
  if (result.errorSamples.length > 0) parts.push(result.errorSamples[0] as string);
  return parts.join('; ') || 'not ok';
}
