// The issue-17 manager (qpid-ha-manager) in the simulator: one per broker, on its host, each
// driving the REAL pure step function (src/manager/step.ts) as src/manager/driver.ts does, over
// the simulated etcd (etcd.ts) and the simulated network. What this file holds is the driver's
// I/O done with simulated requests: every check interval one keep-alive of its etcd lease, one
// status of its broker and one tick; a watch on the cluster's keys; the actions carried out as
// requests to etcd and to the broker's management interface (promote with a serving lease,
// lease grants and extensions, primary hints). Its decisions are step()'s, not this file's.
//
// What the management connection tells the real driver, a simulated call tells this one: a
// broker process that is gone on a live host refuses at once ('dead': its manager releases the
// key); a stopped, partitioned or dead-machine broker does not answer ('unreachable': the key
// is released only once the serving lease it was granted has surely passed, point 3).
//
// A manager process can be killed (its etcd lease then expires after ttl) and is restarted by
// the supervisor with a new incarnation, like a broker.

import { BrokerError } from '../../src/broker/errors.js';
import type { HaStatus } from '../../src/ha/node.js';
import { leaseGrant, reportOf, unavailableReport, type LeaseClockReading } from '../../src/manager/broker-link.js';
import { clusterKeys, memberEntries, readView, type ClusterKeys, type KeyTable } from '../../src/manager/keys.js';
import { defaultLeaseMarginMs, initialState, promotionRecord, step, type ManagerAction, type ManagerEvent, type ManagerState } from '../../src/manager/step.js';
import type { SimBroker } from './broker.js';
import type { Oracle } from './checkers.js';
import { ETCD_NODE, type SimEtcd, type WatchEvent } from './etcd.js';
import type { SimNetwork } from './network.js';
import type { Trace } from './trace.js';
import { Life, type World } from './world.js';

export const SIM_CLUSTER = 'sim';

export interface HaManagerKnobs {
  readonly ttlMs: number;
  readonly checkIntervalMs: number;
  /** The serving-lease margin (point 2); the production default unless a variant plants a bug. */
  readonly leaseMarginMs: number;
  readonly totalFailureWaitMs: number;
  readonly restartDelayMs: number;
}

export function defaultMargin(ttlMs: number, checkIntervalMs: number): number {
  return defaultLeaseMarginMs(ttlMs, checkIntervalMs);
}

export interface HaManagerEnv {
  readonly world: World;
  readonly net: SimNetwork;
  readonly trace: Trace;
  readonly etcd: SimEtcd;
  readonly oracle: Oracle;
  readonly knobs: HaManagerKnobs;
}

/** One process lifetime of a manager: its state lives and dies with it. */
class Incarnation {
  state: ManagerState;
  etcdLease: string | null = null;
  table: Map<string, { value: string; revision: number; lease: string }> = new Map();
  keepAliveInFlight = false;
  pollInFlight = false;
  /** The broker's lease clock in its last status, and when it came: a grant names it. */
  leaseClock: LeaseClockReading | null = null;
  pollAgain = false;
  leaderSeen: string | null | undefined = undefined;
  published = '';

  constructor(
    readonly life: Life,
    name: string,
    knobs: HaManagerKnobs,
  ) {
    this.state = initialState({
      name,
      incarnation: `i${life.incarnation}`,
      ttlMs: knobs.ttlMs,
      checkIntervalMs: knobs.checkIntervalMs,
      leaseMarginMs: knobs.leaseMarginMs,
      electionWaitMs: Math.min(1000, knobs.ttlMs / 3),
      totalFailureWaitMs: knobs.totalFailureWaitMs,
    });
  }
}

export class SimHaManager {
  /** The node name on the network (and in the trace): m0 for b0. */
  readonly node: string;
  private current: Incarnation | null = null;
  private incarnations = 0;
  private readonly keys: ClusterKeys = clusterKeys(SIM_CLUSTER);
  promotionsRequested = 0;

  constructor(
    readonly broker: SimBroker,
    private readonly env: HaManagerEnv,
  ) {
    this.node = `m${broker.name.slice(1)}`;
  }

  get up(): boolean {
    return this.current?.life.alive ?? false;
  }

  get life(): Life | null {
    return this.current?.life ?? null;
  }

  start(): void {
    const life = new Life(this.node, ++this.incarnations);
    const inc = new Incarnation(life, this.broker.name, this.env.knobs);
    this.current = inc;
    this.env.net.attach(this.node, life, null);
    this.env.trace.note(this.node, 'manager started', { incarnation: life.incarnation });
    this.env.world.schedule(0, life, () => void this.boot(inc));
  }

  /** kill -9 of the manager process (its etcd lease lives on until ttl). */
  kill(why: string): void {
    const inc = this.current;
    if (!inc || !inc.life.alive) return;
    this.env.trace.note(this.node, `manager killed (${why})`);
    inc.life.alive = false;
    this.env.net.died(this.node, inc.life, true);
  }

  private etcdCall<T>(inc: Incarnation, handler: () => T): Promise<{ ok: true; value: T } | { ok: false }> {
    return this.env.net.call(this.node, ETCD_NODE, handler, Math.max(1000, this.env.knobs.ttlMs / 3)).then((o) => (o.kind === 'answer' ? { ok: true as const, value: o.value } : { ok: false as const }));
  }

  private async boot(inc: Incarnation): Promise<void> {
    const ttlMs = this.env.knobs.ttlMs;
    // The lease's validity counts from before the grant was sent: etcd starts the TTL when it
    // processes the grant, which is after this moment.
    for (;;) {
      const sentMs = this.env.world.nowMs;
      const granted = await this.etcdCall(inc, () => this.env.etcd.grant(ttlMs));
      if (!inc.life.alive) return;
      if (granted.ok) {
        inc.etcdLease = granted.value;
        this.feed(inc, { kind: 'etcd-lease', nowMs: this.env.world.nowMs, validUntilMs: sentMs + ttlMs });
        break;
      }
      await this.sleep(inc, 500);
      if (!inc.life.alive) return;
    }
    for (;;) {
      const followed = await this.etcdCall(inc, () => this.env.etcd.follow(this.keys.prefix, this.node, inc.life, (events) => this.watched(inc, events)));
      if (!inc.life.alive) return;
      if (followed.ok) {
        inc.table = new Map(followed.value);
        this.etcdChanged(inc, null, 0);
        break;
      }
      await this.sleep(inc, 500);
      if (!inc.life.alive) return;
    }
    this.poll(inc, false);
    const check = (): void => {
      this.keepAlive(inc);
      this.poll(inc, false);
      this.feed(inc, { kind: 'tick', nowMs: this.env.world.nowMs });
      this.env.world.schedule(this.env.knobs.checkIntervalMs, inc.life, check);
    };
    this.env.world.schedule(this.env.knobs.checkIntervalMs, inc.life, check);
  }

  private sleep(inc: Incarnation, ms: number): Promise<void> {
    return new Promise((resolve) => this.env.world.schedule(ms, inc.life, resolve));
  }

  private keepAlive(inc: Incarnation): void {
    if (inc.keepAliveInFlight || inc.etcdLease === null) return;
    inc.keepAliveInFlight = true;
    const sentMs = this.env.world.nowMs;
    const id = inc.etcdLease;
    void this.etcdCall(inc, () => this.env.etcd.keepAlive(id)).then((answer) => {
      inc.keepAliveInFlight = false;
      if (!answer.ok) return; // etcd unreachable: the validity runs out (point 4)
      if (answer.value > 0) {
        this.feed(inc, { kind: 'etcd-lease', nowMs: this.env.world.nowMs, validUntilMs: sentMs + this.env.knobs.ttlMs });
        return;
      }
      this.feed(inc, { kind: 'etcd-lease', nowMs: this.env.world.nowMs, validUntilMs: null });
      this.env.trace.note(this.node, 'etcd lease lost; granting a new one');
      void this.etcdCall(inc, () => this.env.etcd.grant(this.env.knobs.ttlMs)).then((granted) => {
        if (!granted.ok || !inc.life.alive) return;
        inc.etcdLease = granted.value;
        this.publish(inc, true);
      });
    });
  }

  private poll(inc: Incarnation, urgent: boolean): void {
    if (!inc.life.alive) return;
    if (inc.pollInFlight) {
      if (urgent) inc.pollAgain = true;
      return;
    }
    inc.pollInFlight = true;
    const requestedAtMs = this.env.world.nowMs;
    const timeoutMs = Math.max(300, Math.min(1000, this.env.knobs.ttlMs / 3));
    void this.env.net.call<HaStatus>(this.node, this.broker.name, () => statusOf(this.broker), timeoutMs).then((outcome) => {
      inc.pollInFlight = false;
      const report = outcome.kind === 'answer' ? reportOf(outcome.value) : unavailableReport(outcome.kind === 'refused' ? 'dead' : 'unreachable', inc.state.broker);
      if (outcome.kind === 'answer') inc.leaseClock = outcome.value.leaseClockMs === undefined ? null : { brokerMs: outcome.value.leaseClockMs, receivedAtMs: this.env.world.nowMs };
      this.feed(inc, { kind: 'broker', nowMs: this.env.world.nowMs, requestedAtMs, report });
      this.publish(inc, urgent);
      if (inc.pollAgain) {
        inc.pollAgain = false;
        this.poll(inc, false);
      }
    });
  }

  private watched(inc: Incarnation, events: readonly WatchEvent[]): void {
    for (const e of events) {
      if (!e.key.startsWith(this.keys.prefix)) continue;
      const key = e.key.slice(this.keys.prefix.length);
      if (e.value === null) inc.table.delete(key);
      else inc.table.set(key, { value: e.value, revision: e.revision, lease: e.lease });
      this.etcdChanged(inc, key, e.revision);
    }
  }

  /** driver.ts's etcdChanged: what changed in etcd, as events. */
  private etcdChanged(inc: Incarnation, key: string | null, revision: number): void {
    const table: KeyTable = inc.table;
    const view = readView(table);
    const nowMs = this.env.world.nowMs;
    if (key === null || key === 'leader') {
      if (view.leader !== inc.leaderSeen) {
        inc.leaderSeen = view.leader;
        const lease = table.get('leader')?.lease;
        this.feed(inc, { kind: 'leader', nowMs, leader: view.leader, revision, mine: lease !== undefined && lease === inc.etcdLease });
      }
    }
    if (key === null || key.startsWith('members/')) this.feed(inc, { kind: 'members', members: memberEntries(view) });
    if (key === null || key === 'record') this.feed(inc, { kind: 'record', nowMs, record: view.record, revision: table.get('record')?.revision ?? 0 });
    if (key !== null && key.startsWith('members/')) this.feed(inc, { kind: 'tick', nowMs });
  }

  private feed(inc: Incarnation, event: ManagerEvent): void {
    if (!inc.life.alive) return;
    const { state, actions } = step(inc.state, event);
    inc.state = state;
    for (const action of actions) this.carryOut(inc, action);
  }

  private carryOut(inc: Incarnation, action: ManagerAction): void {
    const name = this.broker.name;
    const etcd = this.env.etcd;
    const now = (): number => this.env.world.nowMs;
    const brokerCall = <T>(handler: (node: NonNullable<SimBroker['node']>) => T | Promise<T>, timeoutMs = 1000) =>
      this.env.net.call<T>(this.node, name, () => {
        const node = this.broker.node;
        if (!node) throw new Error('not running');
        return handler(node);
      }, timeoutMs);
    switch (action.kind) {
      case 'acquire': {
        const lease = inc.etcdLease;
        const recordRevision = action.recordRevision;
        const reserve = action.reserve ? JSON.stringify({ ...action.reserve, by: name, at: '' }) : null;
        void this.etcdCall(inc, () => (lease === null ? false : etcd.createIfAbsent(this.keys.leader, name, lease, { key: this.keys.record, revision: recordRevision }, reserve))).then((answer) => this.feed(inc, { kind: 'acquired', nowMs: now(), won: answer.ok && answer.value }));
        return;
      }
      case 'release':
        this.env.trace.note(this.node, 'releasing the leader key', { reason: action.reason });
        this.release(inc);
        return;
      case 'promote': {
        this.promotionsRequested++;
        this.env.trace.note(this.node, `promote ${name}`, { leaseSeconds: action.leaseSeconds, leaseId: action.leaseId });
        void brokerCall(async (node) => {
          const before = node.state;
          const beforeStatus = node.status();
          const heard = this.broker.recordedHeard;
          const r = await node.promote({ force: action.force, leaseSeconds: action.leaseSeconds, leaseId: action.leaseId, ...(action.record ? { record: promotionRecord(action.record) } : {}), ...(action.minEpoch !== undefined ? { minEpoch: action.minEpoch } : {}) });
          this.env.oracle.promotedFrom(name, before, r.state, beforeStatus, heard);
          return r;
        }, 30_000).then((outcome) => {
          const ok = outcome.kind === 'answer';
          const error = outcome.kind === 'error' ? ((outcome.error as Error)?.message ?? String(outcome.error)) : outcome.kind;
          this.env.trace.note(this.node, `promote ${name}: ${ok ? `now ${outcome.value.state} epoch ${outcome.value.epoch}` : `failed: ${error}`}`);
          this.feed(inc, ok ? { kind: 'promoted', nowMs: now(), ok: true, epoch: outcome.value.epoch } : { kind: 'promoted', nowMs: now(), ok: false, error });
          if (ok) this.poll(inc, true);
        });
        return;
      }
      case 'grant-lease': {
        this.env.trace.note(this.node, 'grant serving lease', { id: action.id, seconds: action.seconds });
        // Made when it is sent, as the driver's request is: the broker reads it whenever it runs.
        const request = leaseGrant(action, inc.leaseClock, now());
        void brokerCall((node) => node.servingLease(request));
        return;
      }
      case 'extend-lease': {
        const id = action.id;
        void brokerCall((node) => node.servingLease({ id, extendMs: action.extendMs, remainingMs: action.remainingMs })).then((outcome) => {
          if (outcome.kind === 'error' && outcome.error instanceof BrokerError && outcome.error.code === 'NOT_ALLOWED') {
            this.env.trace.note(this.node, 'the broker refused to extend its serving lease', { id });
            this.feed(inc, { kind: 'lease-refused', nowMs: now(), id });
          }
        });
        return;
      }
      case 'write-record': {
        const value = JSON.stringify({ ...action.record, by: name, at: '' });
        void this.etcdCall(inc, () => etcd.putIfValue(this.keys.leader, name, this.keys.record, value));
        return;
      }
      case 'gate-recorded':
        void brokerCall((node) => node.gateRecorded(action.epoch, action.generation));
        return;
      case 'hint-primary':
        void brokerCall((node) => node.primaryHint(action.address));
        return;
      case 'report-now':
        this.poll(inc, true);
        return;
      case 'decision':
        this.env.trace.note(this.node, `decision: ${action.decision.decision}`, { reason: action.decision.reason });
        this.publish(inc, true);
        return;
      case 'failover':
        return;
    }
  }

  /** Deletes the key if it still holds our name. A release that does not reach etcd is sent
   * again while the key still shows our name and we do not hold it: the keep-alives go on (the
   * member entry lives under the same lease), so the key would never expire on its own. */
  private release(inc: Incarnation): void {
    const name = this.broker.name;
    void this.etcdCall(inc, () => this.env.etcd.deleteIfValue(this.keys.leader, name)).then((answer) => {
      if (answer.ok || !inc.life.alive) return;
      this.releaseAgain(inc);
    });
  }

  /** As the driver does: an acquire in flight makes the retry wait, never drops it. */
  private releaseAgain(inc: Incarnation): void {
    const name = this.broker.name;
    this.env.world.schedule(this.env.knobs.checkIntervalMs, inc.life, () => {
      if (inc.state.holding || inc.table.get('leader')?.value !== name) return;
      if (inc.state.inFlight !== null) this.releaseAgain(inc);
      else this.release(inc);
    });
  }

  /** The member entry, under the etcd lease, whenever it changed. */
  private publish(inc: Incarnation, force: boolean): void {
    const broker = inc.state.broker;
    const lease = inc.etcdLease;
    if (!broker || lease === null || !inc.life.alive) return;
    const text = JSON.stringify({ name: this.broker.name, broker, manager: { pid: 0, host: this.broker.name, leading: inc.state.holding }, decision: null, at: '' });
    if (!force && text === inc.published) return;
    inc.published = text;
    const key = `${this.keys.members}${this.broker.name}`;
    // A write that did not reach etcd is made again at the next publish, as the driver's
    // periodic republish (REPUBLISH_MS) does: otherwise etcd kept a stale entry (a primary that
    // had restarted joining) and the other managers waited for it for ever (etcd seed 1413).
    void this.etcdCall(inc, () => this.env.etcd.put(key, text, lease)).then((answer) => {
      if (!answer.ok && inc.published === text) inc.published = '';
    });
  }
}

function statusOf(broker: SimBroker): HaStatus {
  const node = broker.node;
  if (!node) throw new Error('not running');
  return node.status();
}
