// close (AMQP 1.0 §2.7.9, §2.4.3), and the loss of the transport without one: every link of the
// connection ends as its detach would, its temporary queues go, the special nodes hear, and the
// broker releases what the connection owned (exclusive queues).

import type { Connection } from 'rhea';
import type { ServerState } from '../server-state.js';
import { deleteTemporaryQueue } from './temporary-queues.js';

export function onConnectionGone(server: ServerState, connection: Connection): void {
  const state = server.connections.get(connection);
  if (!state || state.closed) return;
  state.closed = true;
  server.connections.delete(connection);
  server.gate.closed(state.info.user);
  for (const producer of state.producers.values()) producer.close();
  for (const consumer of state.consumers.values()) consumer.close();
  // Undischarged transactions roll back (AMQP 1.0 §4.3), after the consumers have let go of
  // what they held, so that the transaction's dequeues go back in their order.
  for (const coordinator of state.coordinators.values()) coordinator.close();
  state.transactions?.connectionClosed();
  for (const [link, node] of state.special) node.linkClosed?.(link);
  for (const queue of state.temporaryQueues.values()) deleteTemporaryQueue(server, queue);
  for (const node of new Set(state.special.values())) node.connectionClosed?.(state.info);
  server.service?.broker.connectionClosed(state.info.id);
  server.logger.debug({ connection: state.info.remoteAddress }, 'connection closed');
}
