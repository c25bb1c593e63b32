// The checkers: they watch the simulated cluster after every event and at the end, and record a
// violation (a stable code and the simulated time) whenever the replication protocol breaks a
// promise of DESIGN.md §3-5:
//   LOST             a message settled (accepted) to its producer by the legitimate primary is
//                    neither on a later primary nor consumed, although a broker that had it
//                    durable when it was settled (the primary, or a backup in its ack gate) still
//                    had it and could have been promoted instead: never wiped since, and ready
//                    (or joining, when the new primary was promoted from joining). When no such
//                    holder is left the contract allows the loss (N-1 failures): it is counted.
//                    A broker the manager promoted by a bad choice (while the old primary
//                    lived) lacks what the old primary settled meanwhile: that loss is the
//                    manager's, and is counted apart (lostToBadChoices).
//   TWO_PRIMARIES    two brokers served clients with the same epoch.
//   STALE_SERVING    a broker served clients with an epoch below the highest promoted, before
//                    the cluster manager made any bad choice.
//   STALE_NOT_FENCED a stale primary still served clients a bounded time after the heal.
//   STALE_SETTLED    a stale primary settled a message before the manager made any bad choice.
//   SETTLED_EARLY    a message was settled before the primary and every backup in its ack gate
//                    had it durable (the ordering contract of ack-gate.ts).
//   TRUNCATED_SETTLED
//                    a broker took back (incremental catch-up) the enqueue of a message the
//                    legitimate primary had settled and nobody had consumed.
//   SETTLED_ALONE    a replicated message was settled while fewer backups than --ha-min-backups
//                    had it durable on their disks (it must be durable on min-backups + 1
//                    brokers), whatever the ack gate counted.
//   BACKUP_SERVED    a backup admitted a client or took a publish.
//   PROMOTED_UNREADY a broker in catch-up accepted a promotion (only ready backups may be
//                    promoted, reference §1.12.12.4).
//   PROMOTED_BEHIND  a broker accepted a promotion (not forced) although its store ends before
//                    a primary position it heard of and recorded (src/ha/heard.ts), and the
//                    liveness rule did not hold: another broker held more, or was down or wiped.
//   NONE_PROMOTABLE  the primary gone, every other broker running and reachable, no broker
//                    accepted a promotion without --force (the liveness rule, issue 15).
//   NOT_PREFIX       a backup applied a log entry its primary does not have at that LSN.
//   STALE_RECORDS    a backup that had seen epoch E applied records of a primary below E.
//   ORDER            a producer's messages on a queue are out of order beyond what resends
//                    explain (a message settled before another was first sent sits after it).
//   CONFIG_DIVERGED, MESSAGES_DIVERGED
//                    after convergence a ready backup's queues, exchanges, bindings or messages
//                    differ from the primary's.
//   CONFIG_LOST      like LOST, for a configuration change confirmed to the operator: a queue,
//                    exchange or binding it created is missing on a later primary, or one it
//                    deleted is back.
//   NOT_CONVERGED    the liveness phase ended without a primary, ready backups and every
//                    producer's messages settled.
//   BROKER_THREW, UNHANDLED_REJECTION
//                    production code threw out of an event, or left a rejection unhandled.
//   LEASE_OUTLIVES_KEY
//                    (etcd managers) etcd created the leader key for one manager while another
//                    broker was primary with its serving lease still running: the timing
//                    argument of src/manager/step.ts broken.

import type { Heard } from '../../src/ha/heard.js';
import type { HaStatus } from '../../src/ha/node.js';
import type { HaState } from '../../src/ha/role.js';
import { servesClients } from '../../src/ha/role.js';
import type { Settlements } from '../../src/ha/settlements.js';
import type { CommitTicket, LogEntry, StoreRecord } from '../../store/index.js';
import type { SimBroker } from './broker.js';
import type { DiskHooks } from './disk.js';
import type { SimNetwork } from './network.js';
import { livenessCandidates, unjustifiedBehind } from './promotion-checks.js';
import { replicatedState, sameRecord, summarize } from './compare.js';
import { ConfigExpectations } from './config-check.js';
import { OrderLedger, type ProducerView } from './order.js';
import { messageKey, parseBody, type AdminOp, type SettleInfo } from './protocol.js';
import type { ServerHooks } from './server.js';
import type { Trace } from './trace.js';
import type { Life, World } from './world.js';

export type ViolationCode =
  | 'LOST'
  | 'TWO_PRIMARIES'
  | 'STALE_SERVING'
  | 'STALE_NOT_FENCED'
  | 'STALE_SETTLED'
  | 'SETTLED_EARLY'
  | 'SETTLED_ALONE'
  | 'TRUNCATED_SETTLED'
  | 'BACKUP_SERVED'
  | 'PROMOTED_UNREADY'
  | 'PROMOTED_BEHIND'
  | 'NONE_PROMOTABLE'
  | 'NOT_PREFIX'
  | 'STALE_RECORDS'
  | 'ORDER'
  | 'CONFIG_DIVERGED'
  | 'CONFIG_LOST'
  | 'MESSAGES_DIVERGED'
  | 'NOT_CONVERGED'
  | 'BROKER_THREW'
  | 'UNHANDLED_REJECTION'
  | 'LEASE_OUTLIVES_KEY';

export interface Violation {
  readonly code: ViolationCode;
  readonly atMs: number;
  readonly detail: string;
}

interface Settled {
  readonly producer: string;
  readonly seq: number;
  readonly info: SettleInfo;
  /** Settled by the old primary while a bad promotion was under way. */
  readonly inBadWindow: boolean;
}

export interface OracleOptions {
  /** How long after the heal a stale primary may still serve. */
  readonly fenceBoundMs: number;
  /** No STONITH (the etcd managers): a stopped or cut-off primary lives on, admitting clients
   * but settling nothing once its serving lease passed, until epoch fencing stops it. Serving
   * stale is then allowed until the fence bound after the heal; settling stale never is. */
  readonly fencedByLease?: boolean;
}

const VIOLATIONS_KEPT_MAX = 50;
/** Who asks the brokers whether they are promotable, and how long it waits (probes of a dead
 * machine's broker take up to 5 s). */
const ASKER = 'mgr';
const PROMOTABLE_TIMEOUT_MS = 15_000;

export class Oracle {
  readonly violations: Violation[] = [];
  maxEpoch = 0;
  private readonly servedBy = new Map<number, string>();
  private readonly epochOfLife = new Map<Life, number>();
  private readonly storeOfLife = new Map<Life, SimBroker>();
  /** Times a broker's store was wiped (a catch-up starts over): what it held is gone. */
  private readonly failures = new Map<string, number[]>();
  readonly settled = new Map<string, Settled>();
  readonly consumed = new Set<string>();
  private readonly ledger = new OrderLedger();
  private readonly lastState = new Map<string, HaState | null>();
  private readonly staleSince = new Map<Life, number>();
  private readonly reported = new Set<string>();
  healedAtMs: number | null = null;
  /** Set by the manager's first bad choice: from then on stale primaries are expected until the
   * heal, and what they settle is counted, not failed. */
  badChoiceMade = false;
  staleSettled = 0;
  legitSettled = 0;
  permittedLosses = 0;
  lostToBadChoices = 0;
  promotions = 0;
  /** How often each check ran (so that a run can show its checkers were not idle). */
  readonly checks = { gate: 0, prefix: 0, survival: 0, order: 0, converged: 0, lease: 0, liveness: 0 };
  private readonly badlyPromoted = new Set<string>();

  /** The manager is about to promote `broker` while the old primary may live. */
  badPromotion(broker: string): void {
    this.badlyPromoted.add(broker);
    this.badWindows.push({ broker, fromMs: this.world.nowMs, toMs: null });
  }

  private closeBadWindow(broker: string): void {
    for (const w of this.badWindows) if (w.broker === broker && w.toMs === null) w.toMs = this.world.nowMs;
  }

  /** The broker refused the bad promotion: nothing changed. */
  badPromotionRefused(broker: string): void {
    const at = this.badWindows.findIndex((w) => w.broker === broker && w.toMs === null);
    if (at !== -1) this.badWindows.splice(at, 1);
  }

  /** Bad promotions: from the manager's request until the broker serves (or dies), the old
   * primary still settles legitimately what the new one will lack. */
  private readonly badWindows: { readonly broker: string; readonly fromMs: number; toMs: number | null }[] = [];

  constructor(
    private readonly world: World,
    private readonly trace: Trace,
    private readonly brokers: readonly SimBroker[],
    private readonly options: OracleOptions,
  ) {}

  violation(code: ViolationCode, detail: string, once?: string): void {
    if (once !== undefined) {
      if (this.reported.has(once)) return;
      this.reported.add(once);
    }
    this.trace.note('chk', `VIOLATION ${code}`, { detail });
    if (this.violations.length < VIOLATIONS_KEPT_MAX) this.violations.push({ code, atMs: this.world.nowMs, detail });
  }

  wiped(broker: string, why: string): void {
    let list = this.failures.get(broker);
    if (!list) {
      list = [];
      this.failures.set(broker, list);
    }
    list.push(this.world.nowMs);
    this.trace.debug('chk', `${broker} holds nothing any more`, { why });
  }

  private failedSince(broker: string, sinceMs: number): boolean {
    return (this.failures.get(broker) ?? []).some((t) => t >= sinceMs);
  }

  private broker(name: string): SimBroker | undefined {
    return this.brokers.find((b) => b.name === name);
  }

  /** The epoch a broker serves clients with right now, or null. */
  servingEpoch(broker: SimBroker): number | null {
    const node = broker.node;
    if (!node || !broker.up || !broker.server?.currentService || !servesClients(node.state)) return null;
    return node.primaryReplicator()?.epoch ?? null;
  }

  // ------------------------------------------------------------------ after every event

  afterEvent(): void {
    for (const broker of this.brokers) {
      if (!broker.up) this.closeBadWindow(broker.name);
      const state = broker.up ? (broker.node?.state ?? null) : null;
      const previous = this.lastState.get(broker.name) ?? null;
      if (state !== previous) {
        this.lastState.set(broker.name, state);
        // A promotion may pass through recovering within one event.
        const primary = (s: HaState | null): boolean => s === 'recovering' || s === 'active';
        if (primary(state) && !primary(previous)) this.newPrimary(broker, previous);
      }
      const epoch = this.servingEpoch(broker);
      const life = broker.life;
      if (epoch === null || !life) {
        if (life) this.staleSince.delete(life);
        continue;
      }
      this.epochOfLife.set(life, epoch);
      // An epoch counts once its primary serves (its epoch record is durable): a promotion whose
      // record a crash took away never happened.
      if (epoch > this.maxEpoch) {
        this.maxEpoch = epoch;
        this.trace.note('chk', `epoch ${epoch} serves`, { broker: broker.name });
      }
      const holder = this.servedBy.get(epoch);
      if (holder === undefined) this.servedBy.set(epoch, broker.name);
      else if (holder !== broker.name) this.violation('TWO_PRIMARIES', `${broker.name} and ${holder} both served clients with epoch ${epoch}`, `two:${epoch}`);
      if (epoch >= this.maxEpoch) {
        this.staleSince.delete(life);
        continue;
      }
      if (!this.badChoiceMade && !this.options.fencedByLease) {
        this.violation('STALE_SERVING', `${broker.name} serves clients with epoch ${epoch} after epoch ${this.maxEpoch} was promoted`, `stale:${broker.name}:${life.incarnation}`);
        continue;
      }
      const since = this.staleSince.get(life) ?? this.world.nowMs;
      this.staleSince.set(life, since);
      const healed = this.healedAtMs;
      if (healed !== null && this.world.nowMs - Math.max(since, healed) > this.options.fenceBoundMs) {
        this.violation('STALE_NOT_FENCED', `${broker.name} (epoch ${epoch}) still serves clients ${Math.round(this.world.nowMs - healed)} ms after the heal; epoch ${this.maxEpoch} is current`, `unfenced:${broker.name}:${life.incarnation}`);
      }
    }
  }

  /** A broker became primary: what every settled message must survive (DESIGN.md §5). */
  private newPrimary(broker: SimBroker, previous: HaState | null): void {
    this.promotions++;
    const epoch = broker.node?.primaryReplicator()?.epoch ?? this.maxEpoch;
    this.trace.note('chk', `${broker.name} is primary`, { epoch, from: previous });
    const bad = this.badlyPromoted.delete(broker.name);
    this.closeBadWindow(broker.name);
    this.checkHasSettled(broker, `promotion of ${broker.name} (epoch ${epoch})`, previous === 'joining', bad);
    // Positions above what the new primary has were never replicated: they will be reused.
    const store = broker.store;
    if (!store) return;
    this.ledger.promoted(epoch, (queue) => store.queue(queue)?.lastPosition ?? 0);
  }

  /** Every message settled by a legitimate primary is on `broker` or was consumed, unless the
   * contract allows its loss (every broker that held it failed since). */
  checkHasSettled(broker: SimBroker, when: string, fromJoining: boolean, badChoice = false): void {
    this.checkConfig(broker, when, fromJoining, badChoice);
    const present = this.messagesOn(broker);
    for (const [key, settled] of this.settled) {
      this.checks.survival++;
      if (settled.info.atMs > this.world.nowMs || present.has(key) || this.consumed.has(key)) continue;
      const intact = this.intactHolder(settled.info, broker.name, fromJoining);
      if (intact !== null && (badChoice || settled.inBadWindow)) {
        this.lostToBadChoices++;
        this.trace.note('chk', `message ${key} lost to the manager's bad choice`, { intact });
        this.settled.delete(key);
        continue;
      }
      if (intact === null) {
        this.permittedLosses++;
        this.trace.note('chk', `message ${key} lost; every holder failed (allowed)`, { holders: settled.info.holders });
        this.settled.delete(key);
        continue;
      }
      this.violation('LOST', `message ${key} settled by ${settled.info.broker} (epoch ${settled.info.epoch}) at ${settled.info.atMs.toFixed(3)} ms is missing after ${when}; ${intact} still held it`, `lost:${key}`);
    }
  }

  /** A holder whose store was not wiped since the settlement and that is the broker checked,
   * or could have been promoted instead: ready, or joining when the checked broker was itself
   * promoted from joining (total failure: the manager must pick the most recent store). A
   * crashed broker keeps its durable store; it counts again once it runs. */
  private intactHolder(info: SettleInfo, checked: string, fromJoining: boolean): string | null {
    for (const holder of info.holders) {
      if (this.failedSince(holder, info.atMs)) continue;
      if (holder === checked) return holder;
      const broker = this.broker(holder);
      const state = broker?.up ? broker.node?.state : undefined;
      if (state === 'ready' || (fromJoining && state === 'joining')) return holder;
    }
    return null;
  }

  /** The manager's promote request (never forced) was accepted by a broker that was catching
   * up, or whose store ended before a primary position it had heard of. */
  promotedFrom(broker: string, before: HaState, after: HaState, status: HaStatus, heard: Heard | null): void {
    if (after !== 'recovering' && after !== 'active') return;
    if (before === 'catchup') this.violation('PROMOTED_UNREADY', `${broker} was promoted while catching up (its store is partial)`);
    // What its data dir recorded, not what the broker says of itself; and the liveness rule's
    // conditions as the simulator sees them.
    const unjustified = unjustifiedBehind(broker, status, heard, this.brokers, this.brokers.length >= 3 ? 1 : 0);
    if (unjustified !== null) this.violation('PROMOTED_BEHIND', `${broker} was promoted without --force although ${unjustified}`);
  }

  /** The liveness rule (issue 15), asked by the manager whenever it finds no primary: when it
   * applies (promotion-checks.ts), some broker must accept a promotion without --force. Every
   * broker answers with the production checks, nothing changed (HaNode.promotionRefusal). */
  async checkPromotable(net: SimNetwork): Promise<void> {
    if (this.askingPromotable) return;
    this.askingPromotable = true;
    try {
      await this.askPromotable(net);
    } finally {
      this.askingPromotable = false;
    }
  }

  private askingPromotable = false;

  private async askPromotable(net: SimNetwork): Promise<void> {
    const lastPrimary = this.servedBy.get(this.maxEpoch) ?? null;
    const candidates = livenessCandidates(this.brokers, lastPrimary, net);
    if (!candidates) return;
    this.checks.liveness++;
    // Asked as the manager asks (over the network, on its clock): a broker that dies while it
    // answers takes its own timers with it.
    const answers = await Promise.all(
      candidates.map(async (b) => {
        const refusal = await net.request(ASKER, b.name, async () => (await b.node?.promotionRefusal()) ?? 'promotable', PROMOTABLE_TIMEOUT_MS);
        return refusal === null ? null : `${b.name}: ${refusal}`;
      }),
    );
    if (answers.some((r) => r === null || r.endsWith(': promotable') || /already in progress/.test(r))) return;
    const refusals = answers as string[];
    // The world moved while the brokers were asked (a restart, a primary found): judge again later.
    if (livenessCandidates(this.brokers, lastPrimary, net)?.length !== candidates.length) return;
    this.violation('NONE_PROMOTABLE', `no broker accepts a promotion without --force although every backup is running and reachable: ${refusals.join('; ')}`, `liveness:${this.maxEpoch}`);
  }

  private messagesOn(broker: SimBroker): Set<string> {
    const keys = new Set<string>();
    const store = broker.store;
    if (!store) return keys;
    for (const queue of store.queues()) {
      for (const entry of store.readQueue(queue.declare.queue, 0, Number.MAX_SAFE_INTEGER)) {
        const body = store.readMessage(entry.messageId);
        const id = body ? parseBody(body) : null;
        if (id) keys.add(messageKey(id));
      }
    }
    return keys;
  }

  /** A configuration change confirmed by a legitimate primary must survive like a message
   * (config-check.ts); null: being tried, or found already made. */
  configConfirmed(op: AdminOp, info: SettleInfo | null): void {
    this.config.confirmed(op, info && { ...info, inBadWindow: this.inBadWindow(info) });
  }

  /** Whether a bad promotion may cost this settlement: it was made while one was under way, or
   * before one that began before the checker heard of it. In the second case the producer heard
   * of its settlement only after the promotion was checked, so the check did not count it (the
   * allowance it would have had there), and a later promotion found it missing (simulator, seed
   * 7286: a 2-broker primary settled alone at 7,109.6 ms, the bad manager promoted the backup at
   * 7,110.4, the producer heard after the 7,112.3 check; after a total failure the backup's later
   * epoch was rightly promoted over the old primary that held the message). */
  private inBadWindow(info: SettleInfo): boolean {
    return this.badWindows.some((w) => w.broker !== info.broker && info.atMs <= (w.toMs ?? Infinity) && (info.atMs >= w.fromMs || this.world.nowMs >= w.fromMs));
  }

  private readonly config = new ConfigExpectations();

  private checkConfig(broker: SimBroker, when: string, fromJoining: boolean, badChoice: boolean): void {
    for (const { key, present, info } of this.config.mismatches(broker, this.world.nowMs)) {
      const intact = this.intactHolder(info, broker.name, fromJoining);
      if (intact === null || badChoice || info.inBadWindow) {
        if (intact === null) this.permittedLosses++;
        else this.lostToBadChoices++;
        this.trace.note('chk', `${key} ${present ? 'lost' : 'back'}; ${intact === null ? 'every holder failed (allowed)' : "the manager's bad choice"}`, { holders: info.holders });
        this.config.forget(key);
        continue;
      }
      this.violation('CONFIG_LOST', `${key} confirmed ${present ? 'created' : 'deleted'} by ${info.broker} (epoch ${info.epoch}) at ${info.atMs.toFixed(3)} ms is ${present ? 'missing' : 'back'} after ${when}; ${intact} still held the change`, `configlost:${key}`);
    }
  }

  /** The ordering contract (ack-gate.ts): when a change is settled, the primary and every
   * ready backup in its gate have its commit durable, the same record at the same LSN. A backup
   * whose store was wiped since the commit may have confirmed it before: it is not checked. */
  private checkGate(primary: SimBroker, members: readonly string[], lsn: number): void {
    const store = primary.store;
    const record = store?.mirror.get(lsn);
    if (!store || !record || record.kind !== 'enqueue') return;
    this.checks.gate++;
    const committedAtMs = this.commitTimes.get(primary.life as Life)?.get(lsn) ?? 0;
    if (store.durableLsn < lsn) this.violation('SETTLED_EARLY', `${primary.name} settled LSN ${lsn} before it was durable on its own disk (durable to ${store.durableLsn})`, `early:${primary.name}:${lsn}`);
    // A backup still catching up entered the gate as having confirmed the LSN G of that moment
    // (primary-protocol.ts): it holds nothing back at or below G and cannot be promoted before it has G.
    const catchingUp = new Set((primary.node?.primaryReplicator()?.members() ?? []).filter((m) => m.state === 'catchup').map((m) => m.name));
    for (const name of members) {
      const member = this.broker(name);
      if (!member || catchingUp.has(name) || this.failedSince(name, committedAtMs)) continue;
      const mine = member.store;
      const theirs = mine?.mirror.get(lsn);
      if (!mine || mine.durableLsn < lsn || (theirs !== undefined && !sameRecord(theirs, record))) {
        this.violation('SETTLED_EARLY', `${primary.name} settled LSN ${lsn} while ${name}, in its ack gate, had it ${mine ? `durable only to LSN ${mine.durableLsn}` : 'not at all (down)'}`, `early:${primary.name}:${lsn}`);
      }
    }
  }

  private readonly commitTimes = new Map<Life, Map<number, number>>();

  /** With --ha-min-backups N, a settled replicated message is durable on N backups besides the
   * primary at the moment it is settled: counted on their disks, whatever the gate believes
   * (a backup entering the gate mid catch-up is in it before it holds what it was shipped). */
  private checkHeldByEnough(primary: SimBroker, minBackups: number, lsn: number): void {
    const record = primary.store?.mirror.get(lsn);
    if (minBackups === 0 || !record || record.kind !== 'enqueue') return;
    // A broker that is down holds what its disk has durable (a wipe starts the disk's log over).
    const holders = this.brokers.filter((b) => {
      if (b === primary || !b.store || b.store.durableLsn < lsn) return false;
      // Not in its log when it came in a snapshot (the snapshot holds the queue as of its LSN).
      const theirs = b.store.mirror.get(lsn);
      return theirs === undefined || sameRecord(theirs, record);
    });
    if (holders.length < minBackups) {
      this.violation('SETTLED_ALONE', `${primary.name} settled LSN ${lsn} while ${holders.length} backups had it durable (${holders.map((h) => h.name).join(', ') || 'none'}; min-backups ${minBackups}, gate ${primary.node?.status().gate?.backups ?? 0})`, `alone:${primary.name}:${lsn}`);
    }
  }

  /** etcd created the leader key for `holder`'s manager (etcd mode): the timing argument of
   * src/manager/step.ts says every other primary's serving lease has ended by now. A broker with
   * a running lease could settle producers while the new leader's broker is promoted. */
  leaderKeyCreated(holder: string): void {
    this.checks.lease++;
    const now = this.world.nowMs;
    for (const broker of this.brokers) {
      const node = broker.node;
      if (broker.name === holder || !broker.up || !node || !servesClients(node.state)) continue;
      const lease = node.status().lease ?? null;
      if (lease === null) this.violation('LEASE_OUTLIVES_KEY', `${holder}'s manager took the leader key at ${now.toFixed(3)} ms while ${broker.name} is ${node.state} with no serving lease at all`, `lease:${broker.name}:${now}`);
      else if (!lease.expired) this.violation('LEASE_OUTLIVES_KEY', `${holder}'s manager took the leader key at ${now.toFixed(3)} ms while ${broker.name} (${node.state}${broker.paused ? ', stopped' : ''}) may still settle for ${lease.remainingMs} ms under its serving lease`, `lease:${broker.name}:${now}`);
    }
  }

  // ------------------------------------------------------------------ hooks

  producerSettled(producer: string, seq: number, info: SettleInfo): void {
    if (info.legit) {
      this.legitSettled++;
      this.settled.set(`${producer}:${seq}`, { producer, seq, info, inBadWindow: this.inBadWindow(info) });
      return;
    }
    this.staleSettled++;
    if (!this.badChoiceMade) this.violation('STALE_SETTLED', `message ${producer}:${seq} settled by ${info.broker} with stale epoch ${info.epoch} (epoch ${this.maxEpoch} promoted)`);
  }

  readonly serverHooks: ServerHooks = {
    admitted: (broker, role) => {
      const state = this.broker(broker)?.node?.state;
      if (role === 'client' && (!state || !servesClients(state))) this.violation('BACKUP_SERVED', `${broker} admitted a client in state ${state ?? 'down'}`);
    },
    published: (broker) => {
      const b = this.broker(broker);
      if (!b || this.servingEpoch(b) === null) this.violation('BACKUP_SERVED', `${broker} took a publish while not serving clients (state ${b?.node?.state ?? 'down'})`);
    },
    settled: (broker, settlements: Settlements, lsn, body) => {
      const b = this.broker(broker);
      const epoch = b ? (this.servingEpoch(b) ?? -1) : -1;
      const legit = epoch === this.maxEpoch && this.servedBy.get(epoch) === broker;
      // A consumed message is settled at once: it need not survive anything (ack-gate.ts).
      const id = body ? parseBody(body) : null;
      const consumed = id !== null && this.consumed.has(messageKey(id));
      // A stale primary after a bad choice (another promoted while it was fine) settles on what
      // its backups confirmed before the new primary made them wipe it: what it settles is in
      // the losses the bad choice permits, as STALE_SETTLED says (seed 6526: its confirmations
      // arrived after SIGCONT, from a backup that had wiped its store for the new primary).
      const disksCount = legit || !this.badChoiceMade;
      if (b && lsn !== null && !consumed && disksCount) this.checkGate(b, settlements.gate.memberIds, lsn);
      if (b && lsn !== null && !consumed && disksCount) this.checkHeldByEnough(b, settlements.gate.minMembers, lsn);
      return { broker, epoch, legit, holders: [broker, ...settlements.gate.memberIds], atMs: this.world.nowMs };
    },
    consumed: (_broker, body) => {
      const id = parseBody(body);
      if (id) this.consumed.add(messageKey(id));
    },
  };

  diskHooks(broker: SimBroker, life: Life): DiskHooks {
    this.storeOfLife.set(life, broker);
    return {
      committed: (records, ticket) => {
        if (life.alive) this.committed(broker, life, records, ticket);
      },
      replicated: (entries) => {
        if (life.alive) this.replicated(broker, entries);
      },
      wiped: () => {
        if (life.alive) this.wiped(broker.name, 'store wiped for catch-up');
      },
      truncated: (lsn, removed) => {
        if (life.alive) this.truncated(broker.name, lsn, removed);
      },
    };
  }

  /** What was truncated was never settled (DESIGN.md §4): the primary of the divergent records
   * was a ready backup when it wrote them... unless a bad manager's choice made it so. */
  private truncated(broker: string, lsn: number, removed: readonly (readonly [number, StoreRecord])[]): void {
    this.trace.debug('chk', `${broker} took back its log after LSN ${lsn}`, { records: removed.length });
    // The epoch the truncating store's history has reached: a record it takes back cannot be
    // the copy a primary of a later epoch settled (a producer resent the same message there).
    const storeEpoch = this.broker(broker)?.store?.meta().epoch ?? Infinity;
    // A copy of the message on the current primary at another LSN: the one taken back was a
    // resend's (the producer resent it to a primary that then lost the failover; seed 4373).
    // The same record at the same LSN there is common history, which must never be taken back.
    const current = this.broker(this.servedBy.get(this.maxEpoch) ?? '');
    const onPrimary = current && current.name !== broker ? this.messagesOn(current) : new Set<string>();
    for (const [recordLsn, record] of removed) {
      if (record.kind !== 'enqueue') continue;
      const id = parseBody(record.body);
      if (!id) continue;
      const key = messageKey(id);
      const settled = this.settled.get(key);
      if (!settled || !settled.info.legit || settled.inBadWindow || this.consumed.has(key) || this.badChoiceMade || settled.info.epoch > storeEpoch) continue;
      const theirs = current?.store?.mirror.get(recordLsn);
      if (onPrimary.has(key) && !(theirs !== undefined && sameRecord(theirs, record))) {
        this.trace.note('chk', `${broker} took back a copy of message ${key}; the current primary holds another`, { primary: current?.name });
        continue;
      }
      this.violation('TRUNCATED_SETTLED', `${broker} took back the enqueue of message ${key} (settled by ${settled.info.broker} at ${settled.info.atMs.toFixed(3)} ms) when it truncated after LSN ${lsn}`, `truncated:${broker}:${key}`);
    }
  }

  private committed(broker: SimBroker, life: Life, records: readonly StoreRecord[], ticket: CommitTicket): void {
    let times = this.commitTimes.get(life);
    if (!times) {
      times = new Map();
      this.commitTimes.set(life, times);
    }
    for (let lsn = ticket.firstLsn; lsn <= ticket.lastLsn; lsn++) times.set(lsn, this.world.nowMs);
    for (const record of records) {
    }
    const epoch = this.servingEpoch(broker);
    if (epoch === null || epoch !== this.maxEpoch) return;
    this.ledger.committed(epoch, records, ticket, () => life.alive);
  }

  /** A backup accepted entries from the primary it is connected to: they must be that primary's
   * entries at those LSNs, and that primary must not be older than what the backup has seen. */
  private replicated(backup: SimBroker, entries: readonly LogEntry[]): void {
    const source = backup.connector?.current?.acceptor?.life;
    const primary = source ? this.storeOfLife.get(source) : undefined;
    if (!source || !primary) {
      this.violation('NOT_PREFIX', `${backup.name} applied replicated entries with no primary connection`);
      return;
    }
    const primaryLife = primary.life === source ? primary : null;
    const sourceEpoch = primaryLife?.node?.primaryReplicator()?.epoch ?? this.epochOfLife.get(source) ?? 0;
    const seenEpoch = backup.node?.status().epoch ?? 0;
    if (seenEpoch > sourceEpoch) {
      this.violation('STALE_RECORDS', `${backup.name} (epoch ${seenEpoch} seen) applied records from ${primary.name} of epoch ${sourceEpoch}`, `stalerec:${backup.name}:${sourceEpoch}`);
    }
    const mirror = this.mirrorOf(source);
    for (const entry of entries) {
      if (entry.record.kind === 'skip') continue;
      this.checks.prefix++;
      const original = mirror?.get(entry.lsn);
      if (!original || !sameRecord(entry.record, original)) {
        this.violation('NOT_PREFIX', `${backup.name} applied LSN ${entry.lsn} (${entry.record.kind}) but ${primary.name} has ${original ? original.kind : 'nothing'} there`, `prefix:${backup.name}:${entry.lsn}`);
      }
    }
  }

  private readonly mirrors = new Map<Life, Map<number, StoreRecord>>();

  /** Called when a process starts, so that the dead one's mirror stays readable. */
  rememberMirror(life: Life, mirror: Map<number, StoreRecord>): void {
    this.mirrors.set(life, mirror);
  }

  private mirrorOf(life: Life): Map<number, StoreRecord> | undefined {
    return this.mirrors.get(life);
  }

  // ------------------------------------------------------------------ at the end

  /** Per producer and queue, in position order (order.ts). */
  checkOrder(producers: ReadonlyMap<string, ProducerView>): void {
    this.ledger.check(producers, (detail, once) => this.violation('ORDER', detail, once));
    this.checks.order = this.ledger.checked;
  }

  /** After convergence: each ready backup holds the primary's replicated configuration and
   * messages. */
  checkConverged(primary: SimBroker, backups: readonly SimBroker[]): void {
    const expected = replicatedState(primary);
    for (const backup of backups) {
      this.checks.converged++;
      const actual = replicatedState(backup);
      for (const part of ['queues', 'exchanges', 'bindings'] as const) {
        if (actual[part] !== expected[part]) {
          this.violation('CONFIG_DIVERGED', `${backup.name} ${part} differ from ${primary.name}'s: ${actual[part]} vs ${expected[part]}`, `config:${backup.name}:${part}`);
        }
      }
      if (actual.messages !== expected.messages) {
        this.violation('MESSAGES_DIVERGED', `${backup.name} queue contents differ from ${primary.name}'s: ${summarize(actual.messages)} vs ${summarize(expected.messages)}`, `messages:${backup.name}`);
      }
    }
  }
}
