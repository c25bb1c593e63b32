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
