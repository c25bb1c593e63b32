// The state every part of the broker shares (catalog, publish, consume, expiry, paging,
// replica): the queue and exchange maps, what is in the store, and the dependencies it was given.
// journal() is the one door to the store: every mutation of stored state goes through it, in
// the order it happens in memory.

import { type CommitTicket, type Store, type StoreRecord } from '../../store/index.js';
import { type Clock } from '../core/clock.js';
import { type Logger } from '../core/log.js';
import { assert } from '../core/assert.js';
import { BUILT_IN_EXCHANGES, Exchange } from './exchange.js';
import { type BrokerMessage } from './message.js';
import { Queue, type QueueEntry } from './queue.js';
import { type SelectorFieldsDecoder } from './selection.js';
import { type BrokerLimits, type ReplicationSettings, type BrokerEvents, type BrokerDeps, type RoutingFields, type RecoveryMode } from './types.js';

export class BrokerState {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly limits: BrokerLimits;
  readonly replication: ReplicationSettings;
  readonly events: BrokerEvents;
  readonly flowListeners = new Set<(queue: Queue, stopped: boolean) => void>();
  readonly pauseListeners = new Set<(reason: string | null) => void>();
  producerPause: string | null = null;
  readonly routingFields: ((body: Uint8Array) => RoutingFields) | null;
  readonly selectorFields: SelectorFieldsDecoder | null;
  readonly queueMap = new Map<string, Queue>();
  readonly exchangeMap = new Map<string, Exchange>();
  /** Queues whose declare record is in the store (durable or replicated). */
  readonly storedQueues = new Set<string>();
  readonly storedExchanges = new Set<string>();
  dispatching = false;
  /** Re-entrant dispatches (a consumer settling synchronously from take()), folded into the
   * running loop. */
  readonly pendingDispatch = new Set<Queue>();
  recoveryMode: RecoveryMode = 'local';
  /** The body last read by readable(), for the bodyOf() call that follows it. */
  checkedBody: { entry: QueueEntry; body: Uint8Array } | null = null;
  /** Messages quarantined since this broker started. */
  quarantinedCount = 0;
  /** Recovered messages shared by several queues map to one object while any holds it. */
  readonly recoveredMessages = new Map<number, WeakRef<BrokerMessage>>();
  /** Set while a transaction commits (journalAsOne): journal() collects records here, and
   * they go to the store as one commit. */
  capture: JournalCapture | null = null;

  constructor(deps: BrokerDeps) {
    this.store = deps.store;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.limits = deps.limits;
    this.replication = deps.replication;
    this.events = deps.events ?? { messageResolved: () => {} };
    this.routingFields = deps.routingFields ?? null;
    this.selectorFields = deps.selectorFields ?? null;
    for (const builtIn of BUILT_IN_EXCHANGES) {
      this.exchangeMap.set(
        builtIn.name,
        new Exchange({
          name: builtIn.name,
          type: builtIn.type,
          durable: true,
          autoDelete: false,
          alternateExchange: null,
          arguments: {},
          replicate: 'none',
          builtIn: true,
        }),
      );
    }
  }
}

/** Every mutation of stored state goes through here, in the order it happens in memory. */
export function journal(broker: BrokerState, records: StoreRecord[]): CommitTicket {
  const capture = broker.capture;
  if (capture) {
    // Inside a transaction's commit: these records are given the LSNs they will have in the
    // one commit journalAsOne makes, and its outcome.
    const firstLsn = capture.firstLsn + capture.records.length;
    capture.records.push(...records);
    return {
      firstLsn,
      lastLsn: firstLsn + records.length - 1,
      committed: capture.committed.promise,
      durable: capture.durable.promise,
      onFailed: (listener) => capture.failed.push(listener),
    };
  }
  // Failures are logged by the store (one line per failed batch) and handled by whoever
  // waits on the ticket (enqueueFailed, the ack gate).
  return broker.store.commit(records);
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // As the store's tickets: a rejection nobody awaits is not an unhandled one.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export interface JournalCapture {
  /** The LSN the first captured record will have. */
  readonly firstLsn: number;
  readonly records: StoreRecord[];
  readonly committed: Deferred;
  readonly durable: Deferred;
  /** onFailed listeners of the captured tickets, told if the one commit fails. */
  readonly failed: ((err: unknown) => void)[];
}

/** Runs `work` (which journals as it goes) and writes everything it journaled as ONE store
 * commit, opened by a txn record (store/record.ts): one LMDB transaction locally, one frame to
 * every backup, so a crash or a failover leaves all of it or none. Synchronous, so no other
 * commit can come between; returns the commit's ticket (null if nothing was journaled). */
export function journalAsOne<T>(broker: BrokerState, work: () => T): { result: T; ticket: CommitTicket | null } {
  assert(broker.capture === null, 'journalAsOne inside journalAsOne');
  const markerLsn = broker.store.nextLsnToAssign();
  const capture: JournalCapture = { firstLsn: markerLsn + 1, records: [], committed: deferred(), durable: deferred(), failed: [] };
  broker.capture = capture;
  let result: T | undefined;
  let ticket: CommitTicket | null = null;
  try {
    result = work();
  } finally {
    // Even if work() threw (a bug), what it changed in memory is written: memory and store agree.
    broker.capture = null;
    if (capture.records.length > 0) {
      ticket = broker.store.commit([{ kind: 'txn', lastLsn: markerLsn + capture.records.length }, ...capture.records]);
      assert(ticket.firstLsn === markerLsn, `transaction commit given LSN ${ticket.firstLsn}, expected ${markerLsn}`);
      ticket.committed.then(capture.committed.resolve, capture.committed.reject);
      ticket.durable.then(capture.durable.resolve, capture.durable.reject);
      ticket.onFailed((err) => {
        for (const listener of capture.failed) listener(err);
      });
    }
  }
  return { result: result as T, ticket };
}

export function releaseMessageRef(broker: BrokerState, message: BrokerMessage): void {
  message.refs--;
  if (message.refs <= 0) {
    message.body = undefined;
    broker.recoveredMessages.delete(message.id);
    broker.events.messageResolved(message.id);
  }
}
