// Every expected failure has a stable code (STYLE.md 5). This table is the single list: the AMQP
// error condition each code becomes at the edge, and what it means. README.md's error table is
// kept in step with it by a test (test/unit/errors-table.test.ts).

import type { StoreErrorCode } from '../../store/errors.js';

export interface ErrorInfo {
  /** The AMQP 1.0 error condition sent to a client. */
  readonly condition: string;
  readonly meaning: string;
}

export const BROKER_ERRORS = {
  NOT_FOUND: { condition: 'amqp:not-found', meaning: 'the address names no queue or exchange, and the link did not ask to create it' },
  INVALID_ARGUMENT: { condition: 'amqp:invalid-field', meaning: 'a declare argument or node property has a bad value (the message names it)' },
  BAD_SELECTOR: { condition: 'amqp:invalid-field', meaning: 'a selector filter (or qpid.filter argument) does not parse; the message gives the character where it goes wrong' },
  PRECONDITION_FAILED: { condition: 'amqp:precondition-failed', meaning: 'a declare conflicts with an existing node, or a conditional delete found it in use' },
  NOT_ALLOWED: { condition: 'amqp:not-allowed', meaning: 'the operation is not permitted (built-in exchange, backup broker, promotion rules)' },
  RESOURCE_LOCKED: { condition: 'amqp:resource-locked', meaning: 'an exclusive queue belongs to another connection' },
  QUEUE_FULL: { condition: 'amqp:resource-limit-exceeded', meaning: 'the queue is at qpid.max_count or qpid.max_size with policy reject' },
  MESSAGE_TOO_LARGE: { condition: 'amqp:link:message-size-exceeded', meaning: 'the message is larger than --max-message-size' },
  UNROUTABLE: { condition: 'amqp:not-found', meaning: 'no binding of the exchange matched the message (link option qpid.unroutable=reject)' },
  TOO_MANY_CONNECTIONS: { condition: 'amqp:resource-limit-exceeded', meaning: 'the broker is at --max-connections' },
  NOT_PRIMARY: { condition: 'amqp:connection:forced', meaning: 'a broker that is not primary refuses a replication connection (a client\'s connection to a backup is dropped instead)' },
  STALE_EPOCH: { condition: 'amqp:not-allowed', meaning: 'a replication peer has a lower cluster epoch than one already seen (fenced)' },
  SHUTTING_DOWN: { condition: 'amqp:connection:forced', meaning: 'the broker is stopping (admin and replication connections; client sockets are dropped)' },
  BAD_CONFIG: { condition: 'amqp:invalid-field', meaning: 'a bad option or config line (exit code 2 at startup)' },
  BAD_URL: { condition: 'amqp:invalid-field', meaning: 'a Qpid URL does not follow the grammar (the message names the part)' },
  REPLICA_NOT_EMPTY: { condition: 'amqp:precondition-failed', meaning: 'replicate into a queue that holds messages, which the original\'s would replace (--force replaces them)' },
  REPLICA_SOURCE_UNREACHABLE: { condition: 'amqp:precondition-failed', meaning: 'replicate from a broker that cannot be reached; nothing was changed (--force keeps trying)' },
  RESPONSE_TOO_LARGE: { condition: 'amqp:resource-limit-exceeded', meaning: 'a management answer would exceed 4 MiB; listings are paged (after, limit): ask for a smaller page' },
  REPLICA_SOURCE_NO_QUEUE: { condition: 'amqp:not-found', meaning: 'replicate from a broker that has no durable or replicated queue of that name; nothing was changed' },
  DECODE_ERROR: { condition: 'amqp:decode-error', meaning: 'a frame or message is not well-formed AMQP, or a count, length or nesting in it exceeds what its bytes or --max-decode-depth allow' },
  FRAMING_ERROR: { condition: 'amqp:connection:framing-error', meaning: 'a frame header is invalid, or a frame is larger than --max-frame-size (512 bytes for SASL frames)' },
  TRANSFER_LIMIT_EXCEEDED: { condition: 'amqp:link:transfer-limit-exceeded', meaning: 'a transfer arrived on a link with no credit; the link is detached' },
  WINDOW_VIOLATION: { condition: 'amqp:session:window-violation', meaning: 'a transfer arrived beyond the session\'s incoming window; the session is ended' },
  CONNECTION_BUFFER_FULL: { condition: 'amqp:resource-limit-exceeded', meaning: 'unfinished deliveries on one connection would exceed --max-connection-buffer; the link is detached' },
  UNAUTHORIZED: { condition: 'amqp:unauthorized-access', meaning: 'the ACL (--acl-file) denies this identity the operation; the message names the deciding rule\'s line' },
  SESSION_LIMIT: { condition: 'amqp:resource-limit-exceeded', meaning: 'a connection began more sessions than --max-sessions-per-connection (the channel-max we announce)' },
  LINK_LIMIT: { condition: 'amqp:resource-limit-exceeded', meaning: 'a session attached more links than --max-links-per-session (the handle-max we announce)' },
  USER_CONNECTION_LIMIT: { condition: 'amqp:resource-limit-exceeded', meaning: 'an identity has --max-connections-per-user connections open (or its ACL connection quota)' },
  TRANSACTION_UNKNOWN: { condition: 'amqp:transaction:unknown-id', meaning: 'a transfer, disposition or discharge names a transaction this connection did not declare, or one already discharged (AMQP 1.0 §4.3)' },
  TRANSACTION_ROLLBACK: { condition: 'amqp:transaction:rollback', meaning: 'the transaction was rolled back instead of committed: it exceeded --max-transaction-operations, or its commit failed in the store' },
  INTERNAL: { condition: 'amqp:internal-error', meaning: 'a bug; the broker logs it' },
} as const satisfies Record<string, ErrorInfo>;

export const STORE_ERRORS: Record<StoreErrorCode, ErrorInfo> = {
  STORE_LOCKED: { condition: 'amqp:internal-error', meaning: 'another process holds the data dir\'s lock (<data-dir>/lock names it)' },
  STORE_IN_USE: { condition: 'amqp:internal-error', meaning: 'a read-only open of a store a live process holds (tools ask that broker instead)' },
  STORE_NEWER_FORMAT: { condition: 'amqp:internal-error', meaning: 'the store was written by a newer format version' },
  STORE_OLDER_FORMAT: { condition: 'amqp:internal-error', meaning: 'the store was written in format 1, before checksums; it is refused, not upgraded' },
  STORE_CORRUPT: { condition: 'amqp:internal-error', meaning: 'a record or table failed validation (the message names it)' },
  STORE_FULL: { condition: 'amqp:resource-limit-exceeded', meaning: 'the disk or the store map is full; the commit changed nothing' },
  STORE_IO: { condition: 'amqp:internal-error', meaning: 'an I/O error during a commit or open' },
  STORE_CLOSED: { condition: 'amqp:internal-error', meaning: 'the store closed before the operation completed' },
  STORE_NOT_FOUND: { condition: 'amqp:not-found', meaning: 'no store at the data dir (tools)' },
  STORE_LSN_GAP: { condition: 'amqp:internal-error', meaning: 'replicated records do not continue the local log' },
  STORE_LOG_TRUNCATED: { condition: 'amqp:internal-error', meaning: 'the log no longer holds the LSN a reader asked for (it needs a snapshot)' },
  STORE_UNDO_MISSING: { condition: 'amqp:internal-error', meaning: 'the log cannot be taken back to a divergence point: entries after it have no undo (the backup resyncs from a snapshot instead)' },
  STORE_READ_ONLY: { condition: 'amqp:not-allowed', meaning: 'a write to a store opened read-only' },
};

export type BrokerErrorCode = keyof typeof BROKER_ERRORS;

export class BrokerError extends Error {
  readonly code: BrokerErrorCode;
  constructor(code: BrokerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BrokerError';
    this.code = code;
  }
}

export function conditionFor(code: string): string {
  if (code in BROKER_ERRORS) return BROKER_ERRORS[code as BrokerErrorCode].condition;
  if (code in STORE_ERRORS) return STORE_ERRORS[code as StoreErrorCode].condition;
  return 'amqp:internal-error';
}
