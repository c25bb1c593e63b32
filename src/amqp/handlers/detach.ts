// detach (AMQP 1.0 §2.7.7, §2.6.5): a peer closed a link. Its producer or consumer ends (what a
// consumer held goes back to its queue), its special node hears, its temporary queue goes, and
// the broker answers with its own detach.

import type { Connection, Receiver, Sender } from 'rhea';
import type { ServerState } from '../server-state.js';
import { coordinatorClosed } from './coordinator.js';
import { deleteTemporaryQueue } from './temporary-queues.js';

export function onLinkClosed(server: ServerState, connection: Connection, link: Sender | Receiver): void {
  const state = server.stateOf(connection);
  if (!state) return;
  const producer = state.producers.get(link as Receiver);
  if (producer) {
    producer.close();
    state.producers.delete(link as Receiver);
  }
  const consumer = state.consumers.get(link as Sender);
  if (consumer) {
    consumer.close();
    state.consumers.delete(link as Sender);
  }
  coordinatorClosed(state, link as Receiver);
  const special = state.special.get(link);
  if (special) {
    special.linkClosed?.(link);
    state.special.delete(link);
  }
  const temporary = state.temporaryQueues.get(link as Receiver);
  if (temporary !== undefined) {
    state.temporaryQueues.delete(link as Receiver);
    deleteTemporaryQueue(server, temporary);
  }
  if (link.is_open()) link.close();
}
