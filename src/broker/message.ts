// A message as the broker holds it: the encoded AMQP bytes exactly as the producer sent them
// (stored and forwarded without re-encoding), plus the few fields routing, limits and expiry
// need. One BrokerMessage is shared by every queue entry that holds it; it is stored once.

export interface BrokerMessage {
  /** Store message id (> 0) when the message is or will be in the store; a negative in-memory
   * id for messages that never touch the disk. */
  readonly id: number;
  /** The encoded message; undefined when only the store holds the bytes (recovered or evicted
   * entries), in which case they are read from the store when delivered. */
  body: Uint8Array | undefined;
  readonly size: number;
  readonly persistent: boolean;
  readonly expiresAtMs: number | null;
  /** The routing key (AMQP properties.subject) the message arrived with, if any. */
  readonly subject: string | null;
  /** Application properties, for the headers exchange; null when not decoded or absent. */
  readonly applicationProperties: Readonly<Record<string, unknown>> | null;
  /** True once an enqueue record holding it has been submitted to the store. */
  stored: boolean;
  /** LSN of the enqueue record holding it, and how many queues that record placed it on: a
   * message held by one stored queue and consumed before its record was written can be
   * withdrawn from the store instead of being written and then dequeued (Store.retract). */
  enqueueLsn: number | null;
  storedTargets: number;
  /** Queue entries (in memory or paged out) that still hold the message. */
  refs: number;
}

let nextTransientId = -1;

/** Ids for messages that never reach the store: negative, so they can never collide. */
export function allocateTransientId(): number {
  return nextTransientId--;
}
