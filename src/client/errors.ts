// The client's expected failures, each with a stable code (STYLE.md 5): callers and tests branch on
// `code`, never on message text. An AMQP error condition from the peer travels in `condition`.

export type ClientErrorCode =
  /** A connection or link option is malformed or out of range. */
  | 'BAD_OPTION'
  /** An address string (name[/subject][; {options}]) is malformed. */
  | 'BAD_ADDRESS'
  /** No address accepted a connection within the reconnect policy (limit or timeout reached). */
  | 'CONNECT_FAILED'
  /** The connection was lost and reconnect is off, so pending work cannot complete. */
  | 'DISCONNECTED'
  /** The peer refused to attach a link (AMQP 1.0 §2.6.3: attach with a null terminus, then detach). */
  | 'LINK_REFUSED'
  /** The peer detached an attached link with an error (for example, its queue was deleted). */
  | 'LINK_DETACHED'
  /** The application closed the connection or link while work was pending. */
  | 'CLOSED';

export interface AmqpCondition {
  readonly condition: string;
  readonly description?: string;
  readonly info?: Record<string, unknown>;
}

export class ClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly amqp?: AmqpCondition,
  ) {
    super(amqp ? `${message}: ${amqp.condition}${amqp.description ? ` (${amqp.description})` : ''}` : message);
    this.name = 'ClientError';
  }
}
