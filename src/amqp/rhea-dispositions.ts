// Corrects how rhea 3.0.5 batches the dispositions a receiving session writes (our producers'
// outcomes). Its write_dispositions (lib/session.js) lets a one-delivery range absorb the next
// consecutive delivery without comparing outcomes, so [accepted, rejected] goes out as one
// disposition "first..last: accepted": a producer whose message was refused (queue full,
// unroutable, too large) was told it was accepted. Measured through qpidd: three sends to a
// direct exchange, the second unroutable, came back accepted/accepted/accepted.
// The replacement writes one disposition per run of consecutive deliveries with the same
// settled flag and equivalent outcomes (rhea's own equivalence: only `accepted` batches).

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const frames = require('rhea/lib/frames.js') as { disposition(fields: Record<string, unknown>): unknown };
const rheaMessage = require('rhea/lib/message.js') as { are_outcomes_equivalent(a: unknown, b: unknown): boolean };

interface IncomingDelivery {
  readonly id: number;
  readonly state: unknown;
  readonly settled: boolean;
  readonly remote_settled?: boolean;
  readonly link: { readonly session: { output(frame: unknown): void }; is_receiver(): boolean };
}

interface IncomingState {
  updated: IncomingDelivery[];
  readonly deliveries: { pop_if(predicate: (d: IncomingDelivery) => boolean): void };
  readonly max_transfer_id: number;
  readonly next_transfer_id: number;
  readonly window: number;
}

const PATCHED = Symbol.for('qpidd.rhea-dispositions-fixed');

function writeDispositions(deliveries: readonly IncomingDelivery[]): void {
  let first: IncomingDelivery | undefined;
  let last: IncomingDelivery | undefined;
  const emit = (): void => {
    if (!first || !last) return;
    first.link.session.output(frames.disposition({ role: first.link.is_receiver(), first: first.id, last: last.id, state: first.state, settled: first.settled }));
  };
  for (const delivery of deliveries) {
    if (first && last && delivery.id === last.id) continue; // updated twice in one turn
    if (first && last && delivery.id === last.id + 1 && delivery.settled === first.settled && rheaMessage.are_outcomes_equivalent(first.state, delivery.state)) {
      last = delivery;
      continue;
    }
    emit();
    first = delivery;
    last = delivery;
  }
  emit();
}

/** Replaces rhea's Incoming.prototype.process (reached through a session, since rhea does not
 * export the class) with a copy that batches dispositions correctly. Idempotent. */
export function fixIncomingDispositions(session: { incoming?: object }): void {
  const prototype = session.incoming ? (Object.getPrototypeOf(session.incoming) as Record<string | symbol, unknown>) : undefined;
  if (!prototype || prototype[PATCHED]) return;
  prototype[PATCHED] = true;
  prototype['process'] = function process(this: IncomingState, owner: { _write_flow(): void }): void {
    if (this.updated.length > 0) {
      writeDispositions(this.updated);
      this.updated = [];
    }
    this.deliveries.pop_if((d) => d.settled);
    if (this.max_transfer_id - this.next_transfer_id < this.window / 2) owner._write_flow();
  };
}
