// The scripted cluster manager (the reference's rgmanager with `qpid-ha promote`) and the
// process supervisor. Every poll the manager asks each broker for its status over the network.
// When it sees no primary for two polls in a row it fences every broker that did not answer
// (STONITH: the machine is powered off, so a primary that is only partitioned or paused cannot
// go on serving), polls again (statuses taken before the fence may be stale), and promotes the most recent ready backup (highest epoch, then LSN) among those
// that saw the highest epoch it knows of, or, when every broker is joining or a stale ready
// backup (a new cluster, or total failure), the joining one with the most recent store.
// It waits for every broker to answer before promoting a joining one: a silent broker may hold
// the most recent store and the highest epoch (reference §1.12.12.4: the cluster hangs rather
// than lose). When none is ready it still tries the most advanced catch-up broker, which the
// broker must refuse (only a ready backup can be promoted).
//
// In some runs the manager is bad (drawn from the seed), during the safety phase only: it may
// promote without fencing (the old primary lives on, partitioned or paused), promote a backup
// while the primary is fine (a flapping monitor), promote two backups at once, stop waiting for
// a silent broker before promoting a joining one, or ask a broker still catching up. Fencing is
// then the epochs' job, and the checkers count what a stale primary settles.

import type { HaStatus } from '../../src/ha/node.js';
import type { Random } from '../../src/core/random.js';
import type { SimBroker } from './broker.js';
import type { Oracle } from './checkers.js';
import type { SimNetwork } from './network.js';
import type { Trace } from './trace.js';
import { Life, uniform, type World } from './world.js';

export type BadChoice = 'promote-unfenced' | 'promote-while-primary-fine' | 'promote-two' | 'promote-without-waiting' | 'promote-catchup';

export interface ManagerKnobs {
  readonly pollMs: number;
  readonly statusTimeoutMs: number;
  readonly promoteTimeoutMs: number;
  /** Chance per decision that a bad manager makes a bad choice (0: a good manager). */
  readonly badRate: number;
  readonly restartDelayMs: number;
}

export class SimManager {
  readonly life = new Life('mgr', 1);
  private missingPolls = 0;
  private silentPolls = new Map<string, number>();
  private stopped = false;
  /** Bad choices are made only while true (the safety phase). */
  badAllowed = true;
  readonly badChoices: BadChoice[] = [];
  promotionsRequested = 0;
  /** The highest epoch any status or promotion reply showed. */
  private highestEpoch = 0;

  constructor(
    private readonly world: World,
    private readonly net: SimNetwork,
    private readonly trace: Trace,
    private readonly rng: Random,
    private readonly brokers: readonly SimBroker[],
    private readonly oracle: Oracle,
    private readonly knobs: ManagerKnobs,
    private readonly restart: (broker: SimBroker) => void,
  ) {
    net.attach('mgr', this.life, null);
  }

  start(): void {
    this.world.schedule(this.knobs.pollMs, this.life, () => void this.poll());
  }

  stop(): void {
    this.stopped = true;
  }

  /** The supervisor: a process that died is started again after a delay (systemd). */
  exited(broker: SimBroker): void {
    const incarnation = broker.incarnation;
    this.world.schedule(this.knobs.restartDelayMs * uniform(this.rng, 0.5, 1.5), this.life, () => {
      if (!broker.up && broker.incarnation === incarnation) this.restart(broker);
    });
  }

  private bad(choice: BadChoice): boolean {
    if (!this.badAllowed || this.knobs.badRate === 0 || !this.rng.bool(this.knobs.badRate)) return false;
    this.badChoices.push(choice);
    this.oracle.badChoiceMade = true;
    this.trace.note('mgr', `bad choice: ${choice}`);
    return true;
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    const statuses = await Promise.all(this.brokers.map((b) => this.net.request<HaStatus>('mgr', b.name, () => statusOf(b), this.knobs.statusTimeoutMs)));
    await this.decide(statuses);
    if (!this.stopped) this.world.schedule(this.knobs.pollMs, this.life, () => void this.poll());
  }

  private async decide(statuses: readonly (HaStatus | null)[]): Promise<void> {
    statuses.forEach((s, i) => {
      const name = (this.brokers[i] as SimBroker).name;
      this.silentPolls.set(name, s ? 0 : (this.silentPolls.get(name) ?? 0) + 1);
    });
    const answered = statuses.filter((s): s is HaStatus => s !== null);
    for (const s of answered) this.highestEpoch = Math.max(this.highestEpoch, s.epoch);
    // Every broker answered and none holds or heard of the highest epoch seen: it was heard of
    // once (a promotion that died before its epoch was durable) and served nowhere, or some
    // store would hold it. Waiting for it would wait for ever (seed 5254: ready backups of
    // epoch 4 passed over for a phantom 5, joining brokers refused while they were ready).
    const topAnswered = Math.max(0, ...answered.map((s) => s.epoch));
    if (answered.length === this.brokers.length && topAnswered < this.highestEpoch) {
      this.trace.note('mgr', 'no broker holds the highest epoch seen: forgetting it', { highest: this.highestEpoch, answered: topAnswered });
      this.highestEpoch = topAnswered;
    }
    const primaries = answered.filter((s) => s.state === 'active' || s.state === 'recovering');
    const catchingUp = answered.filter((s) => s.state === 'catchup').sort(mostRecent)[0];
    if (catchingUp && this.bad('promote-catchup')) {
      // The broker must refuse: it is still catching up.
      await this.promote([catchingUp.name], true);
      return;
    }
    // A ready backup that never saw the latest primary is stale: promoting it would bring up a
    // primary with an epoch below one already used (and without what that primary settled).
    const ready = answered.filter((s) => s.state === 'ready' && s.epoch >= this.highestEpoch).sort(mostRecent);
    if (primaries.length > 0) {
      this.missingPolls = 0;
      const candidate = ready[0];
      if (candidate && this.bad('promote-while-primary-fine')) await this.promote([candidate.name], true);
      return;
    }
    if (++this.missingPolls < 2) return;
    // Asked beside the decision, not before it: the answers take probes' time, and a decision
    // on statuses that old would fence a broker that has restarted meanwhile.
    void this.oracle.checkPromotable(this.net);
    this.trace.note('mgr', 'no primary', {
      statuses: this.brokers.map((b, i) => {
        const st = statuses[i];
        return st ? `${b.name}:${st.state}@${st.epoch}/${st.lastLsn}` : `${b.name}:silent`;
      }),
    });
    const silent = this.brokers.filter((_, i) => statuses[i] === null);
    const unfenced = silent.length > 0 && ready.length > 0 && this.bad('promote-unfenced');
    if (!unfenced) {
      let fenced = false;
      for (const broker of silent) {
        if (broker.up) {
          this.trace.note('mgr', `fence ${broker.name} (no answer): power off`);
          broker.crash(false, 'fenced by the cluster manager');
          this.exited(broker);
          fenced = true;
        }
      }
      // The statuses in hand were taken while the fenced broker may still have been settling:
      // choose from the next poll's, taken once nothing can change any more.
      if (fenced) return;
    }
    if (ready.length > 0) {
      const two = ready.length > 1 && this.bad('promote-two');
      await this.promote(two ? [(ready[0] as HaStatus).name, (ready[1] as HaStatus).name] : [(ready[0] as HaStatus).name], unfenced);
      return;
    }
    // A new cluster or total failure: every broker must be joining; wait for all of them to
    // answer (one still down may hold the most recent store) unless one stays silent long.
    const joining = answered.filter((s) => s.state === 'joining').sort(mostRecent);
    const staleReady = answered.filter((s) => s.state === 'ready');
    const longSilent = silent.every((b) => (this.silentPolls.get(b.name) ?? 0) >= 10);
    // A store whose catch-up was interrupted holds a partial snapshot: never the one to promote.
    const newest = joining.find((s) => !s.snapshotIncomplete);
    if (newest && joining.length + staleReady.length === answered.length && (silent.length === 0 || (longSilent && this.bad('promote-without-waiting')))) {
      await this.promote([newest.name], silent.length > 0);
      return;
    }
    const catchup = answered.filter((s) => s.state === 'catchup').sort(mostRecent)[0];
    if (catchup) await this.promote([catchup.name], false);
  }

  private async promote(names: readonly string[], abandoning: boolean): Promise<void> {
    if (abandoning) this.trace.note('mgr', 'promoting while another broker may be primary or more recent');
    if (abandoning || names.length > 1) for (const name of names) this.oracle.badPromotion(name);
    await Promise.all(
      names.map(async (name) => {
        const broker = this.brokers.find((b) => b.name === name) as SimBroker;
        this.promotionsRequested++;
        this.trace.note('mgr', `promote ${name}`);
        const result = await this.net.request(
          'mgr',
          name,
          async () => {
            const node = broker.node;
            if (!node) throw new Error('not running');
            try {
              const before = node.state;
              const beforeStatus = node.status();
              const heard = broker.recordedHeard;
              const r = await node.promote({ force: false });
              this.oracle.promotedFrom(name, before, r.state, beforeStatus, heard);
              this.highestEpoch = Math.max(this.highestEpoch, r.epoch);
              return `now ${r.state} epoch ${r.epoch}`;
            } catch (err) {
              this.oracle.badPromotionRefused(name);
              return `refused: ${(err as { code?: string }).code ?? ''} ${(err as Error).message}`;
            }
          },
          this.knobs.promoteTimeoutMs,
        );
        this.trace.note('mgr', `promote ${name}: ${result ?? 'no answer'}`);
      }),
    );
  }
}

function statusOf(broker: SimBroker): HaStatus {
  const node = broker.node;
  if (!node) throw new Error('not running');
  return node.status();
}

function mostRecent(a: HaStatus, b: HaStatus): number {
  return b.epoch - a.epoch || b.lastLsn - a.lastLsn || (a.name < b.name ? -1 : 1);
}
