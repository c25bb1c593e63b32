// The AMQP listener's vocabulary: connection roles and admission, what it knows of a connection,
// the special nodes it hands links to, its options, and the per-connection state the
// performative handlers (handlers/) share. Re-exported by server.ts.

import type { Delivery, Receiver, Sender } from 'rhea';
import type { Broker } from '../broker/broker.js';
import type { Settlements } from '../ha/settlements.js';
import type { NodePolicies } from './address.js';
import type { ProducerLink } from './inbound.js';
import type { ConsumerLink } from './outbound.js';
import type { SaslService } from './rhea-sasl-server.js';
import type { AccessControl } from '../security/access-control.js';
import type { OpenLimits } from './rhea-limits.js';
import type { TlsMaterial } from '../security/tls-context.js';
import type { CoordinatorLink } from './handlers/coordinator.js';
import type { ConnectionTransactions } from './transactions.js';

export type ConnectionRole = 'client' | 'admin' | 'replication';

/** accept; refuse with a close frame; or drop the TCP connection with no close frame at all
 * (an HA backup's answer to a client: DESIGN.md §3). */
export type Admission =
  | { readonly kind: 'accept'; readonly role: ConnectionRole }
  | { readonly kind: 'refuse'; readonly error: { condition: string; description: string; info?: Record<string, unknown> } }
  | { readonly kind: 'drop'; readonly reason: string };

export interface ConnectionInfo {
  readonly id: string;
  readonly containerId: string;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly remoteAddress: string;
  /** The authenticated identity, user@realm (anonymous@realm for ANONYMOUS or no SASL). */
  readonly user: string;
}

/** A node with its own protocol on the broker port ($management, HA replication). */
export interface SpecialNode {
  /** A client attached a receiving link from this node (we send). */
  senderOpened?(sender: Sender, connection: ConnectionInfo, role: ConnectionRole): void;
  /** A client attached a sending link to this node (we receive). */
  receiverOpened?(receiver: Receiver, connection: ConnectionInfo, role: ConnectionRole): void;
  /** A transfer on a receiver this node owns; `raw` is the encoded message. */
  message?(receiver: Receiver, raw: Buffer, delivery: Delivery, format: number): void;
  linkClosed?(link: Sender | Receiver): void;
  connectionClosed?(connection: ConnectionInfo): void;
}

export interface AmqpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly containerId: string;
  readonly maxConnections: number;
  readonly maxFrameSizeBytes: number;
  readonly maxUnsettled: number;
  readonly sasl: SaslService;
  /** The ACL (--acl-file): links and connections are checked against it. */
  readonly access: AccessControl;
  /** 0: no per-identity limit (the ACL's connection quotas still apply). */
  readonly maxConnectionsPerUser: number;
  /** Sessions per connection and links per session (announced as channel-max, handle-max). */
  readonly openLimits: OpenLimits;
  /** A delivery streamed over several frames is refused past this (--max-message-size). */
  readonly maxMessageSizeBytes: number;
  /** Bytes of unfinished deliveries one connection may hold (--max-connection-buffer). */
  readonly maxConnectionBufferBytes: number;
  /** Deepest nesting of AMQP values in a frame or message (--max-decode-depth). */
  readonly maxDecodeDepth: number;
  /** A socket that has not completed its open in this time is dropped (--handshake-timeout). */
  readonly handshakeTimeoutMs: number;
  /** The pending-handshake budget before the open-file cap (--max-pending-handshakes). */
  readonly maxPendingHandshakes: number;
  /** AMQP idle timeout we announce (ms): a peer silent for twice this is dropped. Set in a
   * cluster (--link-heartbeat-interval) so that a hung backup leaves the ack gate. */
  readonly idleTimeoutMs?: number;
  /** --queue-patterns / --topic-patterns. */
  readonly nodePolicies?: NodePolicies;
  /** --ssl-port with the broker's certificate (listenTls). */
  readonly tls?: { readonly port: number; readonly material: TlsMaterial } | null;
  /** --require-encryption: connections of the plain port are refused at their open. */
  readonly requireEncryption?: boolean;
  /** Enqueues plus dequeues one transaction may hold (--max-transaction-operations). */
  readonly maxTransactionOperations?: number;
  /** An undischarged transaction older than this is rolled back (--max-transaction-age; 0: never). */
  readonly maxTransactionAgeMs?: number;
}

export interface ConnectionState {
  readonly info: ConnectionInfo;
  role: ConnectionRole;
  readonly producers: Map<Receiver, ProducerLink>;
  readonly consumers: Map<Sender, ConsumerLink>;
  readonly special: Map<Sender | Receiver, SpecialNode>;
  /** Temporary queues made for dynamic targets, deleted with their link. */
  readonly temporaryQueues: Map<Receiver, string>;
  /** Coordinator links (AMQP 1.0 §4.5.1), each with the settlement of its discharges. */
  readonly coordinators: Map<Receiver, CoordinatorLink>;
  /** The connection's transactions, made at its first coordinator attach. */
  transactions: ConnectionTransactions | null;
  closed: boolean;
}

/** A connection and its links as the management listings show them. */
export interface ConnectionSnapshot {
  readonly info: ConnectionInfo;
  readonly role: ConnectionRole;
  readonly producers: readonly { readonly name: string; readonly target: string | null }[];
  readonly consumers: readonly { readonly name: string; readonly queue: string | null; readonly browse: boolean }[];
}

/** The messaging model the server serves: present on a standalone broker and an HA primary,
 * absent on a backup (which only admits management and replication connections). */
export interface MessagingService {
  readonly broker: Broker;
  readonly settlements: Settlements;
}
