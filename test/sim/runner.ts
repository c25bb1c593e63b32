// One simulation run from a seed: build the cluster (2 to 5 brokers), the cluster manager, the
// clients and the fault injector from the seed's knobs; run the safety phase with faults; heal
// everything and run the liveness phase until the cluster converges (a primary active, every
// other broker ready, every producer's messages settled, the backups caught up) or its deadline
// passes; then run the final checks. The result carries the violations and, when asked, the
// readable trace.

import { historyConflict } from '../../store/index.js';
import { AMQP_PORT, SimBroker, type BrokerEnv } from './broker.js';
import { Oracle, type Violation } from './checkers.js';
import { SimAdmin, SimConsumer, SimProducer, type ClientEnv } from './clients.js';
import { FaultInjector } from './faults.js';
import { drawKnobs, type Knobs } from './knobs.js';
import { SimManager } from './manager.js';
import { startEtcdManagers, type EtcdManagers } from './etcd-managers.js';
import { SimNetwork } from './network.js';
import { Trace, type TraceLevel } from './trace.js';
import { VARIANTS, type VariantName } from './variants.js';
import { stream, uniform, World } from './world.js';

export interface SimOptions {
  readonly seed: number;
  readonly trace?: boolean;
  readonly traceLevel?: TraceLevel;
  readonly variant?: VariantName | null;
  /** Overrides the seed's draw: every run's manager is bad (true) or good (false). */
  readonly badManager?: boolean;
  /** Who fails over: the scripted rgmanager-style manager (manager.ts, the default) or one
   * issue-17 qpid-ha-manager per broker over a simulated etcd (ha-manager.ts). */
  readonly manager?: 'scripted' | 'etcd';
}

export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly converged: boolean;
  readonly stats: Readonly<Record<string, number | string | boolean>>;
  readonly trace: readonly string[];
}

/** Only one run at a time may patch prototypes or own the unhandled-rejection hook. */
let running = false;

export async function runSimulation(options: SimOptions): Promise<SimResult> {
  if (running) throw new Error('runSimulation: one run at a time per process');
  running = true;
  const restore = options.variant ? VARIANTS[options.variant].install() : null;
  try {
    return await run(options);
  } finally {
    restore?.();
    running = false;
  }
}

async function run(options: SimOptions): Promise<SimResult> {
  const seed = options.seed;
  const etcdMode = options.manager === 'etcd';
  // The etcd managers make no bad choices: their safety is what the run checks.
  const knobs = drawKnobs(seed, etcdMode ? { badManager: false } : options.badManager === undefined ? {} : { badManager: options.badManager });
  const world = new World();
  const diskNames = new Map<string, string>();
  const trace = new Trace(world, options.trace ?? false, options.traceLevel ?? 'info', (text) => text.replace(/memory-disk-\d+/g, (m) => diskNames.get(m) ?? 'disk'));
  const net = new SimNetwork(world, stream(seed, 'network'), knobs.network, trace);
  const brokers: SimBroker[] = [];
  const hb = knobs.broker.heartbeatMs;
  const probeTimeoutMs = Math.min(5000, Math.max(1000, hb));
  const oracle = new Oracle(world, trace, brokers, {
    fenceBoundMs: 4 * hb + 2 * probeTimeoutMs + 2 * knobs.broker.maintenanceMs + knobs.manager.pollMs + 2000,
    fencedByLease: etcdMode,
  });
  let manager: SimManager | null = null;
  let fatalLines = 0;
  const env: BrokerEnv = {
    world,
    net,
    trace,
    brokersUrl: knobs.brokers.map((name) => `${name}:${AMQP_PORT}`).join(','),
    knobs: knobs.broker,
    serverHooks: oracle.serverHooks,
    diskHooks: (broker, life) => oracle.diskHooks(broker, life),
    onFatalLine: () => void fatalLines++,
    onExit: (broker) => manager?.exited(broker),
    brokerNamed: (host) => brokers.find((b) => b.name === host),
  };
  for (const name of knobs.brokers) {
    const broker = new SimBroker(name, env);
    diskNames.set(broker.disk.name, `${name}-disk`);
    brokers.push(broker);
  }
  const startBroker = (broker: SimBroker): void => {
    broker.start();
    oracle.rememberMirror(broker.life!, broker.store!.mirror);
  };
  manager = new SimManager(world, net, trace, stream(seed, 'manager'), brokers, oracle, knobs.manager, startBroker);
  // In etcd mode the scripted manager only supervises (restarts what died); the managers decide.
  const etcdManagers: EtcdManagers | null = etcdMode ? startEtcdManagers({ seed, world, net, trace, oracle, brokers, supervisor: manager }) : null;

  const clientEnv: ClientEnv = { world, net, trace, brokers: knobs.brokers, heartbeatMs: knobs.clientHeartbeatMs, reconnectMs: knobs.reconnectMs };
  const clientRng = stream(seed, 'clients');
  const producers = knobs.producers.map(
    (p) => new SimProducer(p.name, clientEnv, clientRng, p.queue, p.total, p.window, p.intervalMs, (producer, seq, info) => oracle.producerSettled(producer.name, seq, info)),
  );
  const consumers = knobs.consumers.map((c) => new SimConsumer(c.name, clientEnv, clientRng, c.queue, c.credit, c.processMs, c.releaseRate));
  const admin = new SimAdmin('adm', clientEnv, clientRng, knobs.adminOps, (op, info) => oracle.configConfirmed(op, info));
  const clientNames = [...producers, ...consumers, admin].map((c) => c.name);
  const faults = new FaultInjector({ world, net, trace, oracle, brokers, clients: clientNames, crashed: (b) => manager?.exited(b), managers: etcdManagers?.faults ?? null, gateDrain: etcdMode ? null : stream(seed, 'gate-drain') }, knobs, stream(seed, 'faults'));

  world.afterEvent = () => oracle.afterEvent();
  world.onEventError = (err, life) => {
    if (life && !life.alive) return;
    oracle.violation('BROKER_THREW', `${life?.node ?? 'simulator'}: ${(err as Error)?.stack ?? String(err)}`);
  };
  const onRejection = (reason: unknown): void => {
    const code = (reason as { code?: unknown })?.code;
    if (code === 'STORE_CLOSED') return; // a crashed process's leftovers: it is dead
    oracle.violation('UNHANDLED_REJECTION', (reason as Error)?.stack ?? String(reason));
  };
  process.on('unhandledRejection', onRejection);

  try {
    trace.note('sim', `seed=${seed}`, describeKnobs(knobs));
    const startRng = stream(seed, 'start');
    for (const broker of brokers) world.schedule(uniform(startRng, 0, 50), null, () => startBroker(broker));
    if (etcdManagers) etcdManagers.start();
    else manager.start();
    admin.start(uniform(startRng, 0, 100));
    producers.forEach((p, i) => p.start((knobs.producers[i] as { startMs: number }).startMs));
    consumers.forEach((c, i) => c.start((knobs.consumers[i] as { startMs: number }).startMs));
    faults.start();

    await world.run(knobs.safetyMs);
    trace.note('sim', 'liveness phase: faults healed');
    faults.heal();
    manager.badAllowed = false;
    admin.reassertFromNowOn();
    oracle.healedAtMs = world.nowMs;
    const deadline = world.nowMs + knobs.livenessMs;
    let converged = false;
    let splitByBadChoice = 0;
    await world.run(deadline, () => (converged = isConverged(brokers, oracle, producers, admin)));
    if (converged) {
      trace.note('sim', 'converged');
      const primary = brokers.find((b) => oracle.servingEpoch(b) !== null) as SimBroker;
      oracle.checkHasSettled(primary, 'the run', false);
      oracle.checkOrder(new Map(producers.map((p) => [p.name, { firstSentMs: p.firstSentMs, settled: new Map([...p.settled].map(([seq, s]) => [seq, { heardMs: s.heardMs, legit: s.legit }])) }])));
      oracle.checkConverged(primary, brokers.filter((b) => b !== primary));
    } else {
      // A bad manager's promotion of a store that shares no history with the others leaves two
      // clusters: the others refuse to follow it (they keep their data for an operator's wipe),
      // as they must. Counted, like the losses of bad choices, not failed.
      const split = oracle.badChoiceMade ? historySplit(brokers, oracle) : null;
      if (split !== null) {
        splitByBadChoice = 1;
        trace.note('sim', 'not converged: a bad choice left two histories', { split });
      } else {
        oracle.violation('NOT_CONVERGED', notConvergedReason(brokers, oracle, producers, admin) ?? 'deadline passed');
      }
    }
    manager.stop();
    const stats = {
      brokers: brokers.length,
      badManager: knobs.badManager,
      manager: etcdMode ? 'etcd' : 'scripted',
      ...(etcdManagers ? etcdManagers.stats() : {}),
      badChoices: manager.badChoices.join(',') || 'none',
      simMs: Math.round(world.nowMs),
      events: world.eventsRun,
      settled: oracle.legitSettled,
      staleSettled: oracle.staleSettled,
      permittedLosses: oracle.permittedLosses,
      splitByBadChoice,
      lostToBadChoices: oracle.lostToBadChoices,
      promotions: oracle.promotions,
      maxEpoch: oracle.maxEpoch,
      sends: producers.reduce((n, p) => n + p.sends, 0),
      consumed: oracle.consumed.size,
      fatalLines,
      checks: Object.entries(oracle.checks).map(([k, n]) => `${k}:${n}`).join(','),
      faults: [...faults.counts].map(([k, n]) => `${k}:${n}`).join(',') || 'none',
    };
    trace.note('sim', converged ? 'end' : 'end (not converged)', stats);
    return { seed, ok: oracle.violations.length === 0, violations: [...oracle.violations], converged, stats, trace: trace.lines };
  } finally {
    process.off('unhandledRejection', onRejection);
  }
}

/** A primary active with the highest epoch, every other broker running and ready in its gate,
 * caught up to its LSN, and every client's work done. */
function isConverged(brokers: readonly SimBroker[], oracle: Oracle, producers: readonly SimProducer[], admin: SimAdmin): boolean {
  return notConvergedReason(brokers, oracle, producers, admin) === null;
}

function notConvergedReason(brokers: readonly SimBroker[], oracle: Oracle, producers: readonly SimProducer[], admin: SimAdmin): string | null {
  const serving = brokers.filter((b) => oracle.servingEpoch(b) !== null);
  if (serving.length !== 1) return `${serving.length} brokers serve clients (${serving.map((b) => b.name).join(',') || 'none'}); states ${states(brokers)}`;
  const primary = serving[0] as SimBroker;
  const node = primary.node;
  if (!node || node.state !== 'active' || oracle.servingEpoch(primary) !== oracle.maxEpoch) return `primary ${primary.name} is ${node?.state} with epoch ${oracle.servingEpoch(primary)} (highest ${oracle.maxEpoch})`;
  const ready = new Set(node.primaryReplicator()?.readyBackups() ?? []);
  const lastLsn = primary.store?.meta().lastLsn ?? -1;
  for (const broker of brokers) {
    if (broker === primary) continue;
    if (!broker.up || broker.paused) return `${broker.name} is not running; states ${states(brokers)}`;
    if (broker.node?.state !== 'ready' || !ready.has(broker.name)) return `${broker.name} is ${broker.node?.state} (primary's ready backups: ${[...ready].join(',') || 'none'}); states ${states(brokers)}`;
    const lsn = broker.store?.meta().lastLsn ?? -1;
    if (lsn !== lastLsn) return `${broker.name} is at LSN ${lsn}, primary ${primary.name} at ${lastLsn}`;
  }
  const unfinished = producers.filter((p) => !p.done);
  if (unfinished.length > 0) return `producers not done: ${unfinished.map((p) => `${p.name} ${p.settled.size}/${p.total}`).join(', ')}`;
  if (!admin.done) return 'configuration changes not all done';
  return null;
}

/** A running broker whose store's history shares nothing with the serving primary's (the
 * production check a backup applies to a primary's hello), or null. */
function historySplit(brokers: readonly SimBroker[], oracle: Oracle): string | null {
  const primary = brokers.find((b) => oracle.servingEpoch(b) === oracle.maxEpoch && b.store);
  const theirs = primary?.store?.meta();
  if (!primary || !theirs) return null;
  for (const broker of brokers) {
    const mine = broker === primary || !broker.up ? undefined : broker.store?.meta();
    if (!mine || mine.lastLsn === 0) continue;
    const conflict = historyConflict(mine.epochHistory, theirs.epochHistory, theirs.lastLsn);
    if (conflict !== null) return `${broker.name} refuses ${primary.name}: ${conflict}`;
  }
  return null;
}

function states(brokers: readonly SimBroker[]): string {
  return brokers.map((b) => `${b.name}=${b.up ? (b.paused ? 'paused' : (b.node?.state ?? '?')) : 'down'}`).join(' ');
}

function describeKnobs(knobs: Knobs): Record<string, unknown> {
  return {
    brokers: knobs.brokers.length,
    heartbeatMs: knobs.broker.heartbeatMs,
    maintenanceMs: knobs.broker.maintenanceMs,
    backupTimeoutMs: knobs.broker.backupTimeoutMs,
    replicate: knobs.broker.replicate,
    fsyncMs: knobs.broker.fsyncMs,
    logMaxBytes: knobs.broker.logMaxBytes,
    latencyMs: knobs.network.latencyMs,
    badManager: knobs.badManager,
    faultMeanMs: Math.round(knobs.faults.meanIntervalMs),
    safetyMs: knobs.safetyMs,
    producers: knobs.producers.map((p) => `${p.name}->${p.queue} x${p.total} w${p.window}`).join(' '),
    consumers: knobs.consumers.map((c) => `${c.name}<-${c.queue}`).join(' ') || 'none',
  };
}
