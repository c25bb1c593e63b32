// The backup's replication driver: the one place that carries out what the backup protocol
// (backup-protocol.ts, a pure step function) decides. It feeds the protocol what happens (a
// connection opening or closing, the primary's frames, the results of store operations, the
// clock's timers) and performs the actions it returns, in their order: connections and sends,
// store operations, timers, and the broker's callbacks (state, primary, epoch, heard).
//
// Store operations run strictly one after another on one chain, across connections, so a new
// primary's wipe never overtakes the previous one's last apply: a frame is handed to the
// protocol when its turn on the chain comes, and the store operation it asks for is awaited
// there before the next frame's. Events are stepped one at a time, to completion: one that
// arrives while another's actions run waits its turn in the queue.

import type { LogEntry, Store } from '../../store/index.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { StepRunner } from '../core/step-runner.js';
import { crashPoint } from '../core/crash-points.js';
import type { Logger } from '../core/log.js';
import type { QpidAddress } from '../core/qpid-url.js';
import type { Heard } from './heard.js';
import type { BackupFrame, MemberInfo, PrimaryFrame } from './messages.js';
import { acceptsHint, initialBackupState, step, type BackupAction, type BackupEvent, type BackupProtocolState, type BackupState, type Catalog, type ChannelClosed, type PrimaryInfo, type StoreOp, type StoreView } from './backup-protocol.js';

export type { BackupState, ChannelClosed, PrimaryInfo } from './backup-protocol.js';

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

const NO_CATALOG: Catalog = { queues: [], exchanges: [] };

export class BackupReplicator {
  private readonly protocol: BackupProtocolState;
  private channel: ReplicationChannel | null = null;
  private timer: TimerHandle | null = null;
  private watchdog: TimerHandle | null = null;
  /** Every store operation, in order. */
  private chain: Promise<void> = Promise.resolve();
  /** The durability of the last log frame applied: a join waits for it. */
  private lastAppendDurable: Promise<unknown> = Promise.resolve();
  private readonly runner: StepRunner<BackupEvent, BackupAction>;
  /** Store operations the protocol asked for while a frame is handled (handle() runs them). */
  private readonly storeOps: StoreOp[] = [];
  /** The error behind the last `failed` event, for onFatal. */
  private lastError: unknown = null;

  constructor(private readonly deps: BackupReplicatorDeps) {
    this.protocol = initialBackupState(
      { name: deps.name, selfAddress: deps.selfAddress, addresses: deps.addresses, maintenanceIntervalMs: deps.maintenanceIntervalMs, heartbeatMs: deps.heartbeatMs, confirmTimeoutMs: deps.confirmTimeoutMs ?? 0 },
      deps.initialState,
      deps.initialResync ?? null,
    );
    this.runner = new StepRunner((event) => step(this.protocol, event), (action) => this.perform(action));
  }

  get currentState(): BackupState {
    return this.protocol.state;
  }

  get currentPrimary(): PrimaryInfo | null {
    return this.protocol.primary;
  }

  /** Why this backup cannot replicate because of its identity, or null. */
  get replicationError(): string | null {
    return this.protocol.authRefusal ?? this.protocol.historyRefusal;
  }

  start(): void {
    this.feed({ kind: 'start' });
  }

  /** The cluster manager says where the primary now is (it has just promoted one): try there at
   * once rather than at the next maintenance interval (2 s by default), which would otherwise
   * keep a new primary recovering, and its producers waiting, that long. Ignored while this
   * backup has a primary, and for an address outside --ha-brokers-url. */
  primaryAt(address: string): boolean {
    if (!acceptsHint(this.protocol, address)) return false;
    this.feed({ kind: 'hint', address, nowMs: this.nowMs() });
    return true;
  }

  /** Resolves once every store operation queued so far has finished and what it applied is
   * durable. */
  settled(): Promise<void> {
    return this.chain.catch(() => {}).then(() => this.lastAppendDurable).then(() => undefined);
  }

  /** Stops replicating (the broker is being promoted or shut down); resolves when every store
   * operation already queued has finished. */
  async stop(): Promise<void> {
    this.feed({ kind: 'stop' });
    await this.chain.catch(() => {});
  }

  /** This store cannot be trusted to hold what the primary settled: leave the gate now and
   * catch up again with a full snapshot (backup-protocol.ts). Issue 16. */
  resync(reason: string): void {
    this.feed({ kind: 'resync', reason, nowMs: this.nowMs() });
  }

  private nowMs(): number {
    return this.deps.clock.monotonicMs();
  }

  private view(): StoreView {
    const { storeId, epoch, lastLsn, epochHistory, snapshotIncomplete } = this.deps.store.meta();
    return { storeId, epoch, lastLsn, epochHistory, snapshotIncomplete };
  }

  /** The queues and exchanges the store holds, with their qpid.replicate argument. */
  private catalog(): Catalog {
    const store = this.deps.store;
    const replicate = (args: Readonly<Record<string, unknown>>): string | null => (typeof args['qpid.replicate'] === 'string' ? (args['qpid.replicate'] as string) : null);
    return {
      queues: store.queues().map((q) => ({ name: q.declare.queue, replicate: replicate(q.declare.arguments) })),
      exchanges: store.exchanges().map((e) => ({ name: e.exchange, replicate: replicate(e.arguments) })),
    };
  }

  private feed(event: BackupEvent): void {
    this.runner.feed(event);
  }

  private perform(action: BackupAction): void {
    const { deps } = this;
    switch (action.kind) {
      case 'connect':
        this.connect(action.generation, action.address, action.expectPromotion);
        return;
      case 'drop-channel': {
        const channel = this.channel;
        this.channel = null;
        if (action.close) channel?.close();
        return;
      }
      case 'send':
        this.channel?.send(action.frame);
        return;
      case 'send-catalog':
        this.channel?.send({ kind: 'catalog', epoch: action.epoch, lsn: action.lsn, ...this.catalog() });
        return;
      case 'join-when-settled': {
        const { generation } = action;
        void this.chain
          .then(() => this.lastAppendDurable)
          .then(() => {
            if (generation !== this.protocol.generation) return;
            const store = this.view();
            const catalog = store.lastLsn > 0 && !store.snapshotIncomplete ? this.catalog() : NO_CATALOG;
            this.feed({ kind: 'join-ready', generation, store, catalog, epochSeen: deps.epochSeen() });
          });
        return;
      }
      case 'store':
        this.storeOps.push(action.op);
        return;
      case 'set-timer':
        this.timer?.cancel();
        this.timer = deps.clock.setTimer(action.delayMs, () => this.feed({ kind: 'attempt', nowMs: this.nowMs() }));
        return;
      case 'cancel-timer':
        this.timer?.cancel();
        this.timer = null;
        return;
      case 'watchdog-start': {
        const tick = (): void => {
          this.feed({ kind: 'watchdog', nowMs: this.nowMs() });
          if (this.protocol.channel && !this.protocol.stopped) this.watchdog = deps.clock.setTimer(action.periodMs, tick);
        };
        this.watchdog?.cancel();
        this.watchdog = deps.clock.setTimer(action.periodMs, tick);
        return;
      }
      case 'watchdog-stop':
        this.watchdog?.cancel();
        this.watchdog = null;
        return;
      case 'state':
        deps.onState(action.state);
        return;
      case 'primary':
        deps.onPrimary(action.primary);
        return;
      case 'members':
        deps.onMembers(action.members);
        return;
      case 'note-epoch':
        deps.noteEpoch(action.epoch);
        return;
      case 'heard':
        deps.onHeard?.(action.heard, action.urgent);
        return;
      case 'crash-point':
        crashPoint(action.name);
        return;
      case 'fatal':
        deps.onFatal(this.lastError ?? new Error(action.error));
        return;
      case 'log':
        deps.logger[action.level](action.fields, action.msg);
        return;
    }
  }

  private connect(generation: number, address: QpidAddress, expectPromotion: boolean): void {
    this.channel = this.deps.connector.connect(
      address,
      {
        opened: () => this.feed({ kind: 'opened', generation, nowMs: this.nowMs() }),
        frame: (frame) => {
          if (generation !== this.protocol.generation) return;
          this.feed({ kind: 'frame-arrived', generation, nowMs: this.nowMs() });
          this.enqueue(generation, frame);
        },
        closed: (reason) => this.feed({ kind: 'closed', generation, reason, nowMs: this.nowMs() }),
      },
      { expectPromotion },
    );
  }

  private enqueue(generation: number, frame: PrimaryFrame): void {
    this.chain = this.chain
      .then(() => (generation === this.protocol.generation ? this.handle(generation, frame) : undefined))
      .then(
        () => {
          if (generation === this.protocol.generation) this.channel?.processed();
        },
        (err: unknown) => this.failed(generation, err),
      );
  }

  /** A store operation failed: the protocol judges it by its code (backup-protocol.ts). */
  private failed(generation: number, err: unknown): void {
    this.lastError = err;
    this.feed({ kind: 'failed', generation, code: (err as { code?: string })?.code ?? null, error: (err as Error)?.message ?? String(err), nowMs: this.nowMs() });
  }

  /** A frame's turn on the chain: the protocol handles it, and each store operation it asks for
   * is carried out (and its end reported) before the next frame's. */
  private async handle(generation: number, frame: PrimaryFrame): Promise<void> {
    let event: BackupEvent = { kind: 'frame', generation, frame, store: this.view(), epochSeen: this.deps.epochSeen(), nowMs: this.nowMs() };
    for (;;) {
      this.storeOps.length = 0;
      this.feed(event);
      const op = this.storeOps.shift();
      if (op === undefined) return;
      event = await this.runStoreOp(generation, op);
    }
  }

  private async runStoreOp(generation: number, op: StoreOp): Promise<BackupEvent> {
    const store = this.deps.store;
    switch (op.kind) {
      case 'wipe':
        await store.wipe();
        break;
      case 'truncate':
        try {
          await store.truncateAfter(op.lsn);
        } catch (err) {
          if ((err as { code?: string })?.code !== 'STORE_UNDO_MISSING') throw err;
          return { kind: 'truncate-refused', generation, error: (err as Error).message, nowMs: this.nowMs() };
        }
        break;
      case 'begin-snapshot':
        await store.beginSnapshot(op.lsn, op.epoch, op.lastMessageId, op.epochHistory);
        break;
      case 'apply-snapshot':
        await store.applySnapshotRecords(op.records);
        break;
      case 'end-snapshot':
        await store.endSnapshot(op.lastPositions);
        break;
      case 'append':
        this.append(generation, op.entries);
        break;
    }
    return { kind: 'store-done', generation, op: op.kind, lastLsn: store.meta().lastLsn, nowMs: this.nowMs() };
  }

  /** Pipelined: the next frame is applied while this one becomes durable; confirmations follow
   * durability, in order. */
  private append(generation: number, entries: readonly LogEntry[]): void {
    const ticket = this.deps.store.appendReplicated(entries);
    this.lastAppendDurable = ticket.durable.catch(() => undefined);
    ticket.durable.then(
      () => this.feed({ kind: 'durable', generation, lastLsn: ticket.lastLsn, nowMs: this.nowMs() }),
      (err: unknown) => this.failed(generation, err),
    );
  }
}
