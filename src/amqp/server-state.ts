// What the listener (listener.ts) and the performative handlers (handlers/) share: the open
// connections and their links, the special nodes, the service being served, and the two ways a
// connection is ended (a close frame with an error, or a dropped socket with none).

import type { Socket } from 'node:net';
import type { Connection } from 'rhea';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { ConnectionGate } from './connection-gate.js';
import type { HandshakeGate } from './handshakes.js';
import type { Admission, AmqpServerOptions, ConnectionInfo, ConnectionState, MessagingService, SpecialNode } from './types.js';
import type { ScanLimits } from './value-scan.js';

export class ServerState {
  service: MessagingService | null = null;
  readonly connections = new Map<Connection, ConnectionState>();
  readonly nodes = new Map<string, SpecialNode>();
  admission: (info: ConnectionInfo) => Admission = () => ({ kind: 'accept', role: 'client' });
  /** Connections whose TCP socket we dropped at their open: rhea still reads the frames that
   * came in the same read (begin, attach), and those must go unanswered. */
  readonly dropped = new WeakSet<Connection>();
  readonly identities = new WeakMap<Connection, string>();
  stopping = false;
  readonly decodeLimits: ScanLimits;

  constructor(
    readonly clock: Clock,
    readonly logger: Logger,
    readonly options: AmqpServerOptions,
    readonly handshakes: HandshakeGate,
    readonly gate: ConnectionGate,
  ) {
    this.decodeLimits = { maxDepth: options.maxDecodeDepth };
  }

  stateOf(connection: Connection): ConnectionState | undefined {
    return this.connections.get(connection);
  }
}

export function closeWithError(server: ServerState, connection: Connection, error: { condition: string; description: string; info?: Record<string, unknown> }): void {
  try {
    connection.close(error as never);
    (connection as unknown as { output(): void }).output?.();
  } catch (err) {
    server.logger.debug({ err }, 'close after error failed');
  }
}

/** Ends the TCP connection with no AMQP close frame: the client sees its transport fail and
 * reconnects or fails over, which Proton and rhea all do; an amqp:connection:forced close is
 * final for them (Proton Python does not even answer it and hangs: FACTS.md). */
export function dropConnection(server: ServerState, connection: Connection): void {
  server.dropped.add(connection);
  (connection as unknown as { socket?: Socket }).socket?.destroy();
}
