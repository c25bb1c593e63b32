// A run's issue-17 managers (`npm run sim -- --etcd-manager`): the simulated etcd, one
// qpid-ha-manager per broker (ha-manager.ts), their knobs (drawn from their own stream, so that
// the seed's other knobs, and the scripted manager's runs, stay as they were), the faults only
// they bring (kill a manager, cut a manager from etcd, cut a broker from its own manager, lose a
// whole host), the checker's hook on the leader key, and their supervisor.
//
// The checker (Oracle.leaderKeyCreated) is the timing argument of src/manager/step.ts made
// executable: when etcd creates the leader key for a manager, no other broker may be primary
// with a serving lease still running. STALE_SETTLED (a superseded primary settled a producer)
// and LOST check the consequences.

import type { Random } from '../../src/core/random.js';
import type { SimBroker } from './broker.js';
import type { Oracle } from './checkers.js';
import { ETCD_NODE, SimEtcd } from './etcd.js';
import { defaultMargin, SIM_CLUSTER, SimHaManager, type HaManagerKnobs } from './ha-manager.js';
import type { SimManager } from './manager.js';
import type { SimNetwork } from './network.js';
import type { Trace } from './trace.js';
import { stream, uniform, type World } from './world.js';

export interface ManagerFaults {
  /** Chance that a fault of the safety phase is one of these rather than the seed's kinds. */
  readonly share: number;
  /** Injects one; returns its name (for the run's counts). */
  inject(rng: Random, primary: SimBroker | undefined, any: SimBroker, partition: (a: readonly string[], b: readonly string[], durationMs: number) => void, durationMs: number): string;
  /** The broker's machine died (crash without reset): its manager, on the same host, with it. */
  hostDied(broker: SimBroker): void;
  /** Names on the network a broker's isolation should also cut it from (etcd and the managers). */
  readonly nodes: readonly string[];
}

export interface EtcdManagers {
  readonly managers: readonly SimHaManager[];
  readonly faults: ManagerFaults;
  start(): void;
  stats(): Record<string, number | string>;
}

export interface EtcdManagersEnv {
  readonly seed: number;
  readonly world: World;
  readonly net: SimNetwork;
  readonly trace: Trace;
  readonly oracle: Oracle;
  readonly brokers: readonly SimBroker[];
  readonly supervisor: SimManager;
}

/** A planted bug can widen the serving lease past the key (variants.ts); nothing else does. */
export function drawHaManagerKnobs(seed: number): HaManagerKnobs {
  const rng = stream(seed, 'ha-manager');
  const ttlMs = Math.round(uniform(rng, 600, 3000));
  const checkIntervalMs = Math.round(uniform(rng, 50, 200));
  return {
    ttlMs,
    checkIntervalMs,
    leaseMarginMs: defaultMargin(ttlMs, checkIntervalMs),
    totalFailureWaitMs: Math.round(uniform(rng, 1000, 5000)),
    restartDelayMs: Math.round(uniform(rng, 50, 2000)),
  };
}

export function startEtcdManagers(env: EtcdManagersEnv): EtcdManagers {
  const knobs = drawHaManagerKnobs(env.seed);
  const rng = stream(env.seed, 'ha-manager-faults');
  const etcd = new SimEtcd(env.world, env.net, env.trace, `/${SIM_CLUSTER}/leader`);
  const managers = env.brokers.map((broker) => new SimHaManager(broker, { world: env.world, net: env.net, trace: env.trace, etcd, oracle: env.oracle, knobs }));
  etcd.onLeaderCreated = (name) => env.oracle.leaderKeyCreated(name);
  const counts = new Map<string, number>();
  const count = (kind: string): string => {
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    return kind;
  };
  const restartLater = (m: SimHaManager): void => {
    const life = m.life;
    env.world.schedule(knobs.restartDelayMs * uniform(rng, 0.5, 1.5), env.supervisor.life, () => {
      if (m.life === life && !m.up) m.start();
    });
  };
  const managerOf = (broker: SimBroker): SimHaManager => managers.find((m) => m.broker === broker) as SimHaManager;
  const faults: ManagerFaults = {
    share: uniform(rng, 0.2, 0.6),
    nodes: [ETCD_NODE, ...managers.map((m) => m.node)],
    inject(faultRng, primary, any, partition, durationMs) {
      const target = primary ?? any;
      const mine = managerOf(target);
      const everyoneElse = (except: readonly string[]): string[] =>
        [ETCD_NODE, ...env.brokers.map((b) => b.name), ...managers.map((m) => m.node)].filter((n) => !except.includes(n));
      switch (faultRng.int(0, 3)) {
        case 0:
          // kill -9 of the (usually primary's) manager: its key expires after ttl.
          mine.kill('fault');
          restartLater(mine);
          return count('kill-manager');
        case 1:
          // The whole host cut off, broker and manager: neither reaches etcd nor the others.
          partition([target.name, mine.node], everyoneElse([target.name, mine.node]), durationMs);
          return count('isolate-host');
        case 2:
          // The manager alone loses etcd: it stops renewing, its primary stops on its own.
          partition([mine.node], [ETCD_NODE], durationMs);
          return count('cut-etcd');
        default:
          // The broker cut off from everything, its own manager included (a hung interface):
          // its manager sees it unreachable and keeps the key until the lease surely passed.
          partition([target.name], everyoneElse([target.name]), durationMs);
          return count('isolate-broker');
      }
    },
    hostDied(broker) {
      const m = managerOf(broker);
      if (!m.up) return;
      m.kill('its host died');
      restartLater(m);
    },
  };
  return {
    managers,
    faults,
    start() {
      const startRng = stream(env.seed, 'ha-manager-start');
      for (const m of managers) env.world.schedule(uniform(startRng, 0, 100), env.supervisor.life, () => m.start());
    },
    stats() {
      return {
        ttlMs: knobs.ttlMs,
        checkIntervalMs: knobs.checkIntervalMs,
        managerFaults: [...counts].map(([k, n]) => `${k}:${n}`).join(',') || 'none',
        managerPromotions: managers.reduce((n, m) => n + m.promotionsRequested, 0),
      };
    },
  };
}
