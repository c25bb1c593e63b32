// Who a broker admits, by its HA role (reference §1.12.1): HA admin connections always; a
// backup's replication link only while this broker ships its log (a primary, or a standalone
// broker with replica queues following it); clients only where it serves them. A backup drops
// clients with no close frame, so that failover clients try the next address, or with
// --ha-client-redirect yes refuses them with a redirect to the primary. Pure.
//
// One exception for speed: a backup whose cluster manager has just taken the leader key for it
// points the other backups at it before the promotion is done (the primary hint). Their
// replication connections say so (EXPECT_PROMOTION), and a backup that has lost its primary
// admits them: the endpoint holds their join until it is primary (transport.ts), instead of
// refusing it and waiting for the next attempt.

import type { Admission, ConnectionInfo } from '../amqp/server.js';
import { servesClients, type HaState } from './role.js';

export interface AdmissionView {
  readonly name: string;
  readonly state: HaState;
  /** Whether this broker ships its log (backups may join). */
  readonly shipping: boolean;
  /** The primary a backup follows (its public address if it has one), when known. */
  readonly primaryAddress: string | null;
  readonly clientRedirect: boolean;
  /** A cluster backup that follows no primary (ready or joining): it may be promoted next. */
  readonly awaitingPromotion: boolean;
}

/** The connection property of a replication connection made to a hinted address. */
export const EXPECT_PROMOTION = 'qpid.ha-expect-promotion';

export function admitConnection(info: ConnectionInfo, view: AdmissionView): Admission {
  const props = info.properties;
  if (props['qpid.ha-admin'] === true || props['qpid.ha-admin'] === 'true') return { kind: 'accept', role: 'admin' };
  if (props['qpid.ha-replication'] === true) {
    if (view.shipping) return { kind: 'accept', role: 'replication' };
    if (props[EXPECT_PROMOTION] === true && view.awaitingPromotion) return { kind: 'accept', role: 'replication' };
    return { kind: 'refuse', error: { condition: 'amqp:connection:forced', description: `${view.name} is not primary (state ${view.state})` } };
  }
  if (servesClients(view.state)) return { kind: 'accept', role: 'client' };
  const target = view.primaryAddress;
  if (target && view.clientRedirect) {
    const [host, port] = splitHostPort(target);
    return {
      kind: 'refuse',
      error: {
        condition: 'amqp:connection:redirect',
        description: `${view.name} is a backup; the primary is ${target}`,
        info: { hostname: host, 'network-host': host, port },
      },
    };
  }
  return { kind: 'drop', reason: `${view.name} is a backup (state ${view.state}); clients are not admitted` };
}

function splitHostPort(address: string): [string, number] {
  const match = /^(.*):(\d+)$/.exec(address);
  if (!match) return [address, 5672];
  return [(match[1] as string).replace(/^\[|\]$/g, ''), Number(match[2])];
}
