// The idle-time-out the broker announces in its open, per kind of connection (AMQP 1.0 §2.4.5).

import type { Connection } from 'rhea';
import type { ConnectionRole } from './server.js';

/** The idle-time-out of our open (AMQP 1.0 §2.4.5), written on the next tick: replication
 * links get the cluster heartbeat (a hung backup must leave the ack gate); a client or tool
 * gets one only if it announced its own, at twice that, as qpidd does. Imposing the cluster's
 * heartbeat on clients made Proton Python crash at failover (its expiry handler does not check
 * for a closed transport) and had busy clients closed for "max idle time exceeded". */
export function announceIdleTimeout(connection: Connection, role: ConnectionRole): void {
  const internals = connection as unknown as { local: { open: { idle_time_out?: number } }; remote: { open?: { idle_time_out?: number } } };
  if (role === 'replication') return;
  const theirs = internals.remote.open?.idle_time_out ?? 0;
  // rhea's open is a composite with accessors: assigning undefined leaves the field out.
  internals.local.open.idle_time_out = theirs > 0 ? Math.min(2 ** 32 - 1, theirs * 2) : undefined;
}
