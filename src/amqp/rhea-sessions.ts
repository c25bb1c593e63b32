// Every session rhea creates on an accepted connection gets the broker's corrections before it
// reads a frame: dispositions batched correctly, peer-chosen ranges bounded, attaches before
// transfers, one link name both ways, transfers judged against window, credit and size limits
// (AMQP 1.0 §2.5.6, §2.6.7), and incoming messages kept as the producer's encoded bytes.

import type { Socket } from 'node:net';
import type { Connection } from 'rhea';
import { fixIncomingDispositions } from './rhea-dispositions.js';
import { boundPeerRanges } from './rhea-peer-numbers.js';
import { watchIntake, type ConnectionIntake } from './rhea-intake.js';
import { allowSameNameBothWays } from './rhea-link-names.js';
import { attachBeforeTransfers } from './rhea-session-order.js';

/** rhea decodes every format-0 transfer; our sessions relabel incoming transfers with this
 * private format so that rhea hands us the encoded bytes, which we store and forward as-is. */
export const RAW_FORMAT = 0x7fff_fff0;

interface RheaSession {
  incoming?: object;
  outgoing?: object;
  on_transfer(frame: { performative: { message_format?: number } }): void;
}

/** Wraps rhea's create_session so that each new session is patched as it is made. */
export function patchSessions(connection: Connection, intake: ConnectionIntake): void {
  const internals = connection as unknown as { create_session(size: number): unknown };
  const original = internals.create_session.bind(connection);
  internals.create_session = (size: number) => {
    const session = original(size) as RheaSession;
    fixIncomingDispositions(session);
    boundPeerRanges(session);
    attachBeforeTransfers(session);
    allowSameNameBothWays(session);
    const onTransfer = session.on_transfer.bind(session);
    session.on_transfer = (frame) => {
      if (frame.performative.message_format === 0) frame.performative.message_format = RAW_FORMAT;
      onTransfer(frame);
    };
    // Outermost: a transfer is judged before rhea or the relabelling sees it.
    watchIntake(session, intake);
    return session;
  };
}

/** rhea writes each burst of frames as its own socket write; under load that is a system call
 * per disposition or transfer. Corking the socket for the rest of the event-loop turn sends
 * everything written in the turn in one writev. */
export function coalesceWrites(socket: Socket): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  (socket as unknown as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]) => {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      setImmediate(() => {
        corked = false;
        if (!socket.destroyed) socket.uncork();
      });
    }
    return write(...args);
  };
}
