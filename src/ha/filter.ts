// What a primary ships to its backups (reference §1.12.7): queues and exchanges replicate at
// their `qpid.replicate` level, else the broker's --ha-replicate; `all` replicates messages,
// `configuration` only existence; built-in exchanges never; a binding only when both ends
// replicate. Pure: the filter learns each node's level from the declare records it sees (the
// snapshot first, then the log), so it needs nothing but the stream itself.
//
// Filtered-out records become skip spans, so a backup's LSNs stay equal to its primary's.

import type { Arguments, LogEntry, StoreRecord } from '../../store/index.js';
import type { ReplicateLevel } from '../broker/queue.js';
import { BUILT_IN_EXCHANGES } from '../broker/exchange.js';

const BUILT_IN = new Set(BUILT_IN_EXCHANGES.map((e) => e.name));

function levelOf(args: Arguments, defaultLevel: ReplicateLevel): ReplicateLevel {
  const value = args['qpid.replicate'];
  return value === 'none' || value === 'configuration' || value === 'all' ? value : defaultLevel;
}

export class ReplicationFilter {
  private readonly queues = new Map<string, ReplicateLevel>();
  private readonly exchanges = new Map<string, ReplicateLevel>();

  constructor(private readonly defaultLevel: ReplicateLevel) {}

  /** Starts from what a backup already holds (incremental catch-up): the queues and exchanges
   * it has, at the level their own qpid.replicate argument gives them. */
  seed(queues: readonly { name: string; replicate: string | null }[], exchanges: readonly { name: string; replicate: string | null }[]): void {
    for (const q of queues) this.queues.set(q.name, levelOf({ 'qpid.replicate': q.replicate }, this.defaultLevel));
    for (const e of exchanges) if (!BUILT_IN.has(e.name)) this.exchanges.set(e.name, levelOf({ 'qpid.replicate': e.replicate }, this.defaultLevel));
  }

  queueLevel(name: string): ReplicateLevel {
    return this.queues.get(name) ?? 'none';
  }

  private exchangeReplicated(name: string): boolean {
    return !BUILT_IN.has(name) && (this.exchanges.get(name) ?? 'none') !== 'none';
  }

  /** The record as a backup should see it, or null if nothing of it is replicated. Declares and
   * deletes update the filter's view, so records must be passed in stream order. */
  filter(record: StoreRecord): StoreRecord | null {
    switch (record.kind) {
      case 'skip':
      case 'epoch':
      case 'txn':
        return record;
      case 'queue-declare': {
        const level = levelOf(record.arguments, this.defaultLevel);
        this.queues.set(record.queue, level);
        return level === 'none' ? null : record;
      }
      case 'queue-delete': {
        const level = this.queues.get(record.queue) ?? 'none';
        this.queues.delete(record.queue);
        return level === 'none' ? null : record;
      }
      case 'exchange-declare': {
        const level = levelOf(record.arguments, this.defaultLevel);
        if (BUILT_IN.has(record.exchange)) return null;
        this.exchanges.set(record.exchange, level);
        return level === 'none' ? null : record;
      }
      case 'exchange-delete': {
        const replicated = this.exchangeReplicated(record.exchange);
        this.exchanges.delete(record.exchange);
        return replicated ? record : null;
      }
      case 'bind':
      case 'unbind':
        return this.queueLevel(record.queue) !== 'none' && this.exchangeReplicated(record.exchange) ? record : null;
      case 'enqueue': {
        const targets = record.targets.filter((t) => this.queueLevel(t.queue) === 'all');
        if (targets.length === 0) return null;
        return targets.length === record.targets.length ? record : { ...record, targets };
      }
      case 'dequeue':
      // A queue's dedup window follows its messages: a backup that holds them must recognise
      // their resends once promoted.
      case 'dedup':
        return this.queueLevel(record.queue) === 'all' ? record : null;
    }
  }

  /** Filters a run of log entries, folding what is filtered out into skip spans. */
  filterEntries(entries: readonly LogEntry[]): LogEntry[] {
    return filterEntriesWith(entries, (record) => this.filter(record));
  }
}

/** What a replica queue follows (reference §1.13): one queue's declare, its messages and their
 * removal, nothing else. Messages keep the original's positions; the replica maps them. */
export class QueueFilter {
  constructor(readonly queue: string) {}

  filter(record: StoreRecord): StoreRecord | null {
    switch (record.kind) {
      case 'queue-declare':
      case 'queue-delete':
        return record.queue === this.queue ? record : null;
      case 'enqueue': {
        const targets = record.targets.filter((t) => t.queue === this.queue);
        if (targets.length === 0) return null;
        return targets.length === record.targets.length ? record : { ...record, targets };
      }
      case 'dequeue':
        return record.queue === this.queue ? record : null;
      default:
        return null;
    }
  }

  filterEntries(entries: readonly LogEntry[]): LogEntry[] {
    return filterEntriesWith(entries, (record) => this.filter(record));
  }
}

export type RecordFilter = ReplicationFilter | QueueFilter;

function filterEntriesWith(entries: readonly LogEntry[], filter: (record: StoreRecord) => StoreRecord | null): LogEntry[] {
  const out: LogEntry[] = [];
  let skipFrom = 0;
  let skipTo = 0;
  const flushSkip = (): void => {
    if (skipFrom !== 0) out.push({ lsn: skipFrom, record: { kind: 'skip', lastLsn: skipTo } });
    skipFrom = 0;
  };
  for (const entry of entries) {
    const kept = filter(entry.record);
    const last = entry.record.kind === 'skip' ? entry.record.lastLsn : entry.lsn;
    if (kept === null || kept.kind === 'skip') {
      if (skipFrom === 0) skipFrom = entry.lsn;
      skipTo = last;
      continue;
    }
    flushSkip();
    out.push(kept === entry.record ? entry : { lsn: entry.lsn, record: kept });
  }
  flushSkip();
  return out;
}
