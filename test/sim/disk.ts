// A simulated machine's disk: the production MemoryStore, unchanged, with the simulator deciding
// when its writes become durable. Every mutation schedules a flush (an fsync) after the disk's
// current latency; writes that arrive before it ride in the same flush (group commit); a crash
// before it loses them. The subclass only adds that schedule and a record of the log as written
// (the mirror), which the checkers compare across brokers; it changes no behaviour.

import { MemoryStore, type CommitTicket, type EpochStart, type LogEntry, type MemoryDisk, type StoreRecord, type StoreRole } from '../../store/index.js';
import type { Life, World } from './world.js';

export interface DiskHooks {
  /** Records committed by this broker itself, with their first LSN. */
  committed(records: readonly StoreRecord[], ticket: CommitTicket): void;
  /** Entries from a primary, accepted by the store (appendReplicated did not throw). */
  replicated(entries: readonly LogEntry[]): void;
  wiped(): void;
  /** The store took back its log after `lsn` (incremental catch-up): these records left it. */
  /** `removed`: the records taken back, with their LSNs. */
  truncated(lsn: number, removed: readonly (readonly [number, StoreRecord])[]): void;
}

export class SimStore extends MemoryStore {
  /** The log as written through this store, by LSN (pending writes included). */
  readonly mirror = new Map<number, StoreRecord>();
  private flushScheduled = false;
  /** The last LSN on the disk (what a crash would keep). */
  durableLsn: number;

  constructor(
    disk: MemoryDisk,
    storeId: string,
    private readonly world: World,
    private readonly life: Life,
    /** The disk's current fsync latency. */
    private readonly fsyncMs: () => number,
    private readonly hooks: DiskHooks,
    /** --store-log-max-bytes: retention truncates the log past it (and a backup that falls
     * further behind must resync from a snapshot). */
    logMaxBytes?: number,
  ) {
    super(disk, { autoFlush: false, storeId, undo: true, ...(logMaxBytes !== undefined ? { logMaxBytes } : {}) });
    const scan = this.scan();
    for (const row of scan.log(1)) if (row.record) this.mirror.set(row.lsn, row.record);
    scan.close();
    this.durableLsn = this.meta().lastLsn;
    // Registered before any other listener: the ack gate hears of durability in the same
    // call, and the checkers must already know.
    this.onDurable((lsn) => {
      this.durableLsn = lsn;
    });
  }

  override commit(records: readonly StoreRecord[]): CommitTicket {
    const ticket = super.commit(records);
    records.forEach((record, i) => this.mirror.set(ticket.firstLsn + i, record));
    this.hooks.committed(records, ticket);
    this.dirty();
    return ticket;
  }

  override appendReplicated(entries: readonly LogEntry[]): CommitTicket {
    const ticket = super.appendReplicated(entries);
    for (const entry of entries) this.mirror.set(entry.lsn, entry.record);
    this.hooks.replicated(entries);
    this.dirty();
    return ticket;
  }

  override wipe(): Promise<void> {
    const done = super.wipe();
    this.mirror.clear();
    this.hooks.wiped();
    this.dirty();
    return done;
  }

  override async truncateAfter(lsn: number): Promise<void> {
    const removed = [...this.mirror].filter(([at]) => at > lsn);
    const done = super.truncateAfter(lsn);
    this.dirty();
    await done;
    for (const [at] of removed) this.mirror.delete(at);
    this.hooks.truncated(lsn, removed);
  }

  override beginSnapshot(lsn: number, epoch: number, lastMessageId: number, epochHistory: readonly EpochStart[] = []): Promise<void> {
    return this.touch(super.beginSnapshot(lsn, epoch, lastMessageId, epochHistory));
  }

  override applySnapshotRecords(records: readonly StoreRecord[]): Promise<void> {
    return this.touch(super.applySnapshotRecords(records));
  }

  override endSnapshot(lastPositions: Readonly<Record<string, number>> = {}): Promise<void> {
    return this.touch(super.endSnapshot(lastPositions));
  }

  override setRole(role: StoreRole, haState: string): Promise<void> {
    return this.touch(super.setRole(role, haState));
  }

  override truncateLogBefore(lsn: number): Promise<void> {
    return this.touch(super.truncateLogBefore(lsn));
  }

  private touch(done: Promise<void>): Promise<void> {
    this.dirty();
    return done;
  }

  /** The disk catches up after its latency; everything written until then goes with it. */
  private dirty(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.world.schedule(this.fsyncMs(), this.life, () => {
      this.flushScheduled = false;
      this.flush();
    });
  }
}
