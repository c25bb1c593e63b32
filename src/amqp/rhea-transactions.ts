// A consumer's disposition inside a transaction (AMQP 1.0 §4.4.2) carries transactional-state
// {txn-id, outcome}, which rhea does not know: it would log "unrecognised outcome" and report no
// outcome at all. Our disposition reader (rhea-peer-numbers.ts) unwraps it here: the delivery's
// remote state becomes the outcome inside (so rhea reports accepted, rejected... as usual) and
// the txn-id is kept on the delivery for the consumer link (outbound.ts).

import { createRequire } from 'node:module';
import { transactionalStateOf } from './transaction-codec.js';

const require = createRequire(import.meta.url);
const rheaMessage = require('rhea/lib/message.js') as { unwrap_outcome(state: unknown): unknown };

const TXN_ID = Symbol('txnId');
type Tagged = { [TXN_ID]?: Buffer; remote_state?: unknown };

/** The remote state a disposition gives a delivery, remembering a transaction it names. */
export function unwrapRemoteState(delivery: object, state: unknown): unknown {
  const transactional = transactionalStateOf(state);
  if (!transactional) return rheaMessage.unwrap_outcome(state);
  (delivery as Tagged)[TXN_ID] = transactional.txnId;
  return transactional.outcome === undefined || transactional.outcome === null ? undefined : rheaMessage.unwrap_outcome(transactional.outcome);
}

/** The transaction a delivery's disposition named, if any. */
export function transactionOf(delivery: object): Buffer | undefined {
  return (delivery as Tagged)[TXN_ID];
}

const RAW_STATE_PATCHED = Symbol.for('qpidd.rhea-raw-transfer-state');
/** Index of `state` in a transfer performative's fields (AMQP 1.0 §2.7.5). */
const TRANSFER_STATE_FIELD = 7;

/** rhea decodes a transfer's `state` by dropping its descriptor, so transactional-state (§4.4.1)
 * arrives as a bare [txn-id]: the delivery keeps the state as it was on the wire instead, for
 * transactionalStateOf(). Patches rhea's Incoming (reached through a session, since rhea does
 * not export it) once per process. */
export function keepRawTransferState(session: { incoming?: object }): void {
  const prototype = session.incoming ? (Object.getPrototypeOf(session.incoming) as Record<string | symbol, unknown>) : undefined;
  if (!prototype || prototype[RAW_STATE_PATCHED]) return;
  prototype[RAW_STATE_PATCHED] = true;
  const onTransfer = prototype['on_transfer'] as (this: unknown, frame: { performative: { value?: unknown[] } }, receiver: unknown) => void;
  prototype['on_transfer'] = function (this: unknown, frame: { performative: { value?: unknown[] } }, receiver: unknown): void {
    const raw = frame.performative.value?.[TRANSFER_STATE_FIELD];
    if (raw !== undefined && raw !== null && transactionalStateOf(raw)) Object.defineProperty(frame.performative, 'state', { value: raw });
    onTransfer.call(this, frame, receiver);
  };
}
