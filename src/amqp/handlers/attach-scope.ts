// What both attaches (attach-sender.ts, attach-receiver.ts) resolve an address against: the
// broker, the connection that owns what the link creates, the node policies and the ACL.

import type { AttachScope } from '../attach.js';
import { NO_NODE_POLICIES } from '../address.js';
import type { ServerState } from '../server-state.js';
import type { ConnectionState, MessagingService } from '../types.js';

export function scopeOf(server: ServerState, service: MessagingService, state: ConnectionState): AttachScope {
  const user = state.info.user;
  return { broker: service.broker, owner: state.info.id, containerId: state.info.containerId, policies: server.options.nodePolicies ?? NO_NODE_POLICIES, authorize: (check) => server.options.access.authorize({ ...check, user }) };
}
