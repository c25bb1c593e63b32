// What a receiving session accepts from its peer, transfer by transfer, before any byte of it is
// kept: the session's incoming window (AMQP 1.0 §2.5.6), the link's credit (§2.6.7), the size of
// a delivery streamed over several frames (--max-message-size) and the bytes of unfinished
// deliveries on the whole connection (--max-connection-buffer). Pure: state in, verdict out.

const MODULUS = 2 ** 32;

const isUint = (value: unknown): boolean => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < MODULUS;

export interface IntakeLimits {
  readonly maxMessageSizeBytes: number;
  readonly maxConnectionBufferBytes: number;
}

/** The transfer-ids the peer may use: `announcedWindow` of them from `announcedNextId`, the
 * values of our last begin or flow; `nextTransferId` is the id the peer's next transfer has. */
export interface SessionWindow {
  readonly nextTransferId: number;
  readonly announcedNextId: number;
  readonly announcedWindow: number;
}

/** The peer's begin gives its first transfer-id; nothing may arrive until we announce a window. */
export function sessionBegun(peerNextOutgoingId: unknown): SessionWindow {
  const first = typeof peerNextOutgoingId === 'number' && Number.isInteger(peerNextOutgoingId) ? peerNextOutgoingId % MODULUS : 0;
  return { nextTransferId: first, announcedNextId: first, announcedWindow: 0 };
}

/** We wrote a begin (no next-incoming-id: it is the peer's first id) or a flow. */
export function windowAnnounced(window: SessionWindow, nextIncomingId: number | undefined, incomingWindow: number): SessionWindow {
  return { ...window, announcedNextId: nextIncomingId ?? window.announcedNextId, announcedWindow: incomingWindow };
}

/** A transfer arrived: within the window, or a violation (§2.5.6: the session is ended). */
export function transferArrived(window: SessionWindow): { readonly ok: boolean; readonly window: SessionWindow } {
  const used = (((window.nextTransferId - window.announcedNextId) % MODULUS) + MODULUS) % MODULUS;
  return { ok: used < window.announcedWindow, window: { ...window, nextTransferId: (window.nextTransferId + 1) % MODULUS } };
}

/** One receiving link: the bytes of its delivery in progress, and whether we detached it. */
export interface LinkIntake {
  readonly deliveryBytes: number;
  readonly refused: boolean;
}

export const IDLE_LINK: LinkIntake = { deliveryBytes: 0, refused: false };

export interface TransferFacts {
  /** rhea holds earlier frames of this delivery (this transfer continues it). */
  readonly continuing: boolean;
  /** The transfer's delivery-id, as it came. */
  readonly deliveryId: unknown;
  /** The link's credit as we hold it (a new delivery needs one). */
  readonly credit: number;
  readonly payloadBytes: number;
  readonly more: boolean;
  readonly aborted: boolean;
}

export type RefusalCode = 'TRANSFER_LIMIT_EXCEEDED' | 'MESSAGE_TOO_LARGE' | 'CONNECTION_BUFFER_FULL';

export type TransferVerdict =
  /** Hand the transfer to rhea. */
  | { readonly kind: 'pass' }
  /** A transfer on a link we detached: ignore it (§2.6.5: until the peer's detach). */
  | { readonly kind: 'drop' }
  /** The sender aborted the delivery (§2.7.5): discard its frames; it is settled. */
  | { readonly kind: 'abort' }
  /** Detach the link with this error; its delivery in progress is discarded. */
  | { readonly kind: 'detach'; readonly code: RefusalCode; readonly condition: string; readonly description: string }
  /** The session's delivery numbering cannot go on: close the connection with this error. */
  | { readonly kind: 'close'; readonly condition: string; readonly description: string };

export interface Judgement {
  readonly verdict: TransferVerdict;
  readonly link: LinkIntake;
  /** Change in the connection's bytes of unfinished deliveries. */
  readonly bufferedDelta: number;
}

const CONDITIONS: Record<RefusalCode, string> = {
  TRANSFER_LIMIT_EXCEEDED: 'amqp:link:transfer-limit-exceeded',
  MESSAGE_TOO_LARGE: 'amqp:link:message-size-exceeded',
  CONNECTION_BUFFER_FULL: 'amqp:resource-limit-exceeded',
};

function refuse(link: LinkIntake, code: RefusalCode, description: string): Judgement {
  return { verdict: { kind: 'detach', code, condition: CONDITIONS[code], description }, link: { deliveryBytes: 0, refused: true }, bufferedDelta: -link.deliveryBytes };
}

/** Decides one transfer on a receiving link, given the connection's unfinished bytes so far. */
export function judgeTransfer(link: LinkIntake, facts: TransferFacts, connectionBufferedBytes: number, limits: IntakeLimits): Judgement {
  if (link.refused) return { verdict: { kind: 'drop' }, link, bufferedDelta: 0 };
  if (!facts.continuing && !isUint(facts.deliveryId)) {
    // rhea numbered such a delivery `undefined` and then could not write its disposition, from
    // a timer, where the exception ended the process.
    return { verdict: { kind: 'close', condition: 'amqp:invalid-field', description: 'the first transfer of a delivery must carry a delivery-id (AMQP 1.0 §2.7.5)' }, link, bufferedDelta: 0 };
  }
  if (!facts.continuing && facts.credit <= 0) {
    return refuse(link, 'TRANSFER_LIMIT_EXCEEDED', 'transfer on a link with no credit (AMQP 1.0 §2.6.7)');
  }
  if (facts.aborted) return { verdict: { kind: 'abort' }, link: IDLE_LINK, bufferedDelta: -link.deliveryBytes };
  if (!facts.more) {
    // The last frame: the message is whole and goes to the broker, which rejects one over
    // --max-message-size; what was buffered for it is the broker's now.
    return { verdict: { kind: 'pass' }, link: IDLE_LINK, bufferedDelta: -link.deliveryBytes };
  }
  const deliveryBytes = link.deliveryBytes + facts.payloadBytes;
  if (deliveryBytes > limits.maxMessageSizeBytes) {
    return refuse(link, 'MESSAGE_TOO_LARGE', `delivery of more than ${limits.maxMessageSizeBytes} bytes exceeds --max-message-size; aborted`);
  }
  if (connectionBufferedBytes + facts.payloadBytes > limits.maxConnectionBufferBytes) {
    return refuse(link, 'CONNECTION_BUFFER_FULL', `unfinished deliveries on this connection would exceed --max-connection-buffer ${limits.maxConnectionBufferBytes} bytes; aborted`);
  }
  return { verdict: { kind: 'pass' }, link: { deliveryBytes, refused: false }, bufferedDelta: facts.payloadBytes };
}
