// The manager's one management connection to its broker (an admin connection: backups accept
// it). Its drop is how the manager learns at once that the broker died: the next connect is then
// refused (nothing listens on the port), and the broker is reported dead. A broker that accepts
// the TCP connection but does not answer (stopped, hung) is only unreachable.

import type { QpidAddress } from '../core/qpid-url.js';
import type { HaStatus } from '../ha/node.js';
import { ManagementClient, ManagementError } from '../management/client.js';
import type { BrokerReport } from './step.js';

export interface BrokerLinkOptions {
  readonly address: QpidAddress;
  readonly username?: string;
  readonly password?: string;
  readonly timeoutMs: number;
}

/** A status as the step function sees it. */
export function reportOf(status: HaStatus): BrokerReport {
  const history = status.epochHistory ?? [];
  const storeEpoch = history[history.length - 1]?.epoch ?? status.epoch;
  const ready = status.members.filter((m) => m.state === 'ready');
  // What was durable here and confirmed by every gated backup: the bound of what was settled (a
  // producer is settled only then). The last LSN alone overstated it: a primary without backups
  // whose last commits were not yet durable when it died left a record no store could reach,
  // and no broker was ever promoted again (found by the simulator, etcd seed 1541). A primary
  // short of --ha-min-backups settles nothing replicated, so it claims nothing new (0).
  const durable = Math.min(status.lastLsn, status.gate?.durableLsn ?? status.lastLsn);
  const confirmedLsn = status.gate?.short ? 0 : ready.length > 0 ? Math.min(durable, ...ready.map((m) => m.confirmedLsn)) : durable;
  return {
    state: status.state,
    storeEpoch,
    lastLsn: status.lastLsn,
    heard: status.heard ?? null,
    clusterSize: status.brokersUrl ? status.brokersUrl.split(',').length : 0,
    address: status.address,
    confirmedLsn,
    connectedToPrimary: status.connectedToPrimary,
    snapshotIncomplete: status.snapshotIncomplete,
    backupsConfirmed: Object.fromEntries(ready.map((m) => [m.name, m.confirmedLsn])),
    name: status.name,
    ...(status.gate?.generation !== undefined ? { gateGeneration: status.gate.generation, gateUnrecorded: status.gate.unrecorded?.length ?? 0 } : {}),
  };
}

export function unavailableReport(state: 'dead' | 'unreachable', previous: BrokerReport | null): BrokerReport {
  return {
    state,
    storeEpoch: previous?.storeEpoch ?? 0,
    lastLsn: previous?.lastLsn ?? 0,
    heard: previous?.heard ?? null,
    clusterSize: previous?.clusterSize ?? 0,
    address: previous?.address ?? null,
    confirmedLsn: 0,
    connectedToPrimary: false,
  };
}

export class BrokerLink {
  private client: ManagementClient | null = null;
  private connecting: Promise<ManagementClient> | null = null;

  constructor(
    private readonly options: BrokerLinkOptions,
    /** The connection dropped: the driver reports at once. */
    private readonly dropped: () => void,
  ) {}

  private async connection(): Promise<ManagementClient> {
    if (this.client) return this.client;
    this.connecting ??= ManagementClient.connect(this.options.address, {
      admin: true,
      timeoutMs: this.options.timeoutMs,
      ...(this.options.username !== undefined ? { username: this.options.username } : {}),
      ...(this.options.password !== undefined ? { password: this.options.password } : {}),
    }).then(
      (client) => {
        this.connecting = null;
        this.client = client;
        client.onDisconnect(() => {
          if (this.client === client) this.client = null;
          this.dropped();
        });
        return client;
      },
      (err: unknown) => {
        this.connecting = null;
        throw err;
      },
    );
    return this.connecting;
  }

  /** The broker's status, or why there is none: 'dead' when its port refuses connections. */
  async status(): Promise<{ status: HaStatus } | { unavailable: 'dead' | 'unreachable'; error: string }> {
    try {
      try {
        const client = await this.connection();
        return { status: await client.request<HaStatus>('status', {}, this.options.timeoutMs) };
      } catch (err) {
        // The connection dropped under the request: ask again on a new one at once, which says
        // whether the broker is gone (refused) without waiting for the next check.
        if (!(err instanceof ManagementError && err.code === 'CONNECTION' && this.client === null)) throw err;
        const client = await this.connection();
        return { status: await client.request<HaStatus>('status', {}, this.options.timeoutMs) };
      }
    } catch (err) {
      const text = (err as Error).message;
      const refused = err instanceof ManagementError && err.code === 'CONNECTION' && /ECONNREFUSED/.test(text);
      return { unavailable: refused ? 'dead' : 'unreachable', error: text };
    }
  }

  async request<T>(operation: string, args: Record<string, unknown>, timeoutMs = this.options.timeoutMs): Promise<T> {
    const client = await this.connection();
    return client.request<T>(operation, args, timeoutMs);
  }

  close(): void {
    this.client?.close();
    this.client = null;
  }
}

/** A reading of the broker's lease clock: its value in a status, and when (this clock) the status
 * came. */
export interface LeaseClockReading {
  readonly brokerMs: number;
  readonly receivedAtMs: number;
}

/** The lease request for a grant of `seconds` from now: counted from the status the reading came
 * in (`since`), lengthened by the time since it came. The status was made before it came, so
 * the broker's deadline is at most now + seconds on this clock, however late the grant arrives
 * (lease-keeper.ts grant), and short of it by no more than the status's own delay. */
export function leaseGrant(action: { readonly id: string; readonly seconds: number }, reading: LeaseClockReading | null, nowMs: number): { id: string; seconds: number; since?: number } {
  if (reading === null) return { id: action.id, seconds: action.seconds };
  return { id: action.id, seconds: action.seconds + Math.max(0, nowMs - reading.receivedAtMs) / 1000, since: reading.brokerMs };
}
