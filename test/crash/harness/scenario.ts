// One crash run: start the brokers, a consumer and producers as separate processes, inject a
// seeded sequence of faults while messages flow, stop the producers, let the consumer drain
// everything that was accepted, and hand the history to the checker. When the check fails (or
// the run breaks), the history, the verdict and the brokers' logs are written to a directory
// under os.tmpdir() whose path is returned, so that the run can be studied and replayed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom, type Random } from '../../../src/core/random.js';
import { ClusterBrokers, StandaloneBrokers, type Incarnation } from './brokers.js';
import { check, type Verdict } from './checker.js';
import type { ConsumerArgs, ProducerArgs } from './client-args.js';
import { startConsumer, startProducer, type ClientProcess } from './client-process.js';
import { clusterFault, standaloneKill, type ClusterFault, type FaultContext, type FaultRecord } from './faults.js';
import { HistoryTail, HistoryWriter, historyPath, readHistory } from './history.js';

export interface ScenarioSpec {
  readonly name: string;
  readonly topology: 'standalone' | 'cluster';
  /** Cluster faults to choose from, at random (ignored for standalone). */
  readonly faultKinds: readonly ClusterFault[];
  readonly faultCount: number;
  readonly producers: number;
  readonly producerRatePerS: number;
  /** 0: as fast as messages come. Slower than the producers, the queue deepens, which makes
   * catch-up (snapshot and log) long enough to be interrupted. */
  readonly consumerRatePerS: number;
  readonly bodyBytes: number;
  /** Traffic between faults, drawn at random in this range. */
  readonly gapMs: readonly [number, number];
  /** Let a hang end with a promotion and no fencing (faults.ts, primary-hang). */
  readonly unfencedHangs?: boolean;
  /** Standalone only: delete the store at each kill. Loses messages on purpose, so that the
   * suite can show that it fails a run that loses messages. */
  readonly sabotageWipeStore?: boolean;
}

export interface ScenarioResult {
  readonly name: string;
  readonly seed: number;
  readonly ok: boolean;
  readonly verdict: Verdict | null;
  readonly faults: readonly FaultRecord[];
  readonly durationMs: number;
  /** Set when the run broke (a broker did not recover, a client crashed). */
  readonly error?: string;
  /** Where the history and verdict were written (failed runs, or CRASH_KEEP=1). */
  readonly reportDir?: string;
}

const HEARTBEAT_S = 1;
const CLUSTER_SIZE = 3;
/** After the producers stop, how long the consumer may take to receive every accepted message. */
const DRAIN_MS_MAX = 45_000;
const BROKEN_DRAIN_MS_MAX = 10_000;
/** The drain ends early when a connected consumer has received nothing for this long. */
const DRAIN_IDLE_MS = 5000;
const FIRST_RECEIPT_MS_MAX = 20_000;
const PRODUCER_STOP_MS_MAX = 75_000;
const RECONNECT_MS_MAX = 20_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A scenario's own seed, from the run's seed and its name: scenarios stay reproducible one by one. */
export function scenarioSeed(seed: number, name: string): number {
  let hash = seed >>> 0;
  for (const char of name) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return hash;
}

interface Run {
  readonly spec: ScenarioSpec;
  readonly dir: string;
  readonly history: HistoryWriter;
  readonly random: Random;
  readonly producers: ClientProcess[];
  consumer: ClientProcess | null;
  /** Each client's history, followed; and whether its last connection event was a connect. */
  readonly tails: Map<string, { tail: HistoryTail; connected: boolean }>;
}

export async function runScenario(spec: ScenarioSpec, seed: number, options: { keep?: boolean; log?: (line: string) => void } = {}): Promise<ScenarioResult> {
  const startedMs = performance.now();
  const dir = mkdtempSync(join(tmpdir(), `qpidd-crash-${spec.name}-`));
  const history = new HistoryWriter(dir, 'harness');
  const run: Run = { spec, dir, history, random: seededRandom(seed), producers: [], consumer: null, tails: new Map() };
  history.write({ kind: 'note', text: `seed=${seed} scenario=${spec.name}`, detail: { spec } });
  const faults: FaultRecord[] = [];
  let brokers: StandaloneBrokers | ClusterBrokers | null = null;
  let error: string | undefined;
  try {
    brokers = spec.topology === 'standalone' ? await StandaloneBrokers.start() : await ClusterBrokers.start(CLUSTER_SIZE, HEARTBEAT_S);
    startClients(run, brokers.url);
    await waitForFirstReceipt(run);
    const ctx: FaultContext = { random: run.random, history, heartbeatS: HEARTBEAT_S };
    for (let n = 0; n < spec.faultCount; n++) {
      await sleep(run.random.int(spec.gapMs[0], spec.gapMs[1]));
      assertClientsRunning(run);
      const fault = brokers instanceof ClusterBrokers ? await clusterFault(run.random.pick(spec.faultKinds), brokers, ctx, { unfencedHangs: spec.unfencedHangs === true }) : await standaloneKill(brokers, ctx, { wipeStore: spec.sabotageWipeStore === true });
      faults.push(fault);
      await waitForClientsConnected(run);
      options.log?.(`${spec.name}: fault ${n + 1}/${spec.faultCount} ${fault.kind} ${fault.target} recovered in ${fault.recoveryMs} ms ${JSON.stringify(fault.detail)}`);
    }
    await sleep(run.random.int(spec.gapMs[0], spec.gapMs[1]));
    assertClientsRunning(run);
  } catch (err) {
    error = (err as Error).stack ?? String(err);
    history.write({ kind: 'note', text: `run broke: ${(err as Error).message}` });
  }
  try {
    // After a broken run the brokers may never serve again: drain briefly, so that the report
    // still tells loss apart from messages the consumer had not reached yet.
    await finishClients(run, brokers !== null ? (error === undefined ? DRAIN_MS_MAX : BROKEN_DRAIN_MS_MAX) : 0);
  } catch (err) {
    error ??= (err as Error).stack ?? String(err);
  }
  history.close();
  const verdict = safeCheck(dir);
  // Beyond the durability contract, but a broker that never settles a message, or refuses one
  // for no reason, is broken too: said in the result, and the run fails.
  const counts = verdict.verdict?.counts;
  if (error === undefined && counts && counts.unsettled > 0) error = `${counts.unsettled} message(s) were never settled to their producers (the brokers were whole again)`;
  if (error === undefined && counts && counts.notAccepted > 0) error = `${counts.notAccepted} message(s) were settled as rejected, released or modified`;
  const ok = error === undefined && verdict.verdict !== null && verdict.verdict.ok;
  const result: ScenarioResult = {
    name: spec.name,
    seed,
    ok,
    verdict: verdict.verdict,
    faults,
    durationMs: Math.round(performance.now() - startedMs),
    ...(error !== undefined || verdict.error !== undefined ? { error: [error, verdict.error].filter(Boolean).join('\n') } : {}),
  };
  const keep = !ok || options.keep === true;
  if (keep) writeReport(dir, result, brokers?.incarnations ?? [], run);
  await brokers?.stop().catch(() => undefined);
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return keep ? { ...result, reportDir: dir } : result;
}

function startClients(run: Run, url: string): void {
  const { spec } = run;
  const queue = `crash-${spec.name}`;
  const common = {
    url,
    queue,
    historyDir: run.dir,
    heartbeatS: HEARTBEAT_S,
    reconnectDelayMsMax: 500,
    node: { type: 'queue' as const, durable: true, arguments: spec.topology === 'cluster' ? { 'qpid.replicate': 'all' } : {} },
  };
  const consumerArgs: ConsumerArgs = { ...common, id: 'c1', credit: 100, ratePerS: spec.consumerRatePerS };
  run.consumer = startConsumer(consumerArgs);
  for (let i = 1; i <= spec.producers; i++) {
    const producerArgs: ProducerArgs = { ...common, id: `p${i}`, ratePerS: spec.producerRatePerS, bodyBytes: spec.bodyBytes, capacity: 1000 };
    run.producers.push(startProducer(producerArgs));
  }
}

function exitedEarly(client: ClientProcess): boolean {
  return client.child.exitCode !== null || client.child.signalCode !== null;
}

function assertClientsRunning(run: Run): void {
  for (const client of [...run.producers, ...(run.consumer ? [run.consumer] : [])]) {
    if (exitedEarly(client)) throw new Error(`client ${client.id} exited during the run (code ${client.child.exitCode}, signal ${client.child.signalCode}): ${client.stderr().slice(-2000)}`);
  }
}

/** The next fault waits until every client is connected again, so that each fault hits clients
 * in the middle of their work rather than in a reconnect back-off. */
async function waitForClientsConnected(run: Run): Promise<void> {
  const deadline = performance.now() + RECONNECT_MS_MAX;
  for (;;) {
    const waiting: string[] = [];
    for (const client of [...run.producers, ...(run.consumer ? [run.consumer] : [])]) {
      let followed = run.tails.get(client.id);
      if (!followed) run.tails.set(client.id, (followed = { tail: new HistoryTail(historyPath(run.dir, client.id), client.id), connected: false }));
      for (const event of followed.tail.poll()) {
        if (event.kind === 'connect') followed.connected = true;
        else if (event.kind === 'disconnect') followed.connected = false;
      }
      if (!followed.connected) waiting.push(client.id);
    }
    if (waiting.length === 0) return;
    assertClientsRunning(run);
    if (performance.now() > deadline) throw new Error(`clients ${waiting.join(', ')} did not reconnect within ${RECONNECT_MS_MAX} ms of the brokers recovering`);
    await sleep(25);
  }
}

/** Faults start once messages are flowing end to end. */
async function waitForFirstReceipt(run: Run): Promise<void> {
  const tail = new HistoryTail(historyPath(run.dir, 'c1'), 'c1');
  const deadline = performance.now() + FIRST_RECEIPT_MS_MAX;
  while (!tail.poll().some((e) => e.kind === 'receive')) {
    assertClientsRunning(run);
    if (performance.now() > deadline) throw new Error(`no message reached the consumer within ${FIRST_RECEIPT_MS_MAX} ms`);
    await sleep(50);
  }
}

/**
 * Producers stop and wait for their last settlements; then the consumer runs until it has
 * received every message settled as accepted (or has received nothing for a while, or the drain
 * deadline passes: the checker then names what is missing), and stops.
 */
async function finishClients(run: Run, drainMs: number): Promise<void> {
  const stops = await Promise.all(run.producers.map((p) => p.stop(PRODUCER_STOP_MS_MAX)));
  stops.forEach((result, i) => {
    if (result.code !== 0) run.history.write({ kind: 'note', text: `producer p${i + 1} exited with ${result.code ?? result.signal}: ${run.producers[i]?.stderr().slice(-500)}` });
  });
  const consumer = run.consumer;
  if (!consumer) return;
  if (drainMs > 0 && !exitedEarly(consumer)) {
    consumer.signal('SIGUSR2');
    const accepted = new Set<string>();
    for (const event of readHistory(run.dir)) {
      if (event.kind === 'settle' && event.outcome === 'accepted') accepted.add(`${event.producer}:${event.sn}`);
    }
    const tail = new HistoryTail(historyPath(run.dir, 'c1'), 'c1');
    const deadline = performance.now() + drainMs;
    let connected = true;
    let lastReceiptMs = performance.now();
    while (accepted.size > 0 && performance.now() < deadline && !exitedEarly(consumer)) {
      for (const event of tail.poll()) {
        if (event.kind === 'receive') {
          accepted.delete(`${event.producer}:${event.sn}`);
          lastReceiptMs = performance.now();
        } else if (event.kind === 'connect') connected = true;
        else if (event.kind === 'disconnect') connected = false;
      }
      // Connected, and nothing more for a while: the queue is empty, and what is missing is lost.
      if (connected && performance.now() - lastReceiptMs > DRAIN_IDLE_MS) break;
      if (accepted.size > 0) await sleep(100);
    }
    // A little longer, so that late duplicates are in the history too.
    await sleep(300);
  }
  const result = await consumer.stop(10_000);
  if (result.code !== 0) run.history.write({ kind: 'note', text: `consumer exited with ${result.code ?? result.signal}: ${consumer.stderr().slice(-500)}` });
}

function safeCheck(dir: string): { verdict: Verdict | null; error?: string } {
  try {
    return { verdict: check(readHistory(dir)) };
  } catch (err) {
    return { verdict: null, error: `the history could not be checked: ${(err as Error).message}` };
  }
}

/** Writes what a failed run needs to be studied: the merged history, the verdict and the
 * brokers' logs (every incarnation), beside the per-writer history files. */
function writeReport(dir: string, result: ScenarioResult, incarnations: readonly Incarnation[], run: Run): void {
  const events = readHistory(dir);
  writeFileSync(join(dir, 'history.jsonl'), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  writeFileSync(join(dir, 'verdict.json'), `${JSON.stringify({ ...result, reportDir: dir }, null, 2)}\n`);
  const brokerLines: string[] = [];
  incarnations.forEach((incarnation, n) => {
    for (const line of incarnation.broker.logs) brokerLines.push(JSON.stringify({ broker: incarnation.name, incarnation: n, ...line }));
    const stderr = incarnation.broker.stderr();
    if (stderr) brokerLines.push(JSON.stringify({ broker: incarnation.name, incarnation: n, stderr }));
  });
  writeFileSync(join(dir, 'brokers.jsonl'), brokerLines.join('\n') + '\n');
  const clientErrors = [...run.producers, ...(run.consumer ? [run.consumer] : [])].map((c) => ({ id: c.id, stderr: c.stderr() })).filter((c) => c.stderr);
  if (clientErrors.length > 0) writeFileSync(join(dir, 'clients-stderr.json'), `${JSON.stringify(clientErrors, null, 2)}\n`);
}
