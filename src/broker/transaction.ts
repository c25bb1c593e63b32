// AMQP 1.0 local transactions (§4), as a pure state machine: (transaction, event) ->
// (transaction, actions), no broker, store or clock inside (STYLE.md 1). The driver (the
// coordinator, src/amqp/transactions.ts) carries the actions out against the broker.
//
// A transaction is declared active; transactional transfers (§4.4.1) and dispositions (§4.4.2)
// are buffered in it: an enqueue is held invisible, a dequeue keeps its message acquired (held by
// the transaction, not the consumer, so a detaching consumer does not release it). Discharge
// with fail=false commits: every enqueue and dequeue in one store commit (broker/transact.ts);
// fail=true, the loss of the controlling link or connection, or the age bound rolls back:
// enqueues vanish, dequeued messages go back to their queues. Either is final.
//
// The state's arrays are owned by the transaction and only appended to: a step hands back the
// same arrays, so a transaction of N operations costs O(N), not O(N^2).

import { BrokerError } from './errors.js';
import type { QueueEntry } from './queue.js';
import type { ConsumerOutcome, IncomingMessage, PublishTarget } from './types.js';

export interface BufferedEnqueue {
  readonly target: PublishTarget;
  readonly incoming: IncomingMessage;
}

export interface BufferedDequeue {
  readonly entry: QueueEntry;
  /** The outcome the consumer gave inside the transaction: it takes effect at commit. */
  readonly outcome: ConsumerOutcome;
}

export type TransactionPhase = 'active' | 'committed' | 'rolled-back';

export interface Transaction {
  readonly id: string;
  readonly phase: TransactionPhase;
  readonly enqueues: readonly BufferedEnqueue[];
  readonly dequeues: readonly BufferedDequeue[];
  /** Enqueues plus dequeues may not pass this (the txn's records are one store commit and one
   * replication frame, so they are bounded). */
  readonly maxOperations: number;
}

export type TransactionEvent =
  | { readonly kind: 'enqueue'; readonly enqueue: BufferedEnqueue }
  | { readonly kind: 'dequeue'; readonly dequeue: BufferedDequeue }
  | { readonly kind: 'discharge'; readonly fail: boolean }
  /** The controlling link or the connection went, or the transaction grew too old. */
  | { readonly kind: 'abandon'; readonly reason: string };

export type TransactionAction =
  /** Accept the transfer provisionally (transactional-state with accepted). */
  | { readonly kind: 'buffered' }
  /** The transaction takes the entry from its consumer: it stays acquired until discharge. */
  | { readonly kind: 'hold'; readonly entry: QueueEntry }
  | { readonly kind: 'commit'; readonly enqueues: readonly BufferedEnqueue[]; readonly dequeues: readonly BufferedDequeue[] }
  | { readonly kind: 'rollback'; readonly dequeues: readonly BufferedDequeue[]; readonly reason: string }
  /** The event is refused; the transaction is unchanged (or, for an over-limit one, rolled back
   * by a separate rollback action). */
  | { readonly kind: 'refuse'; readonly error: BrokerError };

export interface Step {
  readonly txn: Transaction;
  readonly actions: readonly TransactionAction[];
}

/** Enqueues plus dequeues of one transaction when --max-transaction-operations is not given. */
export const MAX_TRANSACTION_OPERATIONS_DEFAULT = 10_000;

export function declareTransaction(id: string, maxOperations: number = MAX_TRANSACTION_OPERATIONS_DEFAULT): Transaction {
  return { id, phase: 'active', enqueues: [], dequeues: [], maxOperations };
}

export function transactionStep(txn: Transaction, event: TransactionEvent): Step {
  if (txn.phase !== 'active') {
    // §4.3: a discharged transaction is unknown from then on.
    if (event.kind === 'abandon') return { txn, actions: [] };
    return { txn, actions: [{ kind: 'refuse', error: new BrokerError('TRANSACTION_UNKNOWN', `transaction ${txn.id} is already ${txn.phase}`) }] };
  }
  switch (event.kind) {
    case 'enqueue':
    case 'dequeue': {
      if (txn.enqueues.length + txn.dequeues.length >= txn.maxOperations) {
        // A transaction that cannot take what its client did cannot commit it either: it is
        // rolled back now, and its discharge will say so (amqp:transaction:rollback).
        const error = new BrokerError('TRANSACTION_ROLLBACK', `transaction ${txn.id} exceeds ${txn.maxOperations} operations (--max-transaction-operations): rolled back`);
        const rolled: Transaction = { ...txn, phase: 'rolled-back' };
        const refused: TransactionAction[] = [{ kind: 'refuse', error }, { kind: 'rollback', dequeues: txn.dequeues, reason: error.message }];
        // The refused dequeue's entry is not held by the transaction: the caller releases it.
        return { txn: rolled, actions: refused };
      }
      if (event.kind === 'enqueue') {
        (txn.enqueues as BufferedEnqueue[]).push(event.enqueue);
        return { txn, actions: [{ kind: 'buffered' }] };
      }
      (txn.dequeues as BufferedDequeue[]).push(event.dequeue);
      return { txn, actions: [{ kind: 'hold', entry: event.dequeue.entry }] };
    }
    case 'discharge':
      if (event.fail) return { txn: { ...txn, phase: 'rolled-back' }, actions: [{ kind: 'rollback', dequeues: txn.dequeues, reason: 'discharged with fail=true' }] };
      return { txn: { ...txn, phase: 'committed' }, actions: [{ kind: 'commit', enqueues: txn.enqueues, dequeues: txn.dequeues }] };
    case 'abandon':
      return { txn: { ...txn, phase: 'rolled-back' }, actions: [{ kind: 'rollback', dequeues: txn.dequeues, reason: event.reason }] };
  }
}
