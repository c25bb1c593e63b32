// Carries out a transaction's commit and rollback against the broker state (the pure state
// machine is transaction.ts). A commit replays the buffered enqueues through publish() and the
// buffered dequeues through settle(), inside journalAsOne (state.ts): everything they journal,
// dead-letters and ring overflows included, is one store commit opened by a txn record, so a
// crash leaves all of it or none, and backups receive it as one unit (src/ha/units.ts).

import type { CommitTicket } from '../../store/index.js';
import { dispatch, settle } from './consume.js';
import { publish } from './publish.js';
import type { Queue, QueueEntry } from './queue.js';
import { journalAsOne, type BrokerState } from './state.js';
import type { BufferedDequeue, BufferedEnqueue } from './transaction.js';
import type { SettlementHold } from './types.js';

/** Whether the transaction still holds the entry (the queue may have been deleted meanwhile). */
function heldByTransaction(entry: QueueEntry): boolean {
  return entry.state === 'acquired' && entry.consumer === null;
}

/** Commits: returns what must happen before the discharge may be settled (the whole commit
 * durable here and confirmed by every backup in the gate). */
export function commitTransaction(broker: BrokerState, enqueues: readonly BufferedEnqueue[], dequeues: readonly BufferedDequeue[]): SettlementHold {
  const { ticket } = journalAsOne(broker, () => {
    // Checked when they came (answered provisionally); refusing one now would break
    // all-or-nothing, so limits are not applied again.
    for (const e of enqueues) publish(broker, e.target, e.incoming, 'unchecked');
    for (const d of dequeues) if (heldByTransaction(d.entry)) settle(broker, d.entry, d.outcome);
  });
  return holdFor(ticket);
}

function holdFor(ticket: CommitTicket | null): SettlementHold {
  return { messageId: 0, ticket, lsn: ticket ? ticket.lastLsn : null, needsDurable: ticket !== null, replicated: true };
}

/** Rolls back: the buffered enqueues are simply dropped (nothing of them was placed); every
 * message the transaction dequeued goes back to its queue, counted as a delivery attempt (its
 * consumer saw it). */
export function rollbackTransaction(broker: BrokerState, dequeues: readonly BufferedDequeue[]): void {
  const queues = new Set<Queue>();
  for (const d of dequeues) {
    if (!heldByTransaction(d.entry)) continue;
    d.entry.queue.release(d.entry, true);
    queues.add(d.entry.queue);
  }
  for (const queue of queues) if (!queue.deleted) dispatch(broker, queue);
}
