// Applies intake.ts to a rhea session: every incoming transfer is judged before rhea keeps it.
// rhea 3.0.5 (session.js Incoming.on_transfer) accepts transfers beyond the link's credit and the
// session's window, ignores `aborted`, and concatenates a delivery's frames for as long as the
// peer sends more=true (one delivery was buffered to 3 GB). AMQP 1.0 §2.5.6, §2.6.7, §2.7.5.

import { createRequire } from 'node:module';
import type { Logger } from '../core/log.js';
import { IDLE_LINK, judgeTransfer, sessionBegun, transferArrived, windowAnnounced, type IntakeLimits, type LinkIntake, type SessionWindow } from './intake.js';

const require = createRequire(import.meta.url);
const FLOW_CLASS = (require('rhea/lib/frames.js') as { flow(fields: object): { constructor: unknown } }).flow({}).constructor;

interface Incomplete {
  settled: boolean;
  remote_settled: boolean;
  frames?: Buffer[];
}
interface RheaReceiver {
  readonly name: string;
  credit: number;
  delivery_count: number;
  _incomplete?: Incomplete;
  is_receiver(): boolean;
  close(error: { condition: string; description: string }): void;
}
interface TransferFrame {
  readonly payload?: Buffer;
  readonly performative: { readonly handle?: number; readonly delivery_id?: unknown; more?: boolean; readonly aborted?: boolean };
}
interface RheaSession {
  readonly local: { readonly begin: unknown };
  readonly remote: { readonly handles: Record<number, RheaReceiver | undefined> };
  readonly incoming: { next_transfer_id: number };
  on_begin(frame: { readonly performative: { readonly next_outgoing_id?: unknown } }): void;
  on_transfer(frame: TransferFrame): void;
  on_detach(frame: { readonly performative: { readonly handle?: number } }): void;
  on_end(frame: unknown): void;
  output(frame: { constructor?: unknown; next_incoming_id?: number; incoming_window?: number }, payload?: Buffer): void;
  end(error: { condition: string; description: string }): void;
}

/** A transfer that ends its connection; `condition` reaches the close frame. */
class IntakeViolation extends Error {
  constructor(
    readonly condition: string,
    message: string,
  ) {
    super(message);
    this.name = 'IntakeViolation';
  }
}

/** The connection's bytes of unfinished deliveries, shared by its sessions. */
export interface ConnectionIntake {
  bufferedBytes: number;
  readonly limits: IntakeLimits;
  readonly logger: Logger;
}

export function connectionIntake(limits: IntakeLimits, logger: Logger): ConnectionIntake {
  return { bufferedBytes: 0, limits, logger };
}

/** Judges every transfer that arrives on `session` (wrap after any other on_transfer wrapper). */
export function watchIntake(session: object, connection: ConnectionIntake): void {
  const s = session as RheaSession;
  let window: SessionWindow = sessionBegun(0);
  let ended = false;
  const links = new Map<RheaReceiver, LinkIntake>();
  const release = (link: RheaReceiver): void => {
    connection.bufferedBytes -= links.get(link)?.deliveryBytes ?? 0;
    links.delete(link);
  };

  const onBegin = s.on_begin.bind(s);
  s.on_begin = (frame) => {
    window = sessionBegun(frame.performative.next_outgoing_id);
    onBegin(frame);
  };
  const output = s.output.bind(s);
  s.output = (frame, payload) => {
    if (frame === s.local.begin) window = windowAnnounced(window, undefined, Number(frame.incoming_window ?? 0));
    else if (frame.constructor === FLOW_CLASS) window = windowAnnounced(window, frame.next_incoming_id, Number(frame.incoming_window ?? 0));
    output(frame, payload);
  };

  const onTransfer = s.on_transfer.bind(s);
  s.on_transfer = (frame) => {
    if (ended) return;
    const arrived = transferArrived(window);
    window = arrived.window;
    if (!arrived.ok) {
      ended = true;
      for (const link of [...links.keys()]) release(link);
      connection.logger.warn({ code: 'WINDOW_VIOLATION' }, 'transfer beyond the session window; session ended');
      s.end({ condition: 'amqp:session:window-violation', description: 'transfer beyond the incoming window (AMQP 1.0 §2.5.6)' });
      return;
    }
    const receiver = s.remote.handles[frame.performative.handle ?? -1];
    // An unknown handle or a transfer to our sender: rhea fails the connection as it should.
    if (!receiver || !receiver.is_receiver()) return onTransfer(frame);
    const link = links.get(receiver) ?? IDLE_LINK;
    const facts = {
      continuing: receiver._incomplete !== undefined,
      deliveryId: frame.performative.delivery_id,
      credit: receiver.credit,
      payloadBytes: frame.payload?.length ?? 0,
      more: frame.performative.more === true,
      aborted: frame.performative.aborted === true,
    };
    const { verdict, link: after, bufferedDelta } = judgeTransfer(link, facts, connection.bufferedBytes, connection.limits);
    connection.bufferedBytes += bufferedDelta;
    if (after === IDLE_LINK) links.delete(receiver);
    else links.set(receiver, after);
    switch (verdict.kind) {
      case 'pass':
        onTransfer(frame);
        return;
      case 'drop':
        s.incoming.next_transfer_id++; // keep rhea's count, which our flows report, in step
        return;
      case 'abort':
        if (!facts.continuing) {
          // Let rhea number the delivery as it would, then discard it like a continued one.
          frame.performative.more = true;
          onTransfer(frame);
        } else {
          s.incoming.next_transfer_id++;
        }
        discardIncomplete(receiver);
        // The delivery used its unit of credit (the sender counted it).
        if (receiver.credit > 0) receiver.credit--;
        receiver.delivery_count++;
        return;
      case 'close':
        // Thrown through rhea's read loop, which stops there; the server closes the connection.
        throw new IntakeViolation(verdict.condition, verdict.description);
      case 'detach':
        s.incoming.next_transfer_id++;
        discardIncomplete(receiver);
        connection.logger.warn({ code: verdict.code, link: receiver.name, deliveryBytes: link.deliveryBytes + facts.payloadBytes }, 'transfer refused; link detached');
        receiver.close({ condition: verdict.condition, description: verdict.description });
        return;
    }
  };

  const onDetach = s.on_detach.bind(s);
  s.on_detach = (frame) => {
    const receiver = s.remote.handles[frame.performative.handle ?? -1];
    if (receiver) release(receiver);
    onDetach(frame);
  };
  const onEnd = s.on_end.bind(s);
  s.on_end = (frame) => {
    for (const link of [...links.keys()]) release(link);
    onEnd(frame);
  };
}

/** The delivery rhea was assembling on `receiver` is dropped, settled, with its frames. */
function discardIncomplete(receiver: RheaReceiver): void {
  const incomplete = receiver._incomplete;
  if (!incomplete) return;
  incomplete.settled = true;
  incomplete.remote_settled = true;
  // rhea pops settled deliveries only from the head of the session's buffer: drop the bytes now.
  incomplete.frames = [];
  receiver._incomplete = undefined;
}
