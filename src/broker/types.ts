// The broker's public vocabulary: what callers pass in (declares, incoming messages, publish
// targets) and what they get back (outcomes, settlement holds, config changes). Re-exported by
// broker.ts, so that callers import from there.

import { type Arguments, type CommitTicket, type ExchangeType, type LostMessage, type Store } from '../../store/index.js';
import { type Clock } from '../core/clock.js';
import { type Logger } from '../core/log.js';
import { type FlowDefaults } from './flow-control.js';
import { BrokerError } from './errors.js';
import { type ReplicateLevel } from './queue.js';
import { type SelectorFieldsDecoder } from './selection.js';

export interface BrokerLimits {
  /** --default-queue-limit: max bytes of a queue declared without qpid.max_size (0: none). */
  readonly defaultQueueLimitBytes: number;
  readonly maxMessageSizeBytes: number;
  /** --default-flow-stop-threshold / --default-flow-resume-threshold (absent: no default flow
   * control; explicit qpid.flow_* arguments still apply). */
  readonly flow?: FlowDefaults;
}

export interface ReplicationSettings {
  /** True in an HA cluster (or with queue replication on): replicated queues keep their
   * transient messages in the log so that backups receive one ordered stream. */
  readonly enabled: boolean;
  /** --ha-replicate: the level of queues and exchanges declared without qpid.replicate. */
  readonly defaultLevel: ReplicateLevel;
}

/** Notifications the broker gives the layer that settles producers (the ack gate). */
export interface BrokerEvents {
  /** No queue holds the message any more (consumed, or dropped): it need not be replicated. */
  messageResolved(messageId: number): void;
  /** The store refused the message's enqueue (full disk): its producer must hear so. */
  messageFailed?(messageId: number, err: unknown): void;
  /** A stored message could not be read unaltered (checksum, missing row) and was moved to its
   * queue's quarantine: lost data, to be reported (NATS's LostStreamData). */
  messageLost?(lost: LostMessage): void;
}

export interface BrokerDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly limits: BrokerLimits;
  readonly replication: ReplicationSettings;
  readonly events?: BrokerEvents;
  /** Reads a stored message's subject and application properties from its encoded bytes:
   * messages recovered from the store carry neither in memory, and dead-lettering routes by
   * them. Without it a recovered message is dead-lettered with an empty key. */
  readonly routingFields?: (body: Uint8Array) => RoutingFields;
  /** Decodes what selectors look at (queues with a qpid.filter); without it nothing matches. */
  readonly selectorFields?: SelectorFieldsDecoder;
}

export interface RoutingFields {
  readonly subject: string | null;
  readonly applicationProperties: Readonly<Record<string, unknown>> | null;
}

export interface IncomingMessage {
  /** The encoded AMQP message as received. */
  readonly body: Uint8Array;
  readonly durable: boolean;
  /** Absolute expiry (from header ttl or properties absolute-expiry-time), or null. */
  readonly expiresAtMs: number | null;
  readonly subject: string | null;
  readonly applicationProperties: Readonly<Record<string, unknown>> | null;
  /** The message-id as a dedup key (src/amqp/message-id.ts), read only by queues with a
   * qpid.dedup_window; absent or null: the message is never deduplicated. */
  readonly dedupKey?: string | null;
}

/** What to do with a message no binding matched (link property `qpid.unroutable`): `discard`
 * (the default, as in qpidd: accepted and dropped, which every pub/sub example relies on),
 * or `reject` / `release` as opt-ins for producers that want to know. */
export type UnroutablePolicy = 'reject' | 'release' | 'discard';

export type PublishTarget =
  | { readonly kind: 'queue'; readonly queue: string }
  | { readonly kind: 'exchange'; readonly exchange: string; readonly key: string | null; readonly unroutable: UnroutablePolicy };

/** What must happen before the producer may be told `accepted`. */
export interface SettlementHold {
  readonly messageId: number;
  /** The commit holding the enqueue, or null if nothing was journaled. */
  readonly ticket: CommitTicket | null;
  /** The record's LSN, which every backup in the gate must confirm (null: not journaled). */
  readonly lsn: number | null;
  /** Whether local durability is required (persistent message on a durable queue). */
  readonly needsDurable: boolean;
  /** Whether backups must confirm it (it went to a queue that replicates messages). Absent
   * means true. */
  readonly replicated?: boolean;
}

export type PublishOutcome =
  /** flowStopped: queues the message went to that are now flow-stopped (their producers wait). */
  /** duplicate: a queue's dedup window already held the message-id, so that queue (or every
   * queue, when the hold is the duplicate's) did not take it again. */
  | { readonly kind: 'accepted'; readonly hold: SettlementHold; readonly flowStopped?: readonly string[]; readonly duplicate?: boolean }
  | { readonly kind: 'released' }
  | { readonly kind: 'rejected'; readonly error: BrokerError };

export interface QueueDeclare {
  readonly name: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusive: boolean;
  readonly alternateExchange: string | null;
  readonly arguments: Arguments;
}

export interface ExchangeDeclare {
  readonly name: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly alternateExchange: string | null;
  readonly arguments: Arguments;
}

/** The result of a configuration change: whether it changed anything, and the commit to wait
 * for (gated like a publish) when it was journaled. */
export interface ConfigChange {
  readonly changed: boolean;
  readonly ticket: CommitTicket | null;
}

/** How a consumer settled a delivery (AMQP 1.0 §3.4 outcomes). */
export type ConsumerOutcome =
  | { readonly kind: 'accepted' }
  | { readonly kind: 'released' }
  | { readonly kind: 'rejected' }
  | { readonly kind: 'modified'; readonly deliveryFailed: boolean; readonly undeliverableHere: boolean };

/** Why a recovered broker is starting: 'local' recovery (a standalone restart, or the first
 * primary after total cluster failure) drops what was never meant to survive a restart
 * (non-durable queues, transient messages); 'promotion' of a ready backup keeps everything the
 * primary had replicated. */
export type RecoveryMode = 'local' | 'promotion';
