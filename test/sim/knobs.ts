// Every knob of a run, drawn from its seed (STYLE.md 7): cluster size, timings, disk and network
// speeds, fault rates and durations, the clients and what they send, the operator's configuration
// changes, and whether the cluster manager is a bad one. Printing the knobs is part of the trace.

import type { BrokerKnobs } from './broker.js';
import type { ManagerKnobs } from './manager.js';
import type { NetworkKnobs } from './network.js';
import type { AdminOp } from './protocol.js';
import { stream, uniform } from './world.js';

export interface ProducerKnobs {
  readonly name: string;
  readonly queue: string;
  readonly total: number;
  readonly window: number;
  readonly intervalMs: number;
  readonly startMs: number;
}

export interface ConsumerKnobs {
  readonly name: string;
  readonly queue: string;
  readonly credit: number;
  readonly processMs: number;
  readonly releaseRate: number;
  readonly startMs: number;
}

export interface FaultKnobs {
  /** Mean time between faults in the safety phase. */
  readonly meanIntervalMs: number;
  /** Relative weights of the fault kinds. */
  readonly weights: Readonly<Record<FaultKind, number>>;
  readonly pauseMsMax: number;
  readonly partitionMsMax: number;
  readonly slowDiskFactorMax: number;
}

export type FaultKind = 'crash-primary' | 'crash-any' | 'pause' | 'isolate' | 'split' | 'one-way' | 'client-link' | 'reset' | 'slow-disk';

export const FAULT_KINDS: readonly FaultKind[] = ['crash-primary', 'crash-any', 'pause', 'isolate', 'split', 'one-way', 'client-link', 'reset', 'slow-disk'];

export interface Knobs {
  readonly seed: number;
  readonly brokers: readonly string[];
  readonly broker: BrokerKnobs;
  readonly network: NetworkKnobs;
  readonly manager: ManagerKnobs;
  readonly badManager: boolean;
  readonly faults: FaultKnobs;
  readonly clientHeartbeatMs: number;
  readonly reconnectMs: number;
  readonly queues: readonly string[];
  readonly producers: readonly ProducerKnobs[];
  readonly consumers: readonly ConsumerKnobs[];
  readonly adminOps: readonly { readonly atMs: number; readonly op: AdminOp }[];
  readonly safetyMs: number;
  readonly livenessMs: number;
}

export function drawKnobs(seed: number, overrides: { readonly badManager?: boolean } = {}): Knobs {
  const rng = stream(seed, 'knobs');
  const size = rng.int(2, 5);
  const brokers = Array.from({ length: size }, (_, i) => `b${i}`);
  const heartbeatMs = Math.round(uniform(rng, 100, 1000));
  const broker: BrokerKnobs = {
    heartbeatMs,
    maintenanceMs: Math.round(uniform(rng, 20, 500)),
    backupTimeoutMs: Math.round(uniform(rng, 200, 3000)),
    replicate: rng.bool(0.7) ? 'all' : 'configuration',
    fsyncMs: uniform(rng, 0.1, 8),
    logMaxBytes: rng.bool(0.2) ? rng.int(2_000, 20_000) : 64 * 1024 * 1024,
  };
  const network: NetworkKnobs = { latencyMs: uniform(rng, 0.05, 2), jitter: uniform(rng, 0, 1.5), connectTimeoutMs: 127_000 };
  const pollMs = Math.round(uniform(rng, 100, 1000));
  const drawnBad = rng.bool(0.2);
  const badManager = overrides.badManager ?? drawnBad;
  const manager: ManagerKnobs = {
    pollMs,
    statusTimeoutMs: Math.round(pollMs * 0.8),
    promoteTimeoutMs: 5000,
    badRate: badManager ? uniform(rng, 0.05, 0.5) : (rng.next(), 0),
    restartDelayMs: Math.round(uniform(rng, 50, 2000)),
  };
  const weights = Object.fromEntries(FAULT_KINDS.map((k) => [k, rng.bool(0.25) ? 0 : uniform(rng, 0.2, 3)])) as Record<FaultKind, number>;
  weights['crash-primary'] = Math.max(weights['crash-primary'], 0.5);
  const faults: FaultKnobs = {
    meanIntervalMs: uniform(rng, 150, 3000),
    weights,
    pauseMsMax: heartbeatMs * uniform(rng, 0.5, 6),
    partitionMsMax: uniform(rng, 200, 6000),
    slowDiskFactorMax: uniform(rng, 2, 200),
  };
  const safetyMs = Math.round(uniform(rng, 2000, 15000));
  const queues = Array.from({ length: rng.int(1, 3) }, (_, i) => `q${i}`);
  const queueArgs: Record<string, string> = broker.replicate === 'all' ? {} : { 'qpid.replicate': 'all' };
  const producers: ProducerKnobs[] = Array.from({ length: rng.int(1, 4) }, (_, i) => {
    const intervalMs = uniform(rng, 2, 40);
    return {
      name: `p${i}`,
      queue: rng.pick(queues),
      total: Math.max(10, Math.min(300, Math.round((safetyMs * uniform(rng, 0.2, 1.2)) / intervalMs))),
      window: rng.int(1, 12),
      intervalMs,
      startMs: uniform(rng, 0, 500),
    };
  });
  const consumers: ConsumerKnobs[] = Array.from({ length: rng.int(0, 3) }, (_, i) => ({
    name: `c${i}`,
    queue: rng.pick(queues),
    credit: rng.int(1, 20),
    processMs: uniform(rng, 0.5, 30),
    releaseRate: rng.bool(0.5) ? 0 : uniform(rng, 0, 0.2),
    startMs: uniform(rng, 0, safetyMs),
  }));
  return {
    seed,
    brokers,
    broker,
    network,
    manager,
    badManager,
    faults,
    clientHeartbeatMs: Math.round(uniform(rng, 100, 1000)),
    reconnectMs: Math.round(uniform(rng, 20, 500)),
    queues,
    producers,
    consumers,
    adminOps: adminPlan(rng, queues, queueArgs, safetyMs),
    safetyMs,
    livenessMs: 90_000,
  };
}

/** The operator's changes: the queues the clients use first, then configuration churn (each
 * step valid after the ones before it). */
function adminPlan(rng: ReturnType<typeof stream>, queues: readonly string[], queueArgs: Record<string, string>, safetyMs: number): { atMs: number; op: AdminOp }[] {
  const plan: { atMs: number; op: AdminOp }[] = queues.map((name) => ({ atMs: 0, op: { kind: 'declare-queue', name, args: queueArgs } }));
  const churn: AdminOp[] = [];
  const exchangeArgs = queueArgs;
  if (rng.bool(0.8)) {
    const type = rng.pick(['direct', 'fanout', 'topic'] as const);
    churn.push({ kind: 'declare-exchange', name: 'x1', type, args: exchangeArgs });
    churn.push({ kind: 'bind', exchange: 'x1', queue: rng.pick(queues), key: 'k1' });
    if (rng.bool(0.5)) {
      churn.push({ kind: 'declare-queue', name: 'extra1', args: queueArgs });
      churn.push({ kind: 'bind', exchange: 'x1', queue: 'extra1', key: 'k2' });
      if (rng.bool(0.5)) churn.push({ kind: 'unbind', exchange: 'x1', queue: 'extra1', key: 'k2' });
      if (rng.bool(0.5)) churn.push({ kind: 'delete-queue', name: 'extra1' });
    }
    if (rng.bool(0.3)) churn.push({ kind: 'delete-exchange', name: 'x1' });
  }
  if (rng.bool(0.4)) churn.push({ kind: 'declare-queue', name: 'local1', args: { 'qpid.replicate': 'none' } });
  if (rng.bool(0.4)) churn.push({ kind: 'declare-queue', name: 'config1', args: { 'qpid.replicate': 'configuration' } });
  const times = churn.map(() => uniform(rng, 0, safetyMs)).sort((a, b) => a - b);
  churn.forEach((op, i) => plan.push({ atMs: times[i] as number, op }));
  return plan;
}
