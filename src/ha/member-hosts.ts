// Which peers may join as backups: until brokers authenticate to one another as the HA identity
// (the security issue), a replication join is taken only from an IP address that a host of
// --ha-brokers-url resolves to. Names are resolved at start and again every minute (and at once
// when an unknown address knocks, so that a backup whose DNS entry just changed gets in on its
// next attempt). The check itself is synchronous: the join path has no await.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from '../core/log.js';
import type { QpidAddress } from '../core/qpid-url.js';

const REFRESH_MS = 60_000;

/** "::ffff:10.0.0.1" (an IPv4 peer on a dual-stack socket) is 10.0.0.1. */
function normalise(ip: string): string {
  const lower = ip.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/** The IP part of "ip:port" (IPv6 addresses contain colons too: the port is after the last). */
export function hostOf(remoteAddress: string): string {
  const colon = remoteAddress.lastIndexOf(':');
  const host = colon > 0 ? remoteAddress.slice(0, colon) : remoteAddress;
  return normalise(host.replace(/^\[|\]$/g, ''));
}

export class MemberHosts {
  private ips = new Set<string>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private refreshing: Promise<void> | null = null;

  constructor(
    private readonly addresses: readonly QpidAddress[],
    private readonly logger: Logger,
  ) {
    for (const address of addresses) if (isIP(address.host)) this.ips.add(normalise(address.host));
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Whether the peer at `remoteAddress` (ip:port) is a host of the cluster. */
  has(remoteAddress: string): boolean {
    const ip = hostOf(remoteAddress);
    if (this.ips.has(ip)) return true;
    void this.refresh();
    return false;
  }

  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      const next = new Set<string>();
      for (const address of this.addresses) {
        if (isIP(address.host)) {
          next.add(normalise(address.host));
          continue;
        }
        try {
          for (const found of await lookup(address.host, { all: true })) next.add(normalise(found.address));
        } catch (err) {
          this.logger.warn({ host: address.host, err: (err as Error).message }, 'cannot resolve a host of --ha-brokers-url; its backups cannot join until it resolves');
          // Keep what it resolved to before: a DNS hiccup must not lock out a live backup.
          for (const ip of this.ips) next.add(ip);
        }
      }
      this.ips = next;
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }
}
