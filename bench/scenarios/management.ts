// Scenario `management`: autocannon against the broker's HTTP management endpoints while a
// durable load runs, and what that costs the messaging. Each row starts a fresh standalone broker
// with --http-port 0. Baselines in the same run: the durable load alone (msgs/s) and the HTTP
// load alone (requests/s). Then both at once: requests/s served and the share of messaging
// throughput lost to them. The HTTP load starts with the broker and lasts the loadgen's warm-up
// plus its window, so it covers the whole measured window; the broker stops only after both end.
import { measureRow } from '../lib/load-row.js';
import { runHttpLoad } from '../lib/http-load.js';
import { CONSOLE_ENDPOINT, runConsoleLoad } from '../lib/console-load.js';
import type { HttpLoadResult } from '../lib/http-load.js';
import { describeMachine } from '../lib/machine.js';
import { processCpuS } from '../lib/proc-cpu.js';
import type { ResultRow, ScenarioResult, TableColumn } from '../lib/results.js';
import type { ScenarioOptions } from '../lib/scenario.js';
import { rowTiming } from '../lib/scenario.js';
import { startBroker } from '../lib/servers.js';
import type { BenchServer } from '../lib/servers.js';
import { median, round } from '../lib/stats.js';

export const name = 'management';
export const description =
  'autocannon against /api/status, /api/v1/queues and /metrics of a standalone broker while a durable 4+4 1 KiB load runs, and an open console (its event stream, /api/v1/queues and /metrics at 10 requests/s each): requests/s, and the messaging throughput lost (tiny: the console only)';

/** The HTTP load of one row: autocannon flat out on an endpoint, or an open console. */
function httpLoad(baseUrl: string, endpoint: string, durationS: number): Promise<HttpLoadResult> {
  return endpoint === CONSOLE_ENDPOINT ? runConsoleLoad(baseUrl, durationS) : runHttpLoad(`${baseUrl}${endpoint}`, { connections: HTTP_CONNECTIONS, durationS });
}

const SHAPE = { sizeBytes: 1024, producers: 4, consumers: 4, durable: true } as const;
const HTTP_CONNECTIONS = 10;
/** Rounds of (load alone, load + console) in a full run. */
const CONSOLE_ROUNDS = 3;
/** The loadgen's attach time before its warm-up, which the HTTP run also covers. */
const ATTACH_ALLOWANCE_S = 0.5;

const columns: readonly TableColumn[] = [
  { key: 'row', header: 'run' },
  { key: 'endpoint', header: 'endpoint' },
  { key: 'msgsPerS', header: 'msgs/s' },
  { key: 'msgsLostPct', header: 'msgs/s lost %', digits: 1 },
  { key: 'e2eP99Ms', header: 'e2e p99 ms', digits: 2 },
  { key: 'requestsPerS', header: 'HTTP requests/s' },
  { key: 'requestsRatio', header: 'requests/s vs HTTP alone', digits: 2 },
  { key: 'httpP50Ms', header: 'HTTP p50 ms' },
  { key: 'httpP99Ms', header: 'HTTP p99 ms' },
  { key: 'httpFailures', header: 'HTTP errors + non-2xx' },
  { key: 'cpuCostPct', header: 'CPU/msg over its round %', digits: 1 },
  { key: 'lost', header: 'lost' },
  { key: 'serverCpuPct', header: 'server CPU %' },
];

function httpFields(result: HttpLoadResult): ResultRow {
  return {
    requestsPerS: result.requestsPerS,
    httpP50Ms: result.latencyP50Ms,
    httpP99Ms: result.latencyP99Ms,
    httpFailures: result.errors + result.non2xx,
    http: result,
  };
}

/** A row's msgs/s and broker CPU per message, when both were measured. */
function figures(row: ResultRow): { msgsPerS: number; cpuUsPerMsg: number } | null {
  const msgsPerS = row['msgsPerS'];
  const cpuPct = row['serverCpuPct'];
  if (typeof msgsPerS !== 'number' || typeof cpuPct !== 'number' || msgsPerS <= 0) return null;
  return { msgsPerS, cpuUsPerMsg: (cpuPct / 100) * 1e6 / msgsPerS };
}

/** The HTTP load alone against a fresh broker, with the broker's CPU over the run. */
async function httpAlone(endpoint: string, durationS: number, log: (line: string) => void): Promise<ResultRow> {
  const broker = await startBroker({ storeSync: 'fsync', http: true });
  try {
    if (broker.httpPort === undefined) throw new Error('the broker did not report an httpPort');
    log(`  broker pid ${broker.pid} http ${broker.httpPort}: autocannon ${endpoint}, ${HTTP_CONNECTIONS} connections, ${durationS} s`);
    const cpuBeforeS = processCpuS(broker.pid);
    const startedMs = performance.now();
    const result = await httpLoad(`http://127.0.0.1:${broker.httpPort}`, endpoint, durationS);
    const cpuAfterS = processCpuS(broker.pid);
    const serverCpuPct = cpuBeforeS !== undefined && cpuAfterS !== undefined ? Math.round(((cpuAfterS - cpuBeforeS) / ((performance.now() - startedMs) / 1000)) * 100) : null;
    log(`    ${result.requestsPerS} requests/s, p50 ${result.latencyP50Ms} ms, p99 ${result.latencyP99Ms} ms`);
    return { row: 'HTTP alone', endpoint, ...httpFields(result), serverCpuPct, ok: result.errors + result.non2xx === 0 && result.requests > 0 };
  } finally {
    await broker.stop();
  }
}

export async function run(options: ScenarioOptions): Promise<ScenarioResult> {
  const machine = describeMachine();
  const timing = rowTiming(options.size);
  // The floods, then the console (the target) in interleaved rounds of its own.
  const endpoints = options.size === 'tiny' ? [] : ['/api/status', '/api/v1/queues', '/metrics'];
  const httpDurationS = Math.ceil(timing.warmupS + timing.durationS + ATTACH_ALLOWANCE_S);
  const notes: string[] = [
    `load average (1 min) at start: ${machine.loadAverage1m}`,
    `AMQP load: durable 1 KiB 4+4 at-least-once, unthrottled; HTTP load: autocannon, ${HTTP_CONNECTIONS} connections, ${httpDurationS} s from the broker's start, covering the AMQP warm-up and window`,
  ];
  const rows: ResultRow[] = [];
  let ok = true;

  options.log('durable load alone:');
  const alone = await measureRow({ row: 'durable load alone', endpoint: '-' }, () => startBroker({ storeSync: 'fsync', http: true }), { ...SHAPE, ...timing }, options.log);
  rows.push(alone.row);
  ok &&= alone.ok;
  // The full run measures the load alone again at the end and compares with the mean of the two,
  // so that a machine that got busier (or quieter) during the run does not pass for an effect.
  let aloneMsgsPerS = typeof alone.row['msgsPerS'] === 'number' ? alone.row['msgsPerS'] : null;

  /** The durable load with an HTTP load on the same broker: msgs/s, and requests/s served. */
  async function loadWithHttp(endpoint: string, httpAloneRate: number, label = 'durable load + HTTP'): Promise<ResultRow> {
    options.log(`${label} (${endpoint}):`);
    let http: Promise<HttpLoadResult> | undefined;
    const start = async (): Promise<BenchServer> => {
      const broker = await startBroker({ storeSync: 'fsync', http: true });
      if (broker.httpPort === undefined) throw new Error('the broker did not report an httpPort');
      const running = httpLoad(`http://127.0.0.1:${broker.httpPort}`, endpoint, httpDurationS);
      http = running;
      running.catch(() => undefined);
      // measureRow stops the broker when the loadgen ends: not before the HTTP run has ended too.
      return { ...broker, stop: () => running.catch(() => undefined).then(() => broker.stop()) };
    };
    const both = await measureRow({ row: label, endpoint }, start, { ...SHAPE, ...timing }, options.log);
    let httpResult: HttpLoadResult | undefined;
    try {
      httpResult = http ? await http : undefined;
    } catch (err) {
      notes.push(`${endpoint} under load: autocannon failed: ${(err as Error).message.split('\n')[0]}`);
    }
    const msgsPerS = typeof both.row['msgsPerS'] === 'number' ? both.row['msgsPerS'] : null;
    const row: ResultRow = {
      ...both.row,
      ...(httpResult ? httpFields(httpResult) : {}),
      requestsRatio: httpResult && httpAloneRate ? round(httpResult.requestsPerS / httpAloneRate, 2) : null,
    };
    const rowOk = both.ok && httpResult !== undefined && httpResult.errors + httpResult.non2xx === 0 && httpResult.requests > 0;
    ok &&= rowOk;
    if (!rowOk) notes.push(`durable load + ${endpoint}: ${String(both.row['problem'] ?? 'HTTP errors')}`);
    if (httpResult) options.log(`    ${httpResult.requestsPerS} requests/s (p99 ${httpResult.latencyP99Ms} ms) beside ${msgsPerS} msg/s`);
    return row;
  }

  for (const endpoint of endpoints) {
    options.log(`${endpoint} alone:`);
    // Alone, the HTTP rate needs no warm-up to cover: the window alone (a second when tiny).
    const httpRow = await httpAlone(endpoint, options.size === 'tiny' ? 1 : Math.ceil(timing.durationS), options.log);
    rows.push(httpRow);
    ok &&= httpRow['ok'] === true;
    const httpAloneRate = httpRow['requestsPerS'] as number;

    const row = await loadWithHttp(endpoint, httpAloneRate);
    rows.push(row);
  }

  // The console, the target (under 5%), in CONSOLE_ROUNDS rounds of the load alone then
  // the load with an open console, back to back, so that a machine that gets busier or quieter
  // moves both rows of a round. Its cost is the median over the rounds of each round's loss, in
  // msgs/s and in broker CPU per message (the steadier of the two when other tenants take the
  // cores). The console's own polling runs in this harness process, on the same 2 cores.
  options.log(`${CONSOLE_ENDPOINT} alone:`);
  const consoleAlone = await httpAlone(CONSOLE_ENDPOINT, options.size === 'tiny' ? 1 : Math.ceil(timing.durationS), options.log);
  rows.push(consoleAlone);
  ok &&= consoleAlone['ok'] === true;
  const consoleRounds = options.size === 'tiny' ? 1 : CONSOLE_ROUNDS;
  const roundLosses: number[] = [];
  const roundCpuCosts: number[] = [];
  for (let i = 1; i <= consoleRounds; i++) {
    const alone = await measureRow({ row: `round ${i}: load alone`, endpoint: '-' }, () => startBroker({ storeSync: 'fsync', http: true }), { ...SHAPE, ...timing }, options.log);
    rows.push(alone.row);
    ok &&= alone.ok;
    const withConsole = await loadWithHttp(CONSOLE_ENDPOINT, consoleAlone['requestsPerS'] as number, `round ${i}: load + console`);
    rows.push(withConsole);
    const a = figures(alone.row);
    const c = figures(withConsole);
    if (a && c) {
      const lossPct = round((1 - c.msgsPerS / a.msgsPerS) * 100, 1) as number;
      const cpuCostPct = round((c.cpuUsPerMsg / a.cpuUsPerMsg - 1) * 100, 1) as number;
      (withConsole as Record<string, unknown>)['msgsLostPct'] = lossPct;
      (withConsole as Record<string, unknown>)['cpuCostPct'] = cpuCostPct;
      roundLosses.push(lossPct);
      roundCpuCosts.push(cpuCostPct);
    }
  }
  const consoleLossPct = round(median(roundLosses), 1);
  const consoleCpuCostPct = round(median(roundCpuCosts), 1);
  notes.push(
    `an open console (${CONSOLE_ENDPOINT}) cost the durable load ${String(consoleLossPct)}% of its msgs/s (median of ${roundLosses.length} rounds: ${roundLosses.join(', ')}) and ${String(consoleCpuCostPct)}% more broker CPU per message (rounds: ${roundCpuCosts.join(', ')}); the target is under 5%`,
  );

  if (options.size === 'full') {
    options.log('durable load alone, again:');
    const again = await measureRow({ row: 'durable load alone (again)', endpoint: '-' }, () => startBroker({ storeSync: 'fsync', http: true }), { ...SHAPE, ...timing }, options.log);
    rows.push(again.row);
    ok &&= again.ok;
    const againMsgsPerS = typeof again.row['msgsPerS'] === 'number' ? again.row['msgsPerS'] : null;
    if (aloneMsgsPerS !== null && againMsgsPerS !== null) {
      notes.push(`durable load alone: ${aloneMsgsPerS} msg/s first, ${againMsgsPerS} msg/s last; the loss is computed against their mean`);
      aloneMsgsPerS = (aloneMsgsPerS + againMsgsPerS) / 2;
    }
  }
  // The messaging throughput each HTTP load cost, against the baseline measured in this run.
  for (const row of rows) {
    if (row['row'] !== 'durable load + HTTP') continue;
    const msgsPerS = typeof row['msgsPerS'] === 'number' ? row['msgsPerS'] : null;
    const lostPct = msgsPerS !== null && aloneMsgsPerS ? round((1 - msgsPerS / aloneMsgsPerS) * 100, 1) : null;
    (row as Record<string, unknown>)['msgsLostPct'] = lostPct;
    const noise = lostPct !== null && lostPct < 0 ? ' (negative: it ran faster than alone, i.e. no cost beyond the noise)' : '';
    notes.push(`${String(row['endpoint'])} at ${String(row['requestsPerS'])} requests/s cost the durable load ${String(lostPct)}% of its msgs/s${noise}`);
  }
  const categories = ['durable load alone', ...endpoints.map((e) => `+ ${e}`), '+ console (median round)'];
  return {
    scenario: name,
    size: options.size,
    machine,
    rows,
    columns,
    ok,
    notes,
    chart: {
      kind: 'bar',
      title: 'Durable 4+4 1 KiB msgs/s, alone and under HTTP management load',
      yLabel: 'messages per second (received)',
      categories,
      series: [
        {
          name: 'durable msgs/s',
          values: [aloneMsgsPerS, ...endpoints.map((e) => {
            const row = rows.find((r) => r['row'] === 'durable load + HTTP' && r['endpoint'] === e);
            return row && typeof row['msgsPerS'] === 'number' ? row['msgsPerS'] : null;
          }), consoleLossPct !== null && aloneMsgsPerS ? Math.round(aloneMsgsPerS * (1 - consoleLossPct / 100)) : null],
        },
        {
          name: 'HTTP requests/s (same run)',
          values: [null, ...endpoints.map((e) => {
            const row = rows.find((r) => r['row'] === 'durable load + HTTP' && r['endpoint'] === e);
            return row && typeof row['requestsPerS'] === 'number' ? row['requestsPerS'] : null;
          }), null],
        },
      ],
    },
  };
}
