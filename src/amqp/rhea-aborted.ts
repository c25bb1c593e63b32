// Aborted transfers (AMQP 1.0 §2.6.14): "aborted messages SHOULD be discarded by the recipient
// ... an aborted message is implicitly settled". rhea 3.0.5 ignores the flag and hands the
// partial payload on as a complete message, which the broker then stored or rejected. This
// discards it instead, with no disposition, while keeping the session's and the link's
// counters where the sender has them: the transfer was sent (next-incoming-id), and the
// delivery counts against link credit (§2.6.7, the sender advanced its delivery-count).

interface IncompleteDelivery {
  settled: boolean;
  remote_settled: boolean;
  frames?: Buffer[];
}

interface RheaReceiver {
  credit: number;
  delivery_count: number;
  _incomplete?: IncompleteDelivery;
}

interface RheaSessionInternals {
  readonly incoming: { next_transfer_id: number; next_delivery_id?: number };
  _get_link(frame: unknown): RheaReceiver | undefined;
}

export interface TransferFrame {
  readonly performative: { readonly aborted?: boolean; readonly delivery_id?: number; message_format?: number };
}

export function isAborted(frame: TransferFrame): boolean {
  return frame.performative.aborted === true;
}

/** Forgets an aborted delivery; returns the receiver it was on (its credit changed). */
export function discardAborted(session: object, frame: TransferFrame): RheaReceiver | undefined {
  const s = session as RheaSessionInternals;
  const receiver = s._get_link(frame);
  s.incoming.next_transfer_id++;
  if (!receiver) return undefined;
  const current = receiver._incomplete;
  if (current) {
    // Its earlier frames made it a delivery in the session's buffer: settled, it is dropped at
    // the next pass, and its buffered payload goes now.
    current.settled = true;
    current.remote_settled = true;
    delete current.frames;
    receiver._incomplete = undefined;
  } else if (frame.performative.delivery_id !== undefined && frame.performative.delivery_id === s.incoming.next_delivery_id) {
    s.incoming.next_delivery_id++;
  } else if (s.incoming.next_delivery_id === undefined && frame.performative.delivery_id !== undefined) {
    s.incoming.next_delivery_id = frame.performative.delivery_id + 1;
  }
  if (receiver.credit > 0) receiver.credit--;
  receiver.delivery_count++;
  return receiver;
}
