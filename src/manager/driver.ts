// The one driver of qpid-ha-manager: feeds the step function (step.ts) what it observes of its
// broker (broker-link.ts) and of etcd (etcd.ts), and carries out the actions it returns. Every
// check interval: one keep-alive of the etcd lease, one status of the broker, one tick. Events
// are stepped one at a time, in the order they arrive; the actions' results come back as events.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../core/log.js';
import { ManagementError } from '../management/client.js';
import type { HaStatus } from '../ha/node.js';
import { BrokerLink, leaseGrant, reportOf, unavailableReport, type LeaseClockReading } from './broker-link.js';
import { EtcdCluster } from './etcd.js';
import { observeTtl, suspectsLeader, type ExpiryChain } from './lease-expiry.js';
import { memberEntries, readView, type FailoverValue, type KeyTable, type MemberValue, type RecordValue } from './keys.js';
import type { ManagerOptions } from './options.js';
import { defaultLeaseMarginMs, initialState, promotionRecord, step, type BrokerReport, type ManagerAction, type ManagerEvent, type ManagerState } from './step.js';

const now = (): number => performance.now();

/** A member entry whose figures alone changed is republished this often (and when nothing changed). */
const REPUBLISH_MS = 1000;
/** The manager's view is sent to its broker again at least this often: a broker that restarted
 * shows it again, and one marks it stale after MANAGER_REPORT_STALE_MS (5 s) without it. */
const REPORT_AGAIN_MS = 2000;
/** A decision alone is published this long after it was made (with any that follow it). */
const DECISION_PUBLISH_MS = 200;
/** How often a suspected leader's lease is read (lease-expiry.ts: it must stay well under ttl - 1 s). */
const LEASE_WATCH_MS = 50;
/** How long one status long poll waits for a change. */
const WATCH_WAIT_MS = 5000;

export class ManagerDriver {
  private state: ManagerState;
  private readonly etcd: EtcdCluster;
  private readonly broker: BrokerLink;
  private timer: NodeJS.Timeout | null = null;
  private keepAliveInFlight = false;
  private pollInFlight = false;
  /** The broker's lease clock in its last status (HaStatus.leaseClockMs), and when it came. */
  private leaseClock: LeaseClockReading | null = null;
  private pollAgain = false;
  private published = { shape: '', decision: '', atMs: Number.NEGATIVE_INFINITY };
  private decisionTimer: NodeJS.Timeout | null = null;
  private reported = { text: '', atMs: Number.NEGATIVE_INFINITY };
  private stopped = false;
  private leaderSeen: string | null | undefined = undefined;
  /** The etcd lease that holds the leader key (from the watch), and our watch of it. */
  private leaderLeaseId: string | null = null;
  private leaseWatch: { readonly leaseId: string; chain: ExpiryChain | null } | null = null;
  private readonly brokerTimeoutMs: number;

  constructor(
    private readonly options: ManagerOptions & { readonly name: string },
    private readonly logger: Logger,
  ) {
    const ttlMs = options.ttlSeconds * 1000;
    this.state = initialState({
      name: options.name,
      incarnation: randomUUID().slice(0, 8),
      ttlMs,
      checkIntervalMs: options.checkIntervalMs,
      leaseMarginMs: defaultLeaseMarginMs(ttlMs, options.checkIntervalMs),
      electionWaitMs: Math.min(1000, ttlMs / 3),
      totalFailureWaitMs: options.totalFailureWaitMs,
    });
    this.etcd = new EtcdCluster({ hosts: options.etcd, cluster: options.cluster, ttlSeconds: options.ttlSeconds, requestTimeoutMs: Math.max(1000, ttlMs / 3) });
    this.brokerTimeoutMs = Math.max(300, Math.min(1000, ttlMs / 3));
    this.broker = new BrokerLink(
      { address: options.broker, timeoutMs: this.brokerTimeoutMs, ...(options.username !== undefined ? { username: options.username } : {}), ...(options.password !== undefined ? { password: options.password } : {}) },
      () => this.poll(true),
    );
  }

  async start(): Promise<void> {
    // etcd may not be up yet (the hosts start in any order): keep asking, and say so once.
    let sentMs = now();
    for (let attempt = 0; ; attempt++) {
      try {
        // etcd starts the TTL when it processes the grant, after this moment (point 1).
        sentMs = now();
        await this.etcd.grant();
        break;
      } catch (err) {
        if (attempt === 0) this.logger.warn({ err, etcd: this.options.etcd }, 'etcd not reachable; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    this.feed({ kind: 'etcd-lease', nowMs: now(), validUntilMs: sentMs + this.options.ttlSeconds * 1000 });
    const table = await this.etcd.follow((t, key, revision) => this.etcdChanged(t, key, revision));
    this.etcdChanged(table, null, 0);
    this.logger.info({ cluster: this.options.cluster, broker: `${this.options.broker.host}:${this.options.broker.port}`, ttlSeconds: this.options.ttlSeconds, checkIntervalMs: this.options.checkIntervalMs, leaseMarginMs: this.state.config.leaseMarginMs }, 'manager started');
    this.poll(false);
    this.timer = setInterval(() => this.check(), this.options.checkIntervalMs);
    this.watch(null);
  }

  /** A long poll of the broker's status beside the periodic one (src/ha/status-watch.ts): a
   * change of role (a backup losing its primary, a promotion) is reported, and published, the
   * moment it happens rather than at the next check. */
  private watch(seen: string | null): void {
    if (this.stopped) return;
    const waitMs = seen === null ? 0 : WATCH_WAIT_MS;
    this.broker.request<HaStatus & { statusToken: string }>('status', { changedFrom: seen ?? '', waitMs }, waitMs + this.brokerTimeoutMs).then(
      (status) => {
        // A broker that does not know the long poll answered at once: the periodic poll it is.
        if (typeof status.statusToken !== 'string') return;
        if (seen !== null && status.statusToken !== seen && !this.stopped) {
          this.feed({ kind: 'broker', nowMs: now(), requestedAtMs: now(), report: reportOf(status) });
          this.publish(false);
        }
        this.watch(status.statusToken);
      },
      // The periodic poll reports what went wrong; the watch starts over when it can.
      () => setTimeout(() => this.watch(null), this.options.checkIntervalMs),
    );
  }

  /** SIGTERM: give the key back at once (revoking the lease drops it and our entry). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.decisionTimer) clearTimeout(this.decisionTimer);
    this.broker.close();
    await this.etcd.close(true);
  }

  private check(): void {
    if (this.stopped) return;
    this.keepAlive();
    this.poll(false);
    this.feed({ kind: 'tick', nowMs: now() });
    this.watchLeaderLease();
  }

  private suspectsLeader(): boolean {
    const broker = this.state.broker;
    return suspectsLeader({ leader: this.state.leader, leaderIsMine: this.state.leaderIsMine, name: this.options.name, brokerState: broker?.state ?? null, connectedToPrimary: broker?.connectedToPrimary ?? true });
  }

  /** While the leader may be gone with its host (our backup lost its primary, and another
   * manager's lease still holds the key), reads that lease's time left every LEASE_WATCH_MS and
   * revokes it once it has surely expired (lease-expiry.ts): the election then starts within
   * that, not at etcd's next sweep of expired leases (every 500 ms). */
  private watchLeaderLease(): void {
    const leaseId = this.leaderLeaseId;
    if (this.leaseWatch !== null || !this.suspectsLeader() || leaseId === null || this.stopped) return;
    const watch = { leaseId, chain: null as ExpiryChain | null };
    this.leaseWatch = watch;
    const ttlMs = this.options.ttlSeconds * 1000;
    const again = (): void => {
      this.leaseWatch = null;
    };
    const read = (): void => {
      if (this.stopped || this.leaseWatch !== watch || this.leaderLeaseId !== leaseId || !this.suspectsLeader()) return again();
      const sentMs = now();
      this.etcd.leaseSecondsLeft(leaseId).then(
        (ttlSeconds) => {
          const verdict = observeTtl(watch.chain, { sentMs, receivedMs: now(), ttlSeconds }, ttlMs);
          if (verdict.kind === 'gone') return again();
          if (verdict.kind === 'expired') {
            this.logger.warn({ leader: this.state.leader, leaseId }, "the leader's etcd lease has expired (its manager stopped renewing it): revoking it, so that the election starts now");
            this.etcd.revokeLease(leaseId).then(again, (err: unknown) => {
              this.logger.debug({ err }, 'could not revoke the expired lease');
              again();
            });
            return;
          }
          watch.chain = verdict.chain;
          setTimeout(read, LEASE_WATCH_MS);
        },
        () => setTimeout(read, LEASE_WATCH_MS),
      );
    };
    read();
  }

  private keepAlive(): void {
    if (this.keepAliveInFlight) return;
    this.keepAliveInFlight = true;
    const sentMs = now();
    this.etcd.keepAlive().then(
      (alive) => {
        this.keepAliveInFlight = false;
        if (alive) {
          this.feed({ kind: 'etcd-lease', nowMs: now(), validUntilMs: sentMs + this.options.ttlSeconds * 1000 });
          return;
        }
        this.feed({ kind: 'etcd-lease', nowMs: now(), validUntilMs: null });
        this.logger.warn({}, 'etcd lease lost; granting a new one');
        this.etcd.grant().then(
          () => this.publish(true),
          (err: unknown) => this.logger.warn({ err }, 'could not grant an etcd lease'),
        );
      },
      (err: unknown) => {
        // etcd unreachable: the lease's validity simply runs out (step.ts, point 4).
        this.keepAliveInFlight = false;
        this.logger.debug({ err }, 'etcd keep-alive failed');
      },
    );
  }

  /** Asks the broker for its status (again at once if asked while a poll is in flight:
   * `urgent`, after a drop or when the election wants a fresh report). */
  private poll(urgent: boolean): void {
    if (this.stopped) return;
    if (this.pollInFlight) {
      if (urgent) this.pollAgain = true;
      return;
    }
    this.pollInFlight = true;
    const requestedAtMs = now();
    void this.broker.status().then((answer) => {
      this.pollInFlight = false;
      const report = 'status' in answer ? reportOf(answer.status) : unavailableReport(answer.unavailable, this.state.broker);
      if ('status' in answer) this.leaseClock = answer.status.leaseClockMs === undefined ? null : { brokerMs: answer.status.leaseClockMs, receivedAtMs: now() };
      if (!('status' in answer) && this.state.broker?.state !== report.state) this.logger.warn({ state: report.state, error: answer.error }, 'broker not answering');
      this.feed({ kind: 'broker', nowMs: now(), requestedAtMs, report });
      this.publish(urgent);
      if (this.pollAgain) {
        this.pollAgain = false;
        this.poll(false);
      }
    });
  }

  private etcdChanged(table: KeyTable, key: string | null, revision: number): void {
    const view = readView(table);
    const nowMs = now();
    if (key === null || key === 'leader') {
      const lease = table.get('leader')?.lease;
      this.leaderLeaseId = lease !== undefined && lease !== '0' ? lease : null;
      if (view.leader !== this.leaderSeen) {
        this.leaderSeen = view.leader;
        this.feed({ kind: 'leader', nowMs, leader: view.leader, revision, mine: lease !== undefined && lease === this.etcd.currentLeaseId });
      }
    }
    if (key === null || key.startsWith('members/')) this.feed({ kind: 'members', members: memberEntries(view) });
    if (key === null || key === 'record') this.feed({ kind: 'record', nowMs, record: view.record, revision: table.get('record')?.revision ?? 0 });
    if (key === null || key === 'paused') if (view.paused !== this.state.paused) this.feed({ kind: 'paused', paused: view.paused });
    if (key === null || key === 'switchover') if (view.switchover !== this.state.switchover) this.feed({ kind: 'switchover', to: view.switchover });
    // A member's fresh report may be what the election waits for.
    if (key !== null && key.startsWith('members/')) this.feed({ kind: 'tick', nowMs });
  }

  private feed(event: ManagerEvent): void {
    if (this.stopped) return;
    const { state, actions } = step(this.state, event);
    this.state = state;
    for (const action of actions) this.carryOut(action);
  }

  private carryOut(action: ManagerAction): void {
    const name = this.options.name;
    const failed = (what: string) => (err: unknown) => this.logger.warn({ err, action: action.kind }, what);
    switch (action.kind) {
      case 'acquire':
        this.etcd.acquire(name, action.recordRevision, action.reserve ? { ...action.reserve, by: name, at: new Date().toISOString() } : null).then(
          (won) => this.feed({ kind: 'acquired', nowMs: now(), won }),
          (err: unknown) => {
            failed('could not take the leader key')(err);
            this.feed({ kind: 'acquired', nowMs: now(), won: false });
          },
        );
        return;
      case 'release':
        this.logger.warn({ reason: action.reason }, 'releasing the leader key');
        this.release();
        return;
      case 'promote':
        this.logger.warn({ leaseSeconds: action.leaseSeconds, force: action.force }, 'promoting the broker');
        this.broker.request<{ state: string; epoch: number; warnings: string[] }>('promote', { clusterManager: true, force: action.force, leaseSeconds: action.leaseSeconds, leaseId: action.leaseId, ...(action.record ? { record: promotionRecord(action.record) } : {}), ...(action.minEpoch !== undefined ? { minEpoch: action.minEpoch } : {}) }, 30_000).then(
          (result) => {
            this.logger.warn({ state: result.state, epoch: result.epoch, warnings: result.warnings }, 'broker promoted');
            this.feed({ kind: 'promoted', nowMs: now(), ok: true, epoch: result.epoch });
            this.poll(true);
          },
          (err: unknown) => this.feed({ kind: 'promoted', nowMs: now(), ok: false, error: (err as Error).message }),
        );
        return;
      case 'grant-lease':
        this.broker.request('lease', leaseGrant(action, this.leaseClock, now())).catch((err: unknown) => this.logger.debug({ err }, 'lease grant failed'));
        return;
      case 'extend-lease': {
        const id = action.id;
        this.broker.request('lease', { id, extendMs: action.extendMs, remainingMs: action.remainingMs }).catch((err: unknown) => {
          // Refused (expired, or replaced): the next renewal grants a new lease, if this manager
          // still leads. Anything else (a lost connection) is retried by the next extension.
          if (err instanceof ManagementError && err.code === 'NOT_ALLOWED') {
            this.logger.warn({ err, leaseId: id }, 'the broker refused to extend its serving lease');
            this.feed({ kind: 'lease-refused', nowMs: now(), id });
          }
        });
        return;
      }
      case 'write-record': {
        const value: RecordValue = { ...action.record, by: name, at: new Date().toISOString() };
        this.etcd.writeRecord(name, value).then(
          (written) => written || this.logger.warn({ record: action.record }, 'the record was not written: the leader key is no longer ours'),
          failed('could not write the record'),
        );
        return;
      }
      case 'gate-recorded':
        // A lost answer is sent again with the next renewal while the broker still waits.
        this.broker.request('lease', { gateRecorded: { epoch: action.epoch, generation: action.generation } }).catch((err: unknown) => this.logger.debug({ err }, 'gate-recorded not delivered'));
        return;
      case 'hint-primary':
        this.broker.request<{ hinted: boolean }>('primary-hint', { address: action.address }).then(
          (answer) => this.logger.info({ primary: action.address, followed: answer.hinted }, 'pointed the broker at the new primary'),
          (err: unknown) => this.logger.debug({ err }, 'primary hint failed'),
        );
        return;
      case 'report-now':
        this.poll(true);
        return;
      case 'decision':
        this.logger.info({ decision: action.decision.decision, reason: action.decision.reason }, 'decision');
        this.publish(false);
        return;
      case 'failover': {
        const value: FailoverValue = { to: name, at: new Date().toISOString(), reason: action.reason, epochBefore: action.epochBefore };
        this.etcd.put(`${this.etcd.keys.failovers}${Date.now()}-${name}`, value).catch(failed('could not record the failover'));
        return;
      }
    }
  }

  /** Deletes the leader key if it still holds our name. One that fails (etcd cut off) is sent
   * again while the key still shows our name and we do not hold it: this manager's keep-alives
   * go on (its member entry lives under the same lease), so the key would never expire on its
   * own and nobody else could lead (found by the simulator, test/sim/ha-manager.ts). */
  private release(): void {
    const name = this.options.name;
    this.etcd.release(name).catch((err: unknown) => {
      this.logger.warn({ err }, 'could not release the leader key; trying again');
      this.releaseAgain();
    });
  }

  /** While an acquire is in flight the release waits (the acquire may win the key back, and then
   * it is held), but it is not given up: a retry dropped then left the key under our name for
   * ever (found by the simulator, etcd seed 1624, with a manager cut off from etcd). */
  private releaseAgain(): void {
    const name = this.options.name;
    setTimeout(() => {
      if (this.stopped || this.state.holding || this.leaderSeen !== name) return;
      if (this.state.inFlight !== null) this.releaseAgain();
      else this.release();
    }, this.options.checkIntervalMs);
  }

  /** Writes this manager's member entry at once when what elections act on changed (its
   * broker's role, whether it leads; `force`: even if not), its decision a little later (a few
   * decisions of one failover go as one write), and its figures every REPUBLISH_MS. Every etcd
   * write costs each manager about 1 ms of CPU (grpc-js, measured here) to send or to hear of:
   * writing LSNs on every poll, and each decision at once, made a failover's managers spend
   * 40-60 ms of CPU each on a 2-core machine while the promotion waited for it. Elections read
   * fresh reports, forced when the key goes away or the broker loses its primary. */
  private publish(force: boolean): void {
    const broker = this.state.broker;
    if (!broker || this.stopped) return;
    const d = this.state.lastDecision;
    const nowMs = now();
    // Decisions carry monotonic time; operators read wall-clock time.
    const decision = d ? { ...d, at: new Date(Date.now() - (nowMs - d.atMs)).toISOString() } : null;
    this.reportToBroker(decision, nowMs);
    const shape = JSON.stringify({ broker: withoutFigures(broker), leading: this.state.holding });
    const decided = JSON.stringify(d);
    const due = force || shape !== this.published.shape || nowMs - this.published.atMs >= REPUBLISH_MS;
    if (!due) {
      if (decided !== this.published.decision && this.decisionTimer === null) {
        this.decisionTimer = setTimeout(() => {
          this.decisionTimer = null;
          this.publish(true);
        }, DECISION_PUBLISH_MS);
      }
      return;
    }
    if (this.decisionTimer !== null) clearTimeout(this.decisionTimer);
    this.decisionTimer = null;
    this.published = { shape, decision: decided, atMs: nowMs };
    const body = { name: this.options.name, broker, manager: { pid: process.pid, host: hostname(), leading: this.state.holding }, decision };
    const value: MemberValue = { ...body, at: new Date().toISOString() };
    this.etcd.putLeased(`${this.etcd.keys.members}${this.options.name}`, value).catch((err: unknown) => this.logger.debug({ err }, 'could not publish the member entry'));
  }

  /** The broker shows its manager's view in its status and console (a display only): sent at
   * once when it changes (a local request, no etcd write), and again every REPORT_AGAIN_MS. */
  private reportToBroker(decision: { readonly decision: string; readonly reason: string; readonly at: string } | null, nowMs: number): void {
    const view = { manager: this.options.name, leader: this.state.leader, leading: this.state.holding, paused: this.state.paused };
    const viewText = JSON.stringify({ view, d: decision && { decision: decision.decision, reason: decision.reason } });
    if (viewText === this.reported.text && nowMs - this.reported.atMs < REPORT_AGAIN_MS) return;
    this.reported = { text: viewText, atMs: nowMs };
    const report = { ...view, decision: decision && { decision: decision.decision, reason: decision.reason.slice(0, 1000), at: decision.at } };
    this.broker.request('manager-report', report).catch((err: unknown) => this.logger.debug({ err }, 'could not report to the broker'));
  }

}

/** A report without the figures that move with every message (the LSNs, and how far the heard
 * primary got): what a publish needs to go at once for. */
function withoutFigures(report: BrokerReport): unknown {
  const { lastLsn: _last, confirmedLsn: _confirmed, backupsConfirmed: _backups, heard, ...rest } = report;
  return { ...rest, heard: heard && { epoch: heard.epoch, primary: heard.primary } };
}

