// open (AMQP 1.0 §2.7.1, §2.4.1): a peer opened its connection. Admit it as a client, admin or
// replication connection, or refuse it with a close frame (§2.4.3: open, then close with the
// error), or drop its socket with no frame at all (an HA backup's answer to a client).

import type { Socket } from 'node:net';
import type { Connection } from 'rhea';
import { announceIdleTimeout } from '../idle-timeout.js';
import { tcpSocketOf } from '../tls-listener.js';
import { closeWithError, dropConnection, type ServerState } from '../server-state.js';
import type { ConnectionInfo } from '../types.js';

export function onConnectionOpen(server: ServerState, connection: Connection): void {
  const remote = connection as unknown as { properties?: Record<string, unknown>; container_id?: string; options: { id: string }; socket?: Socket };
  const info: ConnectionInfo = {
    id: remote.options.id,
    containerId: remote.container_id ?? '',
    properties: remote.properties ?? {},
    remoteAddress: `${remote.socket?.remoteAddress ?? '?'}:${remote.socket?.remotePort ?? '?'}`,
    user: server.identities.get(connection) ?? `anonymous@${server.options.sasl.policy.realm}`,
  };
  server.handshakes.opened(remote.socket && tcpSocketOf(remote.socket));
  if (server.stopping) {
    dropConnection(server, connection);
    return;
  }
  if (server.connections.size >= server.options.maxConnections) {
    server.logger.warn({ connection: info.remoteAddress, max: server.options.maxConnections }, 'connection refused: --max-connections reached');
    closeWithError(server, connection, { condition: 'amqp:resource-limit-exceeded', description: `too many connections (--max-connections ${server.options.maxConnections})` });
    return;
  }
  if (server.options.requireEncryption && !(remote.socket as { encrypted?: boolean } | undefined)?.encrypted) {
    server.logger.info({ connection: info.remoteAddress, user: info.user }, 'connection refused: encryption required');
    closeWithError(server, connection, { condition: 'amqp:unauthorized-access', description: 'this broker requires encryption (--require-encryption): connect with TLS (amqps) to its --ssl-port' });
    return;
  }
  const admission = server.admission(info);
  if (admission.kind === 'drop') {
    // Clients retry within milliseconds until a primary appears: not worth a line each.
    server.logger.debug({ connection: info.remoteAddress, container: info.containerId, reason: admission.reason }, 'connection dropped');
    dropConnection(server, connection);
    return;
  }
  if (admission.kind === 'refuse') {
    // Backups looking for the primary knock every --link-maintenance-interval: not news.
    const routine = info.properties['qpid.ha-replication'] === true;
    server.logger[routine ? 'debug' : 'info']({ connection: info.remoteAddress, condition: admission.error.condition }, 'connection refused');
    closeWithError(server, connection, admission.error);
    return;
  }
  const refusal = server.gate.admit(info.user, remote.socket?.remoteAddress ?? '?');
  if (refusal) {
    server.logger.info({ connection: info.remoteAddress, user: info.user, condition: refusal.condition, description: refusal.description }, 'connection refused');
    closeWithError(server, connection, refusal);
    return;
  }
  announceIdleTimeout(connection, admission.role);
  server.connections.set(connection, { info, role: admission.role, producers: new Map(), consumers: new Map(), special: new Map(), temporaryQueues: new Map(), coordinators: new Map(), transactions: null, closed: false });
  server.logger.debug({ connection: info.remoteAddress, container: info.containerId, role: admission.role }, 'connection opened');
}
