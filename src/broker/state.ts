// The state every part of the broker shares (catalog, publish, consume, expiry, paging,
// replica): the queue and exchange maps, what is in the store, and the dependencies it was given.
// journal() is the one door to the store: every mutation of stored state goes through it, in
// the order it happens in memory.

import { type CommitTicket, type Store, type StoreRecord } from '../../store/index.js';
import { type Clock } from '../core/clock.js';
import { type Logger } from '../core/log.js';
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
  // Failures are logged by the store (one line per failed batch) and handled by whoever
  // waits on the ticket (enqueueFailed, the ack gate).
  return broker.store.commit(records);
}

export function releaseMessageRef(broker: BrokerState, message: BrokerMessage): void {
  message.refs--;
  if (message.refs <= 0) {
    message.body = undefined;
    broker.recoveredMessages.delete(message.id);
    broker.events.messageResolved(message.id);
  }
}
