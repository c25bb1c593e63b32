// The crash schedules. The default one runs inside `npm test` (21 faults, every
// fault kind of issue 5); the long one adds a cluster run that mixes every cluster
// fault, for CRASH_RUNS=N and the soak runner. Which fault, which broker, how long between faults
// and how long a hang lasts all come from the seed.
import { CLUSTER_FAULTS } from './faults.js';
import type { ScenarioSpec } from './scenario.js';

const base = { producers: 2, producerRatePerS: 150, consumerRatePerS: 0, bodyBytes: 256 } as const;

export const DEFAULT_SCHEDULE: readonly ScenarioSpec[] = [
  { ...base, name: 'standalone-kill', topology: 'standalone', faultKinds: [], faultCount: 4, gapMs: [400, 1200] },
  { ...base, name: 'primary-kill', topology: 'cluster', faultKinds: ['primary-kill'], faultCount: 4, gapMs: [500, 1500] },
  { ...base, name: 'backup-kill', topology: 'cluster', faultKinds: ['backup-kill'], faultCount: 3, gapMs: [500, 1500] },
  { ...base, name: 'primary-hang', topology: 'cluster', faultKinds: ['primary-hang'], faultCount: 3, gapMs: [500, 1500] },
  { ...base, name: 'total-failure', topology: 'cluster', faultKinds: ['total-failure'], faultCount: 4, gapMs: [500, 1500] },
  // The consumer is slower than the producers, so the queue deepens and catch-up takes long
  // enough for a kill to land inside it.
  { ...base, name: 'catchup-kill', topology: 'cluster', faultKinds: ['catchup-kill'], faultCount: 3, producerRatePerS: 300, consumerRatePerS: 100, bodyBytes: 1024, gapMs: [1500, 2500] },
];

export const LONG_SCHEDULE: readonly ScenarioSpec[] = [
  ...DEFAULT_SCHEDULE,
  // Every cluster fault in one run, two failures without catch-up between them, and hangs that
  // end in a promotion without fencing (the stale primary must stop itself). The first keeps
  // the consumer behind (a backlog through every promotion); the second keeps the queue short.
  { ...base, name: 'mixed', topology: 'cluster', faultKinds: CLUSTER_FAULTS, faultCount: 12, consumerRatePerS: 250, gapMs: [300, 2000], unfencedHangs: true },
  { ...base, name: 'mixed-no-backlog', topology: 'cluster', faultKinds: CLUSTER_FAULTS, faultCount: 12, gapMs: [300, 2000], unfencedHangs: true },
];

export function faultTotal(schedule: readonly ScenarioSpec[]): number {
  return schedule.reduce((sum, spec) => sum + spec.faultCount, 0);
}

/** Loses messages on purpose (the store is deleted at the kill; the slow consumer leaves
 * hundreds of accepted messages on the queue): the suite's test of itself. */
export const SABOTAGE: ScenarioSpec = { ...base, name: 'sabotage-wipe-store', topology: 'standalone', faultKinds: [], faultCount: 1, consumerRatePerS: 50, gapMs: [800, 1200], sabotageWipeStore: true };
