// The ack gate: decides when a producer's delivery (or a configuration change) may be settled.
// Pure state machine (STYLE.md 1): events in, settled keys out; no timers, no I/O.
//
// THE ORDERING CONTRACT (DESIGN.md §4, STYLE.md 2): persist, then ship, then settle. A hold on
// LSN L is released only when
//   (a) the primary's own commit of L is durable (if the message must survive a local crash), and
//   (b) every backup in the gate has confirmed L (it has L durable in its own store),
// or when the message has been consumed (then it need not survive anything), and never while the
// gate is closed (a recovering primary settles nothing until it is active). The gate's members
// are the ready backups (and, while recovering, the backups expected from the previous primary).
// Only ready backups can be promoted, so every settled message is on every broker that may
// become primary. With minMembers N (--ha-min-backups), nothing that must be replicated is
// settled while fewer than N backups are in the gate (Kafka's min.insync.replicas): a primary
// cut off from its backups accepts nothing alone, so every settled message is on N+1 brokers.
// Nothing at all is settled while the gate is suspended (the primary's serving lease expired,
// serving-lease.ts): another broker may be promoted at any moment, and what this one settled
// from then on might exist nowhere else.
//
// RECORDED DEPARTURES (Kafka's ISR shrink, committed before the high watermark passes the
// replica that left). Under a cluster manager, a ready backup that leaves the gate may still
// call itself ready (a one-way partition, a lapsed heartbeat) and be elected when the others are
// unreachable. So, once the manager's serving lease is in force (requireRecordedDepartures),
// nothing replicated is settled past what a departed ready backup held until the manager says
// that etcd records a gate without it (departuresRecorded, with the generation it read): the
// election then passes over it. Every message settled in an epoch is then on its primary and on
// every backup of the gate last recorded for that epoch (found by the simulator, etcd seeds 3891
// and 4881: a primary whose manager was cut off from etcd settled without a backup it had
// dropped, and that backup was elected).

import { assert } from '../core/assert.js';

export type HoldKey = number;

/** The LSN of a hold whose commit failed (rolledBack): no durability or confirmation reaches it. */
const ROLLED_BACK = Number.POSITIVE_INFINITY;

export interface HoldSpec {
  /** LSN of the commit holding the change, or null if nothing was journaled. */
  readonly lsn: number | null;
  /** Whether the primary's local durability of `lsn` is required. */
  readonly needsDurable: boolean;
  /** Whether the backups in the gate must confirm `lsn` (default true). False for a message
   * none of whose queues replicate it: a slow backup must not hold it back. */
  readonly replicated?: boolean;
  /** Settles the hold early when the message is consumed (0: not a message). */
  readonly messageId: number;
}

interface Hold {
  /** ROLLED_BACK once its commit failed. */
  lsn: number | null;
  readonly needsDurable: boolean;
  readonly replicated: boolean;
  readonly messageId: number;
  readonly key: HoldKey;
  done: boolean;
  /** Counted in AckGate.orderedWithoutDurability: waiting in the LSN order, needing no local
   * durability (so that local durability does not bound where such holds are). */
  unboundedByDurability: boolean;
}

function holdList(held: Hold | Hold[] | undefined): readonly Hold[] {
  if (held === undefined) return [];
  return Array.isArray(held) ? held : [held];
}

export class AckGate {
  private nextKey: HoldKey = 1;
  /** Holds with an LSN, in LSN order (commit order). */
  private readonly ordered: Hold[] = [];
  private orderedHead = 0;
  private readonly byKey = new Map<HoldKey, Hold>();
  /** Holds waiting on a message: almost always one, kept without an array. */
  private readonly byMessage = new Map<number, Hold | Hold[]>();
  private orderedWithoutDurability = 0;
  private durableLsn = 0;
  /** Per member, the LSN up to which it holds nothing back: what it confirmed, or the LSN G at
   * which it entered the gate if higher (it was shipped everything up to G; see addMember). */
  private readonly members = new Map<string, number>();
  /** Per member, what it has really confirmed durable: what --ha-min-backups counts. */
  private readonly holding = new Map<string, number>();
  private open: boolean;
  /** False while the serving lease has expired: like a closed gate, but independent of it. */
  private serving = true;
  readonly minMembers: number;
  /** Ready backups that left while departures must be recorded, with what each held and the
   * generation of its departure: nothing replicated settles past them until recorded. */
  private readonly unrecorded: { readonly member: string; readonly lsn: number; readonly generation: number }[] = [];
  private recordDepartures = false;
  private departures = 0;

  constructor(options: { open: boolean; minMembers?: number }) {
    this.open = options.open;
    this.minMembers = options.minMembers ?? 0;
  }

  /** Whether fewer backups are in the gate than --ha-min-backups asks: replicated holds wait. */
  get short(): boolean {
    return this.members.size < this.minMembers;
  }

  /** Every local commit up to this LSN is durable. */
  get durableThrough(): number {
    return this.durableLsn;
  }

  get isOpen(): boolean {
    return this.open;
  }

  get pendingCount(): number {
    return this.byKey.size;
  }

  get memberIds(): string[] {
    return [...this.members.keys()];
  }

  confirmedLsnOf(member: string): number | undefined {
    return this.members.get(member);
  }

  /** The LSN every member of the gate has confirmed (null without members): a message enqueued
   * above it is not yet on every backup, and would be lost if the primary died now (the RPO). */
  get confirmedFloor(): number | null {
    if (this.holding.size === 0) return null;
    let min = Infinity;
    for (const lsn of this.holding.values()) if (lsn < min) min = lsn;
    return min;
  }

  /** Counts the departures of ready backups (the manager records the gate with it). */
  get generation(): number {
    return this.departures;
  }

  /** The backups whose departure etcd does not record yet (each holds settlement back). */
  get unrecordedDepartures(): string[] {
    return this.unrecorded.map((d) => d.member);
  }

  /** From now on a ready backup's departure holds settlement back until it is recorded. */
  requireRecordedDepartures(): void {
    this.recordDepartures = true;
  }

  /** etcd records the gate as it was at `generation`: departures up to it no longer hold back. */
  departuresRecorded(generation: number): HoldKey[] {
    const before = this.unrecorded.length;
    for (let i = this.unrecorded.length - 1; i >= 0; i--) if ((this.unrecorded[i] as { generation: number }).generation <= generation) this.unrecorded.splice(i, 1);
    return this.unrecorded.length === before ? [] : this.release();
  }

  /** Registers a hold. Returns its key, and whether it can be settled at once. */
  hold(spec: HoldSpec): { key: HoldKey; settleNow: boolean } {
    const key = this.nextKey++;
    const hold: Hold = { lsn: spec.lsn, needsDurable: spec.needsDurable, replicated: spec.replicated !== false, messageId: spec.messageId, key, done: false, unboundedByDurability: false };
    if (this.open && this.serving && this.satisfied(hold)) {
      hold.done = true;
      return { key, settleNow: true };
    }
    this.byKey.set(key, hold);
    if (hold.lsn !== null) {
      const last = this.ordered[this.ordered.length - 1];
      assert(last === undefined || last.lsn === null || (last.lsn as number) <= hold.lsn, `ack gate: hold LSN ${hold.lsn} after ${last?.lsn}`);
      this.ordered.push(hold);
      if (!hold.needsDurable) {
        hold.unboundedByDurability = true;
        this.orderedWithoutDurability++;
      }
    }
    if (hold.messageId !== 0) {
      const held = this.byMessage.get(hold.messageId);
      if (held === undefined) this.byMessage.set(hold.messageId, hold);
      else if (Array.isArray(held)) held.push(hold);
      else this.byMessage.set(hold.messageId, [held, hold]);
    }
    return { key, settleNow: false };
  }

  /** Keys of the holds waiting on a message. */
  holdsOf(messageId: number): HoldKey[] {
    return holdList(this.byMessage.get(messageId))
      .filter((h) => !h.done)
      .map((h) => h.key);
  }

  /** The producer went away: the hold can never be settled; forget it. */
  cancel(key: HoldKey): void {
    const hold = this.byKey.get(key);
    if (hold) this.finish(hold);
  }

  /** A failed commit gave its LSNs back to the store (store.onRollback): nothing above
   * `lastLsn` was committed, and those LSNs will be assigned to new commits. The holds on them
   * leave the LSN order here, before any hold on a reused LSN arrives, so that neither meets the
   * other: a failed hold is never released by a later commit's durability or confirmation, and
   * the order assertion keeps guarding real bugs. The failed holds stay known by key and
   * message until their owner fails them (Settlements.messageFailed, or the config change's
   * ticket) or cancels them. */
  rolledBack(lastLsn: number): void {
    assert(lastLsn >= this.durableLsn, `ack gate: rollback to LSN ${lastLsn}, below the durable LSN ${this.durableLsn}`);
    // Done holds go too (those before the head included): the order check looks at the last.
    while (this.ordered.length > 0) {
      const last = this.ordered[this.ordered.length - 1] as Hold;
      if ((last.lsn as number) <= lastLsn) break;
      this.ordered.pop();
      this.uncount(last);
      if (!last.done) last.lsn = ROLLED_BACK;
    }
    if (this.orderedHead > this.ordered.length) this.orderedHead = this.ordered.length;
  }

  /** Local commits up to `lsn` are durable. */
  durable(lsn: number): HoldKey[] {
    if (lsn <= this.durableLsn) return [];
    this.durableLsn = lsn;
    return this.release();
  }

  /** A member backup has `lsn` durable in its store. */
  confirmed(member: string, lsn: number): HoldKey[] {
    const previous = this.holding.get(member);
    if (previous === undefined || lsn <= previous) return [];
    this.holding.set(member, lsn);
    this.members.set(member, Math.max(this.members.get(member) ?? 0, lsn));
    return this.release();
  }

  /** A backup joins the gate, holding back nothing at or below `excusedTo` (the LSN G at which
   * a catching-up backup goes live: everything up to G was shipped to it, and it becomes ready,
   * promotable, only once it has confirmed G), and having confirmed `confirmedLsn` durable.
   * Toward --ha-min-backups it counts only for what it confirmed: a hold that waited for
   * backups is not released by one that has only been shipped it (it used to be: a primary
   * short of backups settled its held messages the moment a new backup entered the gate, with
   * no backup holding them). */
  addMember(member: string, excusedTo: number, confirmedLsn = excusedTo): HoldKey[] {
    this.members.set(member, Math.max(excusedTo, confirmedLsn));
    this.holding.set(member, confirmedLsn);
    return this.release();
  }

  /** A backup leaves the gate (link closed, heartbeat lapsed, or the recovery timeout passed):
   * what it was holding back is re-evaluated at once, unless it was ready and departures must be
   * recorded: then what it held bounds settlement until departuresRecorded. */
  removeMember(member: string, wasReady = false): HoldKey[] {
    const held = this.holding.get(member);
    this.holding.delete(member);
    if (!this.members.delete(member)) return [];
    if (wasReady && this.recordDepartures) {
      this.departures++;
      this.unrecorded.push({ member, lsn: held ?? 0, generation: this.departures });
    }
    return this.release();
  }

  hasMember(member: string): boolean {
    return this.members.has(member);
  }

  /** The message is no longer on any queue: it was consumed (or dropped) and need not be kept. */
  messageResolved(messageId: number): HoldKey[] {
    const held = this.byMessage.get(messageId);
    if (held === undefined || !this.open || !this.serving) return [];
    const settled: HoldKey[] = [];
    for (const hold of holdList(held)) {
      if (hold.done) continue;
      this.finish(hold);
      settled.push(hold.key);
    }
    this.byMessage.delete(messageId);
    return settled;
  }

  /** Opens (a recovering primary became active) or closes the gate. */
  setOpen(open: boolean): HoldKey[] {
    this.open = open;
    return open ? this.releaseAll() : [];
  }

  get isServing(): boolean {
    return this.serving;
  }

  /** Suspends (the serving lease expired) or resumes settlement; on resuming, what became
   * settleable meanwhile is released at once. */
  setServing(serving: boolean): HoldKey[] {
    this.serving = serving;
    return serving ? this.releaseAll() : [];
  }

  /** What every member holds back nothing at or below, and at least minMembers of them have
   * confirmed: 0 when the gate is short of members, so that no replicated hold is satisfied. */
  private minMemberLsn(): number {
    if (this.members.size < this.minMembers) return 0;
    let min = Infinity;
    for (const lsn of this.members.values()) if (lsn < min) min = lsn;
    for (const departed of this.unrecorded) if (departed.lsn < min) min = departed.lsn;
    return Math.min(min, this.heldByMinMembers());
  }

  /** The highest LSN that minMembers members have confirmed (Infinity when none are needed). */
  private heldByMinMembers(): number {
    if (this.minMembers === 0) return Infinity;
    if (this.minMembers === 1) {
      // The default of 3 brokers, on every release: the highest, without an array.
      let max = 0;
      for (const lsn of this.holding.values()) if (lsn > max) max = lsn;
      return max;
    }
    const confirmed = [...this.holding.values()].sort((a, b) => b - a);
    return confirmed[this.minMembers - 1] ?? 0;
  }

  private satisfied(hold: Hold, memberLsn = this.minMemberLsn()): boolean {
    if (hold.lsn === null) return true;
    if (hold.needsDurable && hold.lsn > this.durableLsn) return false;
    return !hold.replicated || hold.lsn <= memberLsn;
  }

  private finish(hold: Hold): void {
    hold.done = true;
    this.uncount(hold);
    this.byKey.delete(hold.key);
    if (hold.messageId !== 0) {
      const held = this.byMessage.get(hold.messageId);
      if (held === hold) this.byMessage.delete(hold.messageId);
      else if (Array.isArray(held)) {
        const remaining = held.filter((h) => !h.done);
        if (remaining.length === 0) this.byMessage.delete(hold.messageId);
        else this.byMessage.set(hold.messageId, remaining.length === 1 ? (remaining[0] as Hold) : remaining);
      }
    }
  }

  private uncount(hold: Hold): void {
    if (!hold.unboundedByDurability) return;
    hold.unboundedByDurability = false;
    this.orderedWithoutDurability--;
  }

  /** Releases every satisfied hold, in LSN order. Holds differ in what they wait for (local
   * durability, the backups, or both), so a later hold may be released before an earlier one;
   * the scan stops at the first LSN nothing can have reached yet. */
  private release(): HoldKey[] {
    if (!this.open || !this.serving) return [];
    const settled: HoldKey[] = [];
    const memberLsn = this.minMemberLsn();
    // Beyond this LSN nothing is durable nor confirmed. Without members, a hold that needs no
    // local durability may be satisfied anywhere: while one waits in the order, scan them all.
    // Otherwise (a standalone broker's durable messages) the scan ends at the durable LSN, so a
    // durability event costs what it releases, not every hold outstanding.
    const reached = memberLsn === Infinity ? (this.orderedWithoutDurability > 0 ? Infinity : this.durableLsn) : Math.max(this.durableLsn, memberLsn);
    let frontDone = true;
    for (let i = this.orderedHead; i < this.ordered.length; i++) {
      const hold = this.ordered[i] as Hold;
      if (!hold.done && (hold.lsn as number) > reached) break;
      if (!hold.done && this.satisfied(hold, memberLsn)) {
        this.finish(hold);
        settled.push(hold.key);
      }
      if (hold.done) {
        if (frontDone) this.orderedHead = i + 1;
      } else {
        frontDone = false;
      }
    }
    this.compactOrdered();
    return settled;
  }

  private releaseAll(): HoldKey[] {
    if (!this.open || !this.serving) return [];
    const settled = this.release();
    // Holds without an LSN (nothing journaled) waited only for the gate to open.
    for (const hold of [...this.byKey.values()]) {
      if (hold.lsn === null) {
        this.finish(hold);
        settled.push(hold.key);
      }
    }
    return settled;
  }

  private compactOrdered(): void {
    if (this.orderedHead > 4096 && this.orderedHead * 2 > this.ordered.length) {
      this.ordered.splice(0, this.orderedHead);
      this.orderedHead = 0;
    }
  }
}
