// The backup's side of replication (DESIGN.md §3-4): find the primary by trying each address of
// --ha-brokers-url every --link-maintenance-interval, join, wipe the store, apply the snapshot
// and then the log with the primary's LSNs, and confirm the highest LSN that is durable. Store
// operations run strictly one after another on one chain, across connections, so a new
// primary's wipe never overtakes the previous one's last apply.
//
// Fencing: a primary whose epoch is below the highest this backup has seen is refused, and
// every frame must carry the epoch its primary announced.

import { historyConflict, type Store } from '../../store/index.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { crashPoint } from '../core/crash-points.js';
import type { Logger } from '../core/log.js';
import { formatAddress, type QpidAddress } from '../core/qpid-url.js';
import type { Heard } from './heard.js';
import { RESYNC_REASON_CHARS_MAX, type BackupFrame, type CatalogNode, type MemberInfo, type PrimaryFrame } from './messages.js';


/** How soon a backup refused for its identity (SASL, ACL) tries again. */
const IDENTITY_RETRY_MS = 5000;
/** After losing its primary, a backup looks for the new one this often (instead of every
 * maintenance interval) for SEEK_WINDOW_MS: a cluster manager promotes another broker within
 * a few hundred ms, and that primary stays recovering (its producers waiting) until this backup
 * has rejoined. */
const SEEK_INTERVAL_MS = 20;
const SEEK_WINDOW_MS = 5000;
/** A manager's primary hint comes when its leader key is taken, just before the promotion:
 * the hinted broker is tried this often, and no other, for HINT_WINDOW_MS (a promotion takes
 * tens of ms; a failed one is followed by a new election and a new hint). */
const HINT_RETRY_MS = 5;
const HINT_WINDOW_MS = 2000;
export type ChannelClosed =
  | { readonly kind: 'redirect'; readonly address: string }
  | { readonly kind: 'refused'; readonly description: string }
  | { readonly kind: 'lost'; readonly description: string };

export interface ChannelEvents {
  /** The peer admitted the replication connection. */
  opened(): void;
  frame(frame: PrimaryFrame): void;
  closed(reason: ChannelClosed): void;
}

export interface ReplicationChannel {
  send(frame: BackupFrame): void;
  /** The frame most recently delivered has been handled: the peer may send another. */
  processed(): void;
  close(): void;
}

/** How a backup reaches a primary (rhea in production, the simulated network in test/sim). */
export interface ConnectOptions {
  /** The address is the one a cluster manager hinted: its broker is being promoted, and holds
   * the join until it is primary instead of refusing it (transport.ts, parking). */
  readonly expectPromotion?: boolean;
}

export interface ReplicationConnector {
  connect(address: QpidAddress, events: ChannelEvents, options?: ConnectOptions): ReplicationChannel;
}

export interface PrimaryInfo {
  readonly name: string;
  readonly epoch: number;
  readonly address: string;
  readonly publicAddress: string | null;
}

export type BackupState = 'joining' | 'catchup' | 'ready';

export interface BackupReplicatorDeps {
  readonly store: Store;
  readonly connector: ReplicationConnector;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly name: string;
  /** This broker's own address as it appears in ha-brokers-url (skipped), if known. */
  readonly selfAddress: string | null;
  readonly addresses: readonly QpidAddress[];
  readonly maintenanceIntervalMs: number;
  /** --link-heartbeat-interval: the primary drops a backup silent for twice this. */
  readonly heartbeatMs: number;
  /** --ha-confirm-timeout: the primary drops a backup that leaves an LSN unconfirmed this long
   * (0: it does not). A freeze longer than this or the heartbeat may have cost our place. */
  readonly confirmTimeoutMs?: number;
  readonly initialState: BackupState;
  /** Why this store must be resynced in full from the start (it failed its verify at start):
   * the first join asks for a snapshot, as resync() does. */
  readonly initialResync?: string | null;
  readonly onState: (state: BackupState) => void;
  readonly onPrimary: (primary: PrimaryInfo | null) => void;
  readonly onMembers: (members: readonly MemberInfo[]) => void;
  /** Highest epoch seen anywhere (fencing); the store's epoch is the floor. */
  readonly epochSeen: () => number;
  readonly noteEpoch: (epoch: number) => void;
  /** A frame named the primary's position (heard-tracker.ts); `urgent` at the start of a
   * catch-up, when the hello names how far the primary is. */
  readonly onHeard?: (heard: Heard, urgent: boolean) => void;
  /** A store failure while applying: the broker cannot continue as a backup. */
  readonly onFatal: (err: unknown) => void;
}

export class BackupReplicator {
  private state: BackupState;
  private channel: ReplicationChannel | null = null;
  private connectedTo: string | null = null;
  private primary: PrimaryInfo | null = null;
  private nextAddressIndex = 0;
  private preferred: string | null = null;
  /** Where the cluster manager says the primary is (or is being promoted), until when. */
  private hinted: { readonly address: QpidAddress; readonly untilMs: number } | null = null;
  /** Until when (monotonic ms) a lost primary is looked for every SEEK_INTERVAL_MS. */
  private seekUntilMs = -Infinity;
  private readonly selfAddresses = new Set<string>();
  private timer: TimerHandle | null = null;
  private stopped = false;
  /** Every store operation, in order. */
  private chain: Promise<void> = Promise.resolve();
  /** The durability of the last log frame applied: a join waits for it (see attempt()). */
  private lastAppendDurable: Promise<unknown> = Promise.resolve();
  /** Identifies the current connection, so stale callbacks of an old one do nothing. */
  private generation = 0;
  private confirmed = 0;
  /** Watchdog: the longest this process went without running (timer lateness) since the last
   * frame from the primary. A backup that was frozen (SIGSTOP, a long GC, a VM pause) for more
   * than a heartbeat may have been dropped from the primary's ack gate without knowing it, so it
   * must not stay `ready` when it then finds the primary gone. */
  private watchdog: TimerHandle | null = null;
  private lastTickMs = 0;
  private longestStallMs = 0;
  /** When the watchdog last noticed a stall: frames read in the moments after it were sent
   * during the stall and queued in the socket, so they prove nothing about our place. */
  private stallNoticedAtMs = -Infinity;
  /** The last primary refused for its history (logged once, not at every attempt). */
  private refusedPrimary: string | null = null;
  /** Why the last attempt was refused for who we are (SASL or the ACL), until one succeeds:
   * shown in status, logged once per address and reason rather than at every retry. */
  private authRefusal: string | null = null;
  /** The last primary refused because its history does not hold this store's past, until a
   * primary is followed: what an operator must resolve (wipe, or promote another). */
  private historyRefusal: string | null = null;
  private readonly authRefusalsLogged = new Set<string>();
  /** Set by resync(): the next join asks for a full snapshot; cleared when one is applied. */
  private resyncReason: string | null = null;

  constructor(private readonly deps: BackupReplicatorDeps) {
    this.state = deps.initialState;
    this.resyncReason = deps.initialResync ?? null;
    if (deps.selfAddress) this.selfAddresses.add(deps.selfAddress);
  }

  get currentState(): BackupState {
    return this.state;
  }

  get currentPrimary(): PrimaryInfo | null {
    return this.primary;
  }

  /** Why this backup cannot replicate because of its identity, or null. */
  get replicationError(): string | null {
    return this.authRefusal ?? this.historyRefusal;
  }

  start(): void {
    this.schedule(0);
  }

  /** The cluster manager says where the primary now is (it has just promoted one): try there at
   * once rather than at the next maintenance interval (2 s by default), which would otherwise
   * keep a new primary recovering, and its producers waiting, that long. Ignored while this
   * backup has a primary, and for an address outside --ha-brokers-url (a hint is no way to
   * point a backup at a stranger). */
  primaryAt(address: string): boolean {
    if (this.stopped || this.primary) return false;
    const known = this.deps.addresses.find((a) => formatAddress(a) === address);
    if (!known || this.selfAddresses.has(address)) return false;
    this.hinted = { address: known, untilMs: this.deps.clock.monotonicMs() + HINT_WINDOW_MS };
    if (this.channel && this.connectedTo !== address) {
      // A join waiting elsewhere (held by an earlier hint's broker, whose promotion failed, or
      // refused there on its way): the hint wins.
      const channel = this.channel;
      this.disconnected({ kind: 'refused', description: `the cluster manager points at ${address} now` });
      channel.close();
      return true;
    }
    if (!this.channel) this.schedule(0);
    return true;
  }

  /** The hinted address while its window lasts. */
  private hintedAddress(): QpidAddress | null {
    if (this.hinted && this.deps.clock.monotonicMs() >= this.hinted.untilMs) this.hinted = null;
    return this.hinted?.address ?? null;
  }

  /** Resolves once every store operation queued so far has finished and what it applied is
   * durable. */
  settled(): Promise<void> {
    return this.chain.catch(() => {}).then(() => this.lastAppendDurable).then(() => undefined);
  }

  /** Stops replicating (the broker is being promoted or shut down); resolves when every store
   * operation already queued has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.watchdog?.cancel();
    this.generation++;
    this.channel?.close();
    this.channel = null;
    await this.chain.catch(() => {});
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = this.deps.clock.setTimer(delayMs, () => this.attempt());
  }

  private nextAddress(): QpidAddress | null {
    const all = this.deps.addresses;
    if (this.preferred) {
      const preferred = all.find((a) => formatAddress(a) === this.preferred) ?? parseHostPort(this.preferred);
      this.preferred = null;
      if (preferred && !this.selfAddresses.has(formatAddress(preferred))) return preferred;
    }
    const hinted = this.hintedAddress();
    if (hinted) return hinted;
    for (let i = 0; i < all.length; i++) {
      const candidate = all[(this.nextAddressIndex + i) % all.length] as QpidAddress;
      if (this.selfAddresses.has(formatAddress(candidate))) continue;
      this.nextAddressIndex = (this.nextAddressIndex + i + 1) % all.length;
      return candidate;
    }
    return null;
  }

  /** A primary position as announced on this connection (heard.ts). */
  private heardOf(epoch: number, lsn: number): Heard {
    return this.connectedTo ? { epoch, lsn, primary: this.connectedTo } : { epoch, lsn };
  }

  private attempt(): void {
    if (this.stopped || this.channel) return;
    const address = this.nextAddress();
    if (!address) {
      this.schedule(this.deps.maintenanceIntervalMs);
      return;
    }
    const generation = ++this.generation;
    const target = formatAddress(address);
    this.connectedTo = target;
    const hinted = this.hintedAddress();
    const expectPromotion = hinted !== null && formatAddress(hinted) === target;
    this.deps.logger.debug({ address: target, expectPromotion }, 'looking for the primary');
    this.channel = this.deps.connector.connect(address, {
      opened: () => {
        if (generation !== this.generation) return;
        this.authRefusal = null;
        this.authRefusalsLogged.clear();
        this.longestStallMs = 0;
        this.startWatchdog();
        // Once every store operation of an earlier connection has finished, and what it
        // applied is durable: the join says where the log ends, and the primary plans the
        // catch-up from that and counts it as confirmed (a join sent while frames were still
        // on their way to the disk had the primary settle what a crash would take back: found
        // by the simulator, seed 449, with the backups' disks slowed).
        void this.chain.then(() => this.lastAppendDurable).then(() => {
          if (generation !== this.generation) return;
          const meta = this.deps.store.meta();
          this.channel?.send({
            kind: 'join',
            epoch: this.deps.epochSeen(),
            name: this.deps.name,
            storeId: meta.storeId,
            address: this.deps.selfAddress,
            epochSeen: this.deps.epochSeen(),
            lastLsn: meta.lastLsn,
            epochHistory: meta.epochHistory,
            snapshotIncomplete: meta.snapshotIncomplete,
            ...(this.resyncReason !== null ? { resync: this.resyncReason.slice(0, RESYNC_REASON_CHARS_MAX) } : {}),
            ...(meta.lastLsn > 0 && !meta.snapshotIncomplete ? { catalog: this.catalog() } : {}),
          });
        });
      },
      frame: (frame) => {
        if (generation !== this.generation) return;
        // Traffic well after a stall shows the primary kept us (it would have closed the link).
        if (this.deps.clock.monotonicMs() - this.stallNoticedAtMs > this.stallGraceMs()) this.longestStallMs = 0;
        this.enqueue(generation, () => this.handle(generation, frame));
      },
      closed: (reason) => {
        if (generation !== this.generation) return;
        this.disconnected(reason);
      },
    }, { expectPromotion });
  }

  private startWatchdog(): void {
    const period = Math.max(5, this.deps.heartbeatMs / 4);
    this.lastTickMs = this.deps.clock.monotonicMs();
    const tick = (): void => {
      const now = this.deps.clock.monotonicMs();
      const lateMs = now - this.lastTickMs - period;
      if (lateMs > period) this.stallNoticedAtMs = now;
      this.longestStallMs = Math.max(this.longestStallMs, lateMs);
      this.lastTickMs = now;
      if (this.channel && !this.stopped) this.watchdog = this.deps.clock.setTimer(period, tick);
    };
    this.watchdog?.cancel();
    this.watchdog = this.deps.clock.setTimer(period, tick);
  }

  private stallGraceMs(): number {
    return Math.max(50, this.deps.heartbeatMs / 2);
  }

  private disconnected(reason: ChannelClosed): void {
    this.channel = null;
    this.generation++;
    this.watchdog?.cancel();
    const stalledMs = Math.max(this.longestStallMs, this.deps.clock.monotonicMs() - this.lastTickMs - Math.max(5, this.deps.heartbeatMs / 4));
    const confirmTimeoutMs = this.deps.confirmTimeoutMs ?? 0;
    const stallLimitMs = confirmTimeoutMs > 0 ? Math.min(this.deps.heartbeatMs, confirmTimeoutMs) : this.deps.heartbeatMs;
    if (this.state === 'ready' && this.primary !== null && stalledMs > stallLimitMs) {
      this.deps.logger.warn({ stalledMs: Math.round(stalledMs), stallLimitMs }, 'this broker was not running for longer than a heartbeat or the confirm timeout: the primary may have dropped it from the ack gate; no longer ready');
      this.setState('catchup');
    }
    const identityRefused = reason.kind === 'refused' && reason.description.includes('amqp:unauthorized-access');
    if (identityRefused) {
      const refusal = `${this.connectedTo ?? '?'}: ${reason.description}`;
      this.authRefusal = refusal;
      if (!this.authRefusalsLogged.has(refusal)) {
        this.authRefusalsLogged.add(refusal);
        this.deps.logger.error({ address: this.connectedTo, reason: reason.description }, 'refused as the HA identity (check --ha-username, --ha-password, --ha-mechanism and the primary\'s ACL); still joining');
      }
    }
    const wasConnected = this.primary !== null;
    if (wasConnected) {
      this.seekUntilMs = this.deps.clock.monotonicMs() + SEEK_WINDOW_MS;
      this.deps.logger.warn({ primary: this.primary?.name, reason }, 'lost the primary');
      this.primary = null;
      this.deps.onPrimary(null);
    }
    // A ready backup stays ready: it holds everything the lost primary acknowledged and is
    // what the cluster manager promotes. A catching-up one is back to joining.
    if (this.state === 'catchup') this.setState('joining');
    if (reason.kind === 'redirect') {
      this.preferred = reason.address;
      this.schedule(0);
      return;
    }
    // A hint from the cluster manager arrived during the failed attempt: follow it now.
    if (this.preferred !== null && !identityRefused) {
      this.schedule(0);
      return;
    }
    // Refused for who we are: retrying at once would not change that, and each failed login
    // counts against this host in the primary's rate limit (which its tools share).
    if (identityRefused) this.schedule(Math.max(this.deps.maintenanceIntervalMs, IDENTITY_RETRY_MS));
    else if (this.hintedAddress()) this.schedule(HINT_RETRY_MS);
    else this.schedule(this.deps.clock.monotonicMs() < this.seekUntilMs ? Math.min(SEEK_INTERVAL_MS, this.deps.maintenanceIntervalMs) : this.deps.maintenanceIntervalMs);
  }

  private setState(state: BackupState): void {
    if (this.state === state) return;
    this.state = state;
    this.deps.onState(state);
  }

  private enqueue(generation: number, step: () => Promise<void>): void {
    this.chain = this.chain
      .then(() => (generation === this.generation ? step() : undefined))
      .then(
        () => {
          if (generation === this.generation) this.channel?.processed();
        },
        (err: unknown) => this.failed(generation, err),
      );
  }

  /** This store cannot be trusted to hold what the primary settled (a full disk failed an apply,
   * or corruption was found in it): leave the gate now, so that producers do not wait for us,
   * and catch up again from the primary with a full snapshot, which the next join asks for (an
   * incremental catch-up would keep what is corrupt, and replay onto a full disk every body
   * enqueued since, consumed or not). Issue 16. */
  resync(reason: string): void {
    if (this.stopped) return;
    this.resyncReason = reason;
    this.deps.logger.warn({ reason, primary: this.primary?.name ?? null }, 'leaving the ack gate to catch up again');
    if (this.state === 'ready') this.setState('catchup');
    const channel = this.channel;
    if (channel) {
      this.disconnected({ kind: 'refused', description: reason });
      channel.close();
    }
  }

  private failed(generation: number, err: unknown): void {
    if (generation !== this.generation) return;
    const code = (err as { code?: string })?.code;
    if (code === 'STORE_FULL' || code === 'STORE_CORRUPT') {
      this.resync(code === 'STORE_FULL' ? `store full: ${(err as Error).message}` : `store corrupt: ${(err as Error).message}`);
      return;
    }
    // A frame out of order, duplicated or from a stale primary is the link's fault, not the
    // store's: drop the connection; the next one starts over with a fresh snapshot.
    if (code === 'HA_PROTOCOL' || code === 'STALE_EPOCH' || code === 'STORE_LSN_GAP') {
      this.deps.logger.warn({ err: (err as Error).message }, 'replication connection dropped');
      const channel = this.channel;
      this.disconnected({ kind: 'refused', description: (err as Error).message });
      channel?.close();
      return;
    }
    this.deps.logger.fatal({ err }, 'store failure while replicating');
    this.deps.onFatal(err);
  }

  private async handle(generation: number, frame: PrimaryFrame): Promise<void> {
    const store = this.deps.store;
    if (frame.kind === 'hello') {
      const seen = this.deps.epochSeen();
      if (frame.storeId === store.meta().storeId) {
        // Our own address: never try it again.
        if (this.connectedTo) this.selfAddresses.add(this.connectedTo);
        throw Object.assign(new Error('connected to ourselves'), { code: 'HA_PROTOCOL' });
      }
      if (frame.epoch < seen) {
        throw Object.assign(new Error(`refusing stale primary ${frame.name}: its epoch ${frame.epoch} is below ${seen}`), { code: 'STALE_EPOCH' });
      }
      // Before anything is noted or wiped: a "primary" that does not hold this store's past
      // (a stale store promoted by force, or an impostor on a dead primary's port claiming a
      // high epoch and an empty log) could make us wipe what was settled. Stay as we are.
      const conflict = store.meta().lastLsn > 0 ? historyConflict(store.meta().epochHistory, frame.epochHistory, frame.lastLsn) : null;
      if (conflict !== null) {
        const key = `${frame.name}@${frame.epoch}`;
        if (this.refusedPrimary !== key) {
          this.refusedPrimary = key;
          this.deps.logger.error({ primary: frame.name, epoch: frame.epoch, primaryLsn: frame.lastLsn, lastLsn: store.meta().lastLsn, reason: conflict }, 'refusing a primary whose epoch history does not hold this store\'s past; the store is kept as it is (wipe the data dir to follow it anyway)');
        }
        this.historyRefusal = `${frame.name} (epoch ${frame.epoch}): ${conflict}; the store is kept (wipe the data dir to follow it)`;
        throw Object.assign(new Error(`refusing primary ${frame.name} (epoch ${frame.epoch}): ${conflict}`), { code: 'HA_PROTOCOL' });
      }
      this.historyRefusal = null;
      this.deps.noteEpoch(frame.epoch);
      this.deps.onHeard?.(this.heardOf(frame.epoch, frame.lastLsn), true);
      this.primary = { name: frame.name, epoch: frame.epoch, address: this.connectedTo ?? '', publicAddress: frame.publicAddress };
      this.hinted = null;
      this.deps.onPrimary(this.primary);
      this.setState('catchup');
      this.confirmed = 0;
      if (frame.catchUp.kind === 'snapshot') {
        this.deps.logger.info({ primary: frame.name, epoch: frame.epoch, primaryLsn: frame.lastLsn, reason: frame.catchUp.reason }, 'connected to the primary; wiping the store to catch up');
        await store.wipe();
        return;
      }
      await this.truncateTo(frame.catchUp.fromLsn, frame);
      return;
    }
    const primary = this.primary;
    if (!primary || frame.epoch !== primary.epoch) {
      throw Object.assign(new Error(`replication frame ${frame.kind} with epoch ${frame.epoch} from a primary of epoch ${primary?.epoch ?? 'none'}`), { code: 'STALE_EPOCH' });
    }
    switch (frame.kind) {
      case 'snapshot-begin':
        await store.beginSnapshot(frame.lsn, Math.max(frame.epoch, store.meta().epoch), frame.lastMessageId, frame.epochHistory);
        return;
      case 'snapshot-records':
        await store.applySnapshotRecords(frame.records);
        crashPoint('ha.backup.mid-snapshot');
        return;
      case 'snapshot-end':
        await store.endSnapshot(frame.lastPositions ?? {});
        this.resyncReason = null;
        this.confirm(generation, store.meta().lastLsn);
        this.deps.logger.info({ lsn: store.meta().lastLsn }, 'snapshot applied');
        return;
      case 'log': {
        if (frame.entries.length === 0) return;
        this.deps.onHeard?.(this.heardOf(frame.epoch, (frame.entries[frame.entries.length - 1] as { lsn: number }).lsn), false);
        const ticket = store.appendReplicated(frame.entries);
        this.lastAppendDurable = ticket.durable.catch(() => undefined);
        // Pipelined: the next frame is applied while this one becomes durable; confirmations
        // follow durability, in order.
        ticket.durable.then(
          () => {
            crashPoint('ha.backup.after-apply-before-confirm');
            this.confirm(generation, ticket.lastLsn);
          },
          (err: unknown) => this.failed(generation, err),
        );
        return;
      }
      case 'state':
        this.deps.onMembers(frame.members);
        if (frame.state === 'ready' && this.state === 'catchup') {
          this.deps.logger.info({ primary: primary.name }, 'caught up: ready');
          this.setState('ready');
        } else if (frame.state === 'catchup' && this.state === 'ready') {
          // The primary dropped us from the ack gate (we did not confirm in time): what it
          // settles from now on may not be here, so this store is no longer promotable.
          this.deps.logger.warn({ primary: primary.name }, 'the primary took this backup out of the ack gate; no longer ready');
          this.setState('catchup');
        }
        return;
    }
  }

  /** Incremental catch-up: the log is taken back to the divergence point (what goes was never
   * settled), then the primary's log follows from there. A store that cannot take it back (the
   * entries were copied from an earlier primary) wipes itself and comes back for a snapshot. */
  private async truncateTo(lsn: number, hello: { name: string; epoch: number; lastLsn: number; catalogFromJoin?: boolean }): Promise<void> {
    const store = this.deps.store;
    const before = store.meta().lastLsn;
    if (before > lsn) {
      try {
        await store.truncateAfter(lsn);
      } catch (err) {
        if ((err as { code?: string })?.code !== 'STORE_UNDO_MISSING') throw err;
        this.deps.logger.warn({ primary: hello.name, divergence: lsn, lastLsn: before, err: (err as Error).message }, 'cannot take the log back to the divergence point; wiping the store to resync from a snapshot');
        await store.wipe();
        throw Object.assign(new Error('store wiped to resync from a snapshot'), { code: 'HA_PROTOCOL' });
      }
      this.deps.logger.info({ primary: hello.name, epoch: hello.epoch, divergence: lsn, truncated: before - lsn }, 'took back the divergent end of the log (never settled)');
    }
    this.deps.logger.info({ primary: hello.name, epoch: hello.epoch, primaryLsn: hello.lastLsn, fromLsn: lsn }, 'connected to the primary; catching up incrementally');
    // What this store holds at the divergence point: the primary's filter starts from it. The
    // join said it already when nothing was to be taken back.
    if (hello.catalogFromJoin) {
      if (before !== lsn) throw Object.assign(new Error(`the primary took the join's catalog (LSN ${before}) for a catch-up from LSN ${lsn}`), { code: 'HA_PROTOCOL' });
    } else {
      this.channel?.send({ kind: 'catalog', epoch: hello.epoch, lsn, ...this.catalog() });
    }
    this.confirm(this.generation, lsn);
  }

  /** The queues and exchanges the store holds, with their qpid.replicate argument. */
  private catalog(): { queues: CatalogNode[]; exchanges: CatalogNode[] } {
    const store = this.deps.store;
    const replicate = (args: Readonly<Record<string, unknown>>): string | null => (typeof args['qpid.replicate'] === 'string' ? (args['qpid.replicate'] as string) : null);
    return {
      queues: store.queues().map((q) => ({ name: q.declare.queue, replicate: replicate(q.declare.arguments) })),
      exchanges: store.exchanges().map((e) => ({ name: e.exchange, replicate: replicate(e.arguments) })),
    };
  }

  private confirm(generation: number, lsn: number): void {
    if (generation !== this.generation || lsn <= this.confirmed) return;
    this.confirmed = lsn;
    this.channel?.send({ kind: 'confirm', epoch: this.primary?.epoch ?? 0, lsn });
  }
}

function parseHostPort(text: string): QpidAddress | null {
  const match = /^(.*):(\d+)$/.exec(text);
  if (!match) return null;
  return { transport: 'tcp', host: match[1] as string, port: Number(match[2]) };
}
