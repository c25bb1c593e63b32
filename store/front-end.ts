// What both store implementations do before a batch runs: admit records against the projected
// state (refusing a broken invariant synchronously), assign LSNs and message ids, queue the
// mutation, and hand out its ticket. One copy of these rules, so that the LMDB store and the
// simulator's memory store cannot drift apart; each implementation supplies how mutations are
// queued and run (its batch pipeline) and how records are kept while they wait.

import { checkContinues, retractEntry, type Mutation } from './batch.js';
import { encodeRecord, encodedRecord } from './codec.js';
import type { EpochStart } from './epoch-history.js';
import { StoreError } from './errors.js';
import { localAdmissionFailure, type Projection } from './apply.js';
import type { LogEntry, StoreRecord } from './record.js';
import type { RecoveryReport } from './recovery.js';
import type { CommitTicket, StoreMeta, StoreRole } from './store.js';
import { TicketState } from './ticket.js';
import { assert } from '../src/core/assert.js';

export abstract class StoreFrontEnd {
  protected abstract projection: Projection;
  protected abstract nextLsn: number;
  protected abstract messageIdCounter: number;
  protected abstract pending: Mutation[];
  /** Each local enqueue still waiting in `pending`, by LSN: a consumer that takes a message
   * before its batch starts retracts it in O(1), where scanning `pending` cost O(pending) per
   * dequeue (14% of the broker's CPU under a durable 4+4 load, issue 14). Emptied whenever a
   * batch takes `pending` (takePending), so an LSN found here is one no batch has started. */
  private readonly retractable = new Map<number, Mutation & { kind: 'log' }>();
  protected abstract truncateBeforeLsn: number;
  protected readonly listeners = new Set<(entries: readonly LogEntry[]) => void>();
  protected readonly durableListeners = new Set<(lastLsn: number) => void>();
  private readonly rollbackListeners = new Set<(lastLsn: number) => void>();
  private readonly fullListeners = new Set<(full: boolean) => void>();
  private isFull = false;

  /** True from a commit that failed for lack of space (STORE_FULL) until one succeeds: a full
   * disk is an operating condition (issue 16), reported once per transition. */
  get full(): boolean {
    return this.isFull;
  }

  onFullChange(listener: (full: boolean) => void): () => void {
    this.fullListeners.add(listener);
    return () => this.fullListeners.delete(listener);
  }

  /** Called by the batch pipeline after each batch: whether it failed for lack of space. */
  protected noteFull(full: boolean, logger: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void }, where: string): void {
    if (full === this.isFull) return;
    this.isFull = full;
    if (full) logger.warn({ store: where, storeFull: true }, 'store full: durable messages are refused (amqp:resource-limit-exceeded) until a commit succeeds; consumers are served');
    else logger.info({ store: where, storeFull: false }, 'store no longer full: a commit succeeded');
    for (const listener of this.fullListeners) {
      try {
        listener(full);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  /** Throws STORE_CLOSED (or STORE_READ_ONLY) when no mutation may be queued. */
  protected abstract checkWritable(): void;
  protected abstract isClosed(): boolean;
  /** Queues a mutation for the next batch and makes sure one will run. */
  protected abstract enqueue(m: Mutation): void;
  /** The record as kept until its batch runs (the caller may reuse its buffers once commit()
   * returns): `encoded` is its encoding. */
  protected abstract keep(record: StoreRecord, encoded: Uint8Array): StoreRecord;
  /** A snapshot record as kept until its batch runs. */
  protected abstract keepSnapshotRecord(record: StoreRecord): StoreRecord;

  allocateMessageId(): number {
    this.checkWritable();
    return ++this.messageIdCounter;
  }

  commit(records: readonly StoreRecord[]): CommitTicket {
    this.checkWritable();
    this.projection.admit(records, localAdmissionFailure, 'local');
    const encoded = records.map(encodeRecord);
    const firstLsn = this.nextLsn;
    this.nextLsn += records.length;
    const entries: LogEntry[] = records.map((record, i) => ({ lsn: firstLsn + i, record: this.keep(record, encoded[i] as Uint8Array) }));
    const ticket = new TicketState();
    const mutation = { kind: 'log' as const, entries, encoded, replicated: false, ticket };
    for (const entry of entries) if (entry.record.kind === 'enqueue') this.retractable.set(entry.lsn, mutation);
    this.enqueue(mutation);
    return ticket.ticket(firstLsn, this.nextLsn - 1);
  }

  nextLsnToAssign(): number {
    return this.nextLsn;
  }

  retract(lsn: number): boolean {
    if (this.isClosed()) return false;
    const mutation = this.retractable.get(lsn);
    if (mutation === undefined) return false;
    this.retractable.delete(lsn);
    return retractEntry(mutation, lsn);
  }

  /** What a batch does when it starts (or fails, or the store crashes): takes every pending
   * mutation, after which none of them can be retracted. */
  protected takePending(): Mutation[] {
    const taken = this.pending;
    this.pending = [];
    this.retractable.clear();
    return taken;
  }

  appendReplicated(entries: readonly LogEntry[]): CommitTicket {
    this.checkWritable();
    const next = checkContinues(entries, this.nextLsn);
    const first = this.nextLsn;
    const maxId = this.projection.admit(
      entries.map((e) => e.record),
      (what) => {
        throw new StoreError('STORE_CORRUPT', `replicated entries from LSN ${first}: ${what}`);
      },
      'replicated',
    );
    if (maxId > this.messageIdCounter) this.messageIdCounter = maxId;
    // A frame's records carry the bytes they were decoded from (codec.ts decodedFrom).
    const encoded = entries.map((e) => encodedRecord(e.record));
    this.nextLsn = next;
    const ticket = new TicketState();
    this.enqueue({ kind: 'log', entries: entries.map((e, i) => ({ lsn: e.lsn, record: this.keep(e.record, encoded[i] as Uint8Array) })), encoded, replicated: true, ticket });
    return ticket.ticket(first, next - 1);
  }

  onCommitted(listener: (entries: readonly LogEntry[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onDurable(listener: (lastLsn: number) => void): () => void {
    this.durableListeners.add(listener);
    return () => this.durableListeners.delete(listener);
  }

  onRollback(listener: (lastLsn: number) => void): () => void {
    this.rollbackListeners.add(listener);
    return () => this.rollbackListeners.delete(listener);
  }

  /** A batch failed: every LSN above `lastCommittedLsn` goes back to be assigned again (the log
   * stays contiguous), and the rollback listeners hear of it now, synchronously, before any
   * later commit() can take those LSNs. A listener that throws is logged and skipped. */
  protected giveBackLsns(lastCommittedLsn: number, logger: { error(obj: object, msg: string): void }): void {
    this.nextLsn = lastCommittedLsn + 1;
    for (const listener of this.rollbackListeners) {
      try {
        listener(lastCommittedLsn);
      } catch (err) {
        logger.error({ err }, 'onRollback listener threw');
      }
    }
  }

  wipe(): Promise<void> {
    this.checkWritable();
    // Queued behind every commit already admitted: "waits for in-flight commits".
    const p = this.metaMutation((ticket) => ({ kind: 'wipe', ticket }));
    this.nextLsn = 1;
    this.truncateBeforeLsn = 0;
    this.projection.reset({ queues: () => [], exchanges: () => [], bindings: () => [] });
    return p;
  }

  async truncateAfter(lsn: number): Promise<void> {
    this.checkWritable();
    assert(Number.isSafeInteger(lsn) && lsn >= 0, `truncateAfter(${lsn}): not an LSN`);
    const meta = this.meta();
    // A backup truncates before it appends anything from its new primary: nothing is queued.
    assert(this.nextLsn === meta.lastLsn + 1, `truncateAfter(${lsn}) with commits still queued (next LSN ${this.nextLsn}, last ${meta.lastLsn})`);
    if (lsn >= meta.lastLsn) return;
    if (lsn + 1 < meta.undoFromLsn) {
      throw new StoreError('STORE_UNDO_MISSING', `cannot take the log back to LSN ${lsn}: entries from ${lsn + 1} to ${meta.undoFromLsn - 1} have no undo (copied from a primary, or pruned); resync from a snapshot`);
    }
    const done = this.metaMutation((ticket) => ({ kind: 'truncate-after', lsn, ticket }));
    this.nextLsn = lsn + 1;
    try {
      await done;
    } finally {
      // Admission starts again from the tables as the truncation (or its failure) left them.
      this.nextLsn = this.meta().lastLsn + 1;
      this.projection.reset(this.projectionSource());
    }
  }

  abstract meta(): StoreMeta;
  /** The committed tables, for admission to start from. */
  protected abstract projectionSource(): Parameters<Projection['reset']>[0];

  beginSnapshot(lsn: number, epoch: number, lastMessageId: number, epochHistory: readonly EpochStart[] = []): Promise<void> {
    this.checkWritable();
    assert(this.nextLsn === 1, `beginSnapshot on a store that is not empty (next LSN ${this.nextLsn}); wipe() first`);
    this.nextLsn = lsn + 1;
    if (lastMessageId > this.messageIdCounter) this.messageIdCounter = lastMessageId;
    return this.metaMutation((ticket) => ({ kind: 'begin-snapshot', lsn, epoch, lastMessageId, epochHistory, ticket }));
  }

  applySnapshotRecords(records: readonly StoreRecord[]): Promise<void> {
    this.checkWritable();
    if (records.some((r) => r.kind === 'skip' || r.kind === 'epoch')) throw new StoreError('STORE_CORRUPT', 'snapshot records: a snapshot holds only declares, bindings and enqueues');
    const maxId = this.projection.admit(
      records,
      (what) => {
        throw new StoreError('STORE_CORRUPT', `snapshot records: ${what}`);
      },
      'snapshot',
    );
    if (maxId > this.messageIdCounter) this.messageIdCounter = maxId;
    const kept = records.map((r) => this.keepSnapshotRecord(r));
    return this.metaMutation((ticket) => ({ kind: 'snapshot-records', records: kept, ticket }));
  }

  endSnapshot(lastPositions: Readonly<Record<string, number>> = {}): Promise<void> {
    this.checkWritable();
    this.projection.raisePositions(lastPositions);
    return this.metaMutation((ticket) => ({ kind: 'end-snapshot', lastPositions, ticket }));
  }

  recordRecovery(report: RecoveryReport): Promise<void> {
    this.checkWritable();
    return this.metaMutation((ticket) => ({ kind: 'recovery', report, ticket }));
  }

  setRole(role: StoreRole, haState: string): Promise<void> {
    this.checkWritable();
    return this.metaMutation((ticket) => ({ kind: 'role', role, haState, ticket }));
  }

  protected metaMutation(make: (ticket: TicketState) => Mutation): Promise<void> {
    const ticket = new TicketState();
    this.enqueue(make(ticket));
    return ticket.durable.promise;
  }
}
