// The TLS listener (--ssl-port, amqps): node:tls does the handshake, then each decrypted socket
// goes to the same accept path as a plain one, so every defence (handshake gate, frame guard,
// SASL, limits) applies alike. Only the SASL layer looks at the transport: PLAIN is offered over
// TLS, EXTERNAL only with a client certificate the broker's authorities verified.

import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { Logger } from '../core/log.js';
import { serverTlsOptions, type TlsMaterial } from '../security/tls-context.js';

export interface TlsListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly material: TlsMaterial;
  /** A handshake not finished in this time is dropped (--handshake-timeout). */
  readonly handshakeTimeoutMs: number;
}

/** Listens; resolves with the server and its bound port. `admit` sees each TCP socket before
 * its TLS handshake (the handshake gate: a silent socket on the TLS port counts toward the same
 * budget and deadline as one on the plain port); `accept` gets it once the handshake is done. */
export function listenTls(options: TlsListenerOptions, admit: (raw: Socket) => boolean, accept: (socket: Socket) => void, logger: Logger): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer(serverTlsOptions(options.material, options.handshakeTimeoutMs), (socket: TLSSocket) => accept(socket));
    server.on('connection', (raw: Socket) => {
      raw.on('error', () => {});
      admit(raw);
    });
    // A failed handshake (no certificate when one is required, a bad one, plain AMQP sent to the
    // TLS port) is the client's problem: one debug line, never the broker's error.
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      logger.debug({ err: err.message, connection: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}` }, 'TLS handshake failed');
      socket.destroy();
    });
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      server.on('error', (err) => logger.error({ err }, 'TLS listener error'));
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : options.port });
    });
  });
}

/** The TCP socket under a TLS one (node's TLSSocket keeps it as `_parent`), where the handshake
 * gate tracks it; a plain socket is its own. */
export function tcpSocketOf(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket })._parent ?? socket;
}
