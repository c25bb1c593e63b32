// Who may hold a connection, decided once its open has arrived and SASL has said who it is:
// the ACL's `access connection` (with the peer's host), and the per-identity connection limit
// (--max-connections-per-user, or the ACL's `quota connections` for that identity). The count is
// of admitted connections only; a refused one never counts.

import { BrokerError } from '../core/errors.js';
import type { AccessControl } from '../security/access-control.js';

export interface GateRefusal {
  readonly condition: string;
  readonly description: string;
}

export class ConnectionGate {
  private readonly perUser = new Map<string, number>();

  constructor(
    private readonly access: AccessControl,
    private readonly maxConnectionsPerUser: number,
  ) {}

  /** null: admitted (and counted); else why not. */
  admit(user: string, host: string): GateRefusal | null {
    try {
      this.access.authorize({ user, action: 'access', object: 'connection', properties: { host } });
    } catch (err) {
      if (!(err instanceof BrokerError)) throw err;
      return { condition: 'amqp:unauthorized-access', description: err.message };
    }
    const open = this.perUser.get(user) ?? 0;
    const quota = this.access.connectionQuota(user);
    const limit = quota ?? this.maxConnectionsPerUser;
    if (limit > 0 && open >= limit) {
      const which = quota !== undefined ? `the ACL's connection quota for ${user}` : '--max-connections-per-user';
      return { condition: 'amqp:resource-limit-exceeded', description: `${user} has ${open} connections open, the most ${which} allows (${limit}) [USER_CONNECTION_LIMIT]` };
    }
    this.perUser.set(user, open + 1);
    return null;
  }

  closed(user: string): void {
    const open = (this.perUser.get(user) ?? 1) - 1;
    if (open <= 0) this.perUser.delete(user);
    else this.perUser.set(user, open);
  }
}
