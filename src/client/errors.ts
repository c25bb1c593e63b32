// The client's expected failures, each with a stable code (STYLE.md 5): callers and tests branch on
// `code`, never on message text. An AMQP error condition from the peer travels in `amqp`.
// src/client/README.md's error table is kept in step with CLIENT_ERRORS by a test.

export const CLIENT_ERRORS = {
  BAD_OPTION: 'a connection or link option, or the URL, is malformed or out of range (the message names it)',
  BAD_ADDRESS: 'an address string (name[/subject][; {options}]) is malformed (the message names the part)',
  CONNECT_FAILED: 'no address admitted a connection within the reconnect policy (passes or timeout)',
  DISCONNECTED: 'the connection was lost and reconnect is off, or reconnecting gave up (limit or timeout)',
  LINK_REFUSED: 'the broker refused to attach a link (AMQP 1.0 §2.6.3); `amqp` carries its condition',
  LINK_DETACHED: 'the broker detached an attached link with an error (e.g. its queue was deleted)',
  CLOSED: 'the application closed the connection or link while work was pending',
} as const;

export type ClientErrorCode = keyof typeof CLIENT_ERRORS;

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
