// The console's view of the whole cluster, from any one broker: each broker of
// --ha-brokers-url asked for its status over its management node (the HA identity's
// connection, as the HA probe does), every POLL_MS while someone watches (an open event stream
// or a recent request), and said at once when anything shown changes (a new primary shows
// within a poll). A broker that does not answer is shown unreachable.

import { managerSummary, type StatusWithManager } from './manager-report.js';
import type { QpidAddress } from '../core/qpid-url.js';
import { formatAddress, parseQpidUrl } from '../core/qpid-url.js';
import type { HaNode, HaStatus } from '../ha/node.js';

const POLL_MS = 500;
/** A broker that has not answered in this long is shown unreachable (a stopped process never
 * refuses the connection: without a bound, one would hold up the whole view). */
const ANSWER_MS = 1000;
/** Polling stops this long after the last watcher left. */
const IDLE_MS = 10_000;

export interface ClusterMember {
  readonly address: string;
  readonly name: string | null;
  readonly state: string;
  readonly role: string | null;
  readonly epoch: number | null;
  readonly lastLsn: number | null;
  /** Records behind the primary's last LSN (null when unknown, or for the primary). */
  readonly lagRecords: number | null;
  readonly self: boolean;
  /** What the broker's cluster manager last reported (its leader and last decision), or null
   * when no manager reports to it. */
  readonly manager: ReturnType<typeof managerSummary>;
}

export type PeerStatus = (address: QpidAddress) => Promise<HaStatus | null>;

export class ClusterWatch {
  private members: ClusterMember[] = [];
  private timer: NodeJS.Timeout | null = null;
  private lastWantedMs = 0;
  private readonly listeners = new Set<(members: readonly ClusterMember[]) => void>();
  private polling = false;
  /** The name each address last answered with: an unreachable broker is still named. */
  private readonly names = new Map<string, string>();

  constructor(
    private readonly ha: HaNode,
    private readonly peerStatus: PeerStatus,
  ) {}

  /** The cluster as last seen (polls at once when nobody was watching). */
  async current(): Promise<readonly ClusterMember[]> {
    this.lastWantedMs = Date.now();
    if (!this.timer) {
      await this.poll();
      this.schedule();
    }
    return this.members;
  }

  /** Calls `listener` with every change until the returned function is called. */
  watch(listener: (members: readonly ClusterMember[]) => void): () => void {
    this.listeners.add(listener);
    void this.current().then((m) => listener(m));
    return () => {
      this.listeners.delete(listener);
      this.lastWantedMs = Date.now();
    };
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.listeners.size === 0 && Date.now() - this.lastWantedMs > IDLE_MS) return;
      void this.poll().finally(() => this.schedule());
    }, POLL_MS);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const own = this.ha.status();
      const addresses = own.brokersUrl ? parseQpidUrl(own.brokersUrl).addresses : [];
      const statuses = await Promise.all(addresses.map((a) => withinAnswerTime(this.peerStatus(a))));
      const rows = addresses.map((a, i): { address: string; status: HaStatus | null } => ({ address: formatAddress(a), status: statuses[i] ?? null }));
      if (rows.length === 0) rows.push({ address: own.address ?? 'this broker', status: own });
      const primaryLsn = rows.find((r) => r.status?.role === 'primary')?.status?.lastLsn ?? null;
      for (const { address, status } of rows) if (status) this.names.set(address, status.name);
      const members = rows.map(({ address, status }): ClusterMember => ({
        address,
        name: status?.name ?? this.names.get(address) ?? null,
        state: status?.state ?? 'unreachable',
        role: status?.role ?? null,
        epoch: status?.epoch ?? null,
        lastLsn: status?.lastLsn ?? null,
        lagRecords: status && status.role === 'backup' && primaryLsn !== null ? Math.max(0, primaryLsn - status.lastLsn) : null,
        self: status?.name === own.name,
        manager: managerSummary((status as StatusWithManager | null)?.manager),
      }));
      const changed = JSON.stringify(members) !== JSON.stringify(this.members);
      this.members = members;
      if (changed) for (const listener of this.listeners) listener(members);
    } finally {
      this.polling = false;
    }
  }
}

function withinAnswerTime(status: Promise<HaStatus | null>): Promise<HaStatus | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ANSWER_MS);
  });
  return Promise.race([status.catch(() => null), late]).finally(() => clearTimeout(timer));
}
