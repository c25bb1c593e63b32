// Temporary queues made for dynamic targets (AMQP 1.0 §3.5.4 dynamic nodes) live as long as
// their link: detach (detach.ts) and the connection's end (close.ts) delete them.

import type { ServerState } from '../server-state.js';

export function deleteTemporaryQueue(server: ServerState, name: string): void {
  const broker = server.service?.broker;
  if (!broker?.queue(name)) return;
  try {
    broker.deleteQueue(name);
  } catch (err) {
    server.logger.warn({ err, queue: name }, 'could not delete a temporary queue');
  }
}
