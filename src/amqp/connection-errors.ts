// Bad input on one connection (a malformed frame, a protocol violation, an oversized frame) closes
// that connection with an AMQP error the client can read, never the broker. rhea, on a frame it
// cannot read, reports the error without saying which connection it came from and then ends the
// socket; these helpers let the server answer first: the close frame (AMQP 1.0 §2.7.9, with
// §2.8.15's connection and decode conditions) is written synchronously, before the socket ends.

import type { Connection } from 'rhea';

export interface AmqpCondition {
  readonly condition: string;
  readonly description: string;
}

/** The AMQP 1.0 header this broker speaks; sent back when a peer's header is not one (§2.2). */
export const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x01, 0x00, 0x00]);

/** The condition for an error rhea raised while reading a connection's input. */
export function inputErrorCondition(err: unknown): AmqpCondition {
  const message = err instanceof Error ? err.message : String(err);
  const name = err instanceof Error ? err.name : '';
  // Our own checks (frame-scan.ts, value-scan.ts, the transfer guard) say which condition.
  const own = (err as { condition?: unknown } | null)?.condition;
  if (typeof own === 'string' && own.startsWith('amqp:')) return { condition: own, description: message };
  // Frame-level damage: a data offset below 2, an unknown frame type, a size over the limit.
  if (/data offset|frame type|frame size|frame of/i.test(message)) return { condition: 'amqp:connection:framing-error', description: message };
  // A frame naming a handle or channel that was never attached or begun.
  if (/handle/i.test(message)) return { condition: 'amqp:session:unattached-handle', description: message };
  if (/channel/i.test(message)) return { condition: 'amqp:not-allowed', description: message };
  if (name === 'ProtocolError' && /header/i.test(message)) return { condition: 'amqp:connection:framing-error', description: message };
  return { condition: 'amqp:decode-error', description: message };
}

interface RheaConnectionInternals {
  /** The AMQP framing layer; its header_received is set once the peer's AMQP header (after any
   * SASL exchange) has been read. */
  readonly amqp_transport?: { readonly header_received?: unknown };
  readonly state: { readonly initialised: boolean };
  _process(): void;
}

/** Whether the connection has got far enough for a close frame to mean anything (the AMQP
 * header was exchanged; rhea writes our open first if it has not gone out yet). */
export function canWriteClose(connection: Connection): boolean {
  return (connection as unknown as RheaConnectionInternals).amqp_transport?.header_received !== undefined;
}

/** Closes the connection with `error` and writes the close frame now (rhea would write it on a
 * later tick, after the socket has been ended). */
export function closeAtOnce(connection: Connection, error: AmqpCondition): void {
  // §2.4.1: a close follows an open. When the peer's open itself could not be read, ours has not
  // been sent: send it first (never again on a connection that has opened and closed).
  if (!(connection as unknown as RheaConnectionInternals).state.initialised) connection.open();
  connection.close(error as never);
  (connection as unknown as RheaConnectionInternals)._process();
}
