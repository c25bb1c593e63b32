// The HA node: the driver that owns a broker's role and carries out what it implies (DESIGN.md
// §3). A standalone broker serves clients at once. A cluster broker starts `joining` and
// replicates from the primary as a backup until the cluster manager promotes it (it never
// promotes itself); as primary it recovers the messaging model from its store, ships its log
// to the backups, and settles producers through the ack gate.

import type { EpochStart, InspectAnswer, InspectRequest, LostMessage, RecoveryReport, Store, StoreRole } from '../../store/index.js';
import { crashPoint } from '../core/crash-points.js';
import type { Admission, ConnectionInfo, ConnectionRole, MessagingService } from '../amqp/server.js';
import type { RecoveryMode } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import type { BrokerConfig } from '../config/index.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { BrokerLogger } from '../core/log.js';
import { formatAddress, type QpidAddress } from '../core/qpid-url.js';
import { BackupReplicator, type BackupState, type PrimaryInfo, type ReplicationConnector } from './backup.js';
import { warmUpCodecs, type MemberInfo } from './messages.js';
import { PrimaryReplicator, type BackupLag } from './primary.js';
import { HaInstruments } from './instruments.js';
import type { QueueReplica, ReplicaMode } from './queue-replica.js';
import { QueueReplicas, type ReplicaSummary } from './queue-replicas.js';
import type { Heard } from './heard.js';
import type { HeardRecord } from './heard-file.js';
import { HeardTracker } from './heard-tracker.js';
import { LeaseKeeper, type LeaseStatus } from './lease-keeper.js';
import { ProducerPauses } from './producer-pauses.js';
import { checkHeard, checkJoiningPromotion, type ClusterRecord, type PromotionPeers } from './promote-checks.js';
import { isPrimaryState, servesClients, transition, type HaState } from './role.js';
import { createMessagingService } from './messaging-service.js';
import { StoreHealth } from './store-health.js';
import { RheaReplicationConnector } from './transport.js';
import { admitConnection } from './admission.js';
import { inspectBrokerStore } from './inspect-store.js';
import { FencingProbe, nextEpoch } from './fencing-probe.js';
import { awaited, RECOVERED, recoveryStep, type RecoveryAction, type RecoveryEvent, type RecoveryState } from './recovery.js';
import { StatusWatch, statusToken } from './status-watch.js';
import { gateStatus, type HaStatus, type StatusProbe } from './status.js';

export type { HaStatus, StatusProbe } from './status.js';

/** What the HA node needs of the client-facing server (AmqpServer in production; the
 * simulator's own in test/sim). */
export interface ClientFacingServer {
  setAdmission(admission: (info: ConnectionInfo) => Admission): void;
  setService(service: MessagingService | null): void;
  closeConnections(select: (info: ConnectionInfo, role: ConnectionRole) => boolean, error: { condition: string; description: string }): number;
  /** Drops the selected connections with no close frame (clients then fail over). */
  dropConnections(select: (info: ConnectionInfo, role: ConnectionRole) => boolean): number;
}

export interface HaNodeDeps {
  readonly config: BrokerConfig;
  readonly store: Store;
  readonly server: ClientFacingServer;
  readonly clock: Clock;
  readonly logger: BrokerLogger;
  /** Replication transport for backups (default: rhea). */
  readonly connector?: ReplicationConnector;
  /** Status of other brokers (default: none known; the runtime passes a management client). */
  readonly probe?: StatusProbe;
  /** A broken invariant or a fatal store failure: the process must stop (the cluster fails over). */
  readonly onFatal?: (err: unknown) => void;
  /** Whether a backup may join from this peer address (default: any; the runtime passes the
   * hosts of --ha-brokers-url). */
  readonly memberAddress?: (remoteAddress: string) => boolean;
  /** Where the primary positions this broker heard are kept (heard-file.ts; default: memory). */
  readonly heardRecord?: HeardRecord;
  /** What the store's open found (the runtime builds it; serve() adds what recovery drops). */
  readonly recovery?: RecoveryReport;
  /** Set when the store failed its verify at start: a cluster broker then joins, wipes and
   * resyncs as any backup does, and is never promoted from joining without --force. */
  readonly storeCorrupt?: string | null;
}

export class HaNode {
  private haState: HaState;
  private service_: MessagingService | null = null;
  private backup: BackupReplicator | null = null;
  private primary: PrimaryReplicator | null = null;
  /** Latency callbacks the metrics set (management/metrics.ts). */
  readonly instruments = new HaInstruments();
  private knownPrimary: PrimaryInfo | null = null;
  private members: readonly MemberInfo[] = [];
  private epochSeen: number;
  private recovery: RecoveryState = RECOVERED;
  private recoveryTimer: TimerHandle | null = null;
  private ownAddress: string | null = null;
  private promoting = false;
  private readonly heard: HeardTracker;
  private readonly health: StoreHealth;
  private readonly lease: LeaseKeeper;
  private readonly statusWatch: StatusWatch;

  constructor(private readonly deps: HaNodeDeps) {
    this.haState = deps.config.ha.cluster ? 'joining' : 'standalone';
    this.heard = new HeardTracker(deps.heardRecord ?? null, deps.clock, deps.logger.child({ module: 'ha-heard' }));
    this.epochSeen = deps.store.meta().epoch;
    this.lease = new LeaseKeeper(deps.clock, deps.logger.child({ module: 'ha-lease' }));
    this.health = new StoreHealth(deps.store, deps.logger, deps.recovery ?? null, deps.storeCorrupt ?? null);
    this.statusWatch = new StatusWatch(deps.clock, () => this.statusToken());
    this.replicas = new QueueReplicas({
      name: deps.config.name,
      storeId: () => deps.store.meta().storeId,
      connector: () => this.connector(),
      clock: deps.clock,
      logger: deps.logger,
      retryIntervalMs: deps.config.ha.linkMaintenanceIntervalMs,
    });
    deps.server.setAdmission((info) => this.admit(info));
  }

  /** The data dir this broker holds (its broker.json is there: qpid-ha drill checks the pid). */
  get dataDir(): string {
    return this.deps.config.dataDir;
  }

  get state(): HaState {
    return this.haState;
  }

  /** The primary's replicator while this broker is primary (replication transports route
   * backups' frames to it). */
  primaryReplicator(): PrimaryReplicator | null {
    return this.primary;
  }

  private readonly primaryListeners = new Set<() => void>();

  /** Called each time this broker becomes a cluster primary, once its replicator takes joins
   * (the replication endpoint serves the joins it held for the promotion). */
  onPrimaryStarted(listener: () => void): void {
    this.primaryListeners.add(listener);
  }

  service(): MessagingService | null {
    return this.service_;
  }

  private get cluster(): boolean {
    return this.deps.config.ha.cluster;
  }

  async start(): Promise<void> {
    warmUpCodecs();
    if (!this.cluster) {
      await this.recordRole('standalone', 'standalone');
      this.serve('local', true);
      return;
    }
    await this.recordRole(this.deps.store.meta().lastRole, 'joining');
    this.health.keep();
  }

  /** The role in meta is for operators and managers choosing a store; a full disk must not keep
   * the broker from starting (issue 16), so a failed write is logged, not fatal. */
  private async recordRole(role: StoreRole, haState: string): Promise<void> {
    await this.deps.store.setRole(role, haState).catch((err: unknown) => {
      if ((err as { code?: string })?.code !== 'STORE_FULL') throw err;
      this.deps.logger.warn({ err }, 'could not record the HA state in the store: store full');
    });
  }

  /** The listener is up (at `address`, as it appears in ha-brokers-url when it does): a
   * cluster broker starts looking for the primary. */
  listening(port: number, sslPort: number | null = null): void {
    const config = this.deps.config;
    // An ssl: entry names our --ssl-port, a tcp: entry our --port.
    const urls = (config.ha.brokersUrl?.addresses ?? []).filter((a) => (a.transport === 'ssl' ? sslPort !== null && a.port === sslPort : a.port === port));
    // The entry naming our interface; else, on loopback only, the one with our port. (Matching
    // any host of the same kind picked the first entry on every broker of a multi-host cluster
    // on one port, so that all backups skipped that broker: found by the simulator, seed 1.)
    const self = urls.find((a) => a.host === config.interface) ?? urls.find((a) => isLoopback(a.host) && isLoopback(config.interface));
    this.ownAddress = self ? formatAddress(self) : `${config.interface}:${port}`;
    if (this.cluster) this.startBackup('joining');
  }

  private startBackup(initial: BackupState): void {
    const config = this.deps.config;
    this.backup = new BackupReplicator({
      store: this.deps.store,
      connector: this.connector(),
      clock: this.deps.clock,
      logger: this.deps.logger.child({ module: 'ha-backup' }),
      name: config.name,
      selfAddress: this.ownAddress,
      addresses: config.ha.brokersUrl?.addresses ?? [],
      maintenanceIntervalMs: config.ha.linkMaintenanceIntervalMs,
      heartbeatMs: config.ha.linkHeartbeatIntervalMs,
      confirmTimeoutMs: config.ha.confirmTimeoutMs,
      initialState: initial,
      // A store that failed its verify at start is not kept by an incremental catch-up.
      initialResync: this.health.corrupt === null ? null : `the store failed its verify at start: ${this.health.corrupt}`,
      onState: (state) => this.setState(state),
      onPrimary: (primary) => {
        this.knownPrimary = primary;
        // A watcher hears of a lost primary once what this store received from it is written:
        // the LSN it then reads is the one a promotion would start from.
        if (primary === null) void this.backup?.settled().then(() => this.statusWatch.notify());
        else this.statusWatch.notify();
      },
      onMembers: (members) => {
        this.members = members;
      },
      epochSeen: () => Math.max(this.epochSeen, this.deps.store.meta().epoch),
      noteEpoch: (epoch) => {
        this.epochSeen = Math.max(this.epochSeen, epoch);
      },
      onHeard: (heard, urgent) => this.heard.heard(heard, { urgent, inGate: this.haState === 'ready' }),
      onFatal: (err) => this.fatal(err),
    });
    this.backup.start();
  }

  private setState(next: HaState): void {
    if (next === this.haState) return;
    const previous = this.haState;
    try {
      this.haState = transition(previous, next);
    } catch (err) {
      this.fatal(err);
      return;
    }
    this.deps.logger.setRole(next);
    this.deps.logger.info({ from: previous, to: next }, 'HA state changed');
    if (previous === 'ready' && next === 'catchup') this.heard.leftGate();
    if (next === 'ready') this.health.resynced();
    const role: StoreRole = isPrimaryState(next) ? 'primary' : 'backup';
    this.deps.store.setRole(role, next).catch((err: unknown) => this.deps.logger.error({ err }, 'could not record the HA state in the store'));
    this.statusWatch.notify();
  }

  private fatal(err: unknown): void {
    this.deps.logger.fatal({ err }, 'fatal error in the HA node; the broker stops so that the cluster can fail over');
    if (this.deps.onFatal) this.deps.onFatal(err);
    else throw err;
  }

  /** Who may connect (DESIGN.md §3): administrative connections (qpid.ha-admin) always; only a
   * primary takes replication connections; clients only where clients are served. A backup
   * drops a client's TCP connection with no close frame, as qpidd's BackupConnectionExcluder
   * does: Proton (Python, C++) and rhea then try their next URL, while an AMQP close or a
   * refused link is final for them (measured). The redirect is an opt-in. */
  private admit(info: ConnectionInfo): Admission {
    const primary = this.knownPrimary;
    return admitConnection(info, {
      name: this.deps.config.name,
      state: this.haState,
      shipping: this.primary !== null,
      primaryAddress: primary ? (primary.publicAddress ?? primary.address) : null,
      clientRedirect: this.deps.config.ha.clientRedirect,
      awaitingPromotion: this.cluster && (this.haState === 'ready' || this.haState === 'joining') && !this.followsPrimary,
    });
  }

  private connectorValue: ReplicationConnector | null = null;

  private connector(): ReplicationConnector {
    const config = this.deps.config;
    this.connectorValue ??=
      this.deps.connector ??
      new RheaReplicationConnector({
        name: config.name,
        heartbeatMs: config.ha.linkHeartbeatIntervalMs,
        frameWindow: config.ha.frameWindow,
        username: config.ha.username,
        password: config.ha.password,
        mechanism: config.ha.mechanism,
        logger: this.deps.logger.child({ module: 'ha-connector' }),
      });
    return this.connectorValue;
  }

  private get queueReplication(): boolean {
    return this.cluster || this.deps.config.ha.queueReplication;
  }

  private readonly replicas: QueueReplicas;

  /** `qpid-ha replicate` ('strict', or 'force' with --force), `qpid-config add queue
   * --start-replica` and restarts ('resume'): queue-replicas.ts. */
  startReplica(queue: string, source: string, mode: ReplicaMode): QueueReplica {
    const service = this.service_;
    if (!service) throw new BrokerError('NOT_ALLOWED', `replicate: ${this.deps.config.name} is ${this.haState} and does not serve queues`);
    if (!this.queueReplication) throw new BrokerError('NOT_ALLOWED', 'replicate: queue replication is off (--ha-queue-replication yes, or an HA cluster)');
    return this.replicas.start(service.broker, queue, source, mode);
  }

  /** Replica queues this broker keeps, and the queues other brokers replicate from it. */
  replication(): { replicas: ReplicaSummary[]; followers: { queue: string; replica: string; confirmedLsn: number }[] } {
    return { replicas: this.replicas.summary(), followers: this.primary?.replicas() ?? [] };
  }

  /** Builds the messaging model from the store and starts serving it. */
  private serve(mode: RecoveryMode, gateOpen: boolean): MessagingService {
    const config = this.deps.config;
    // Only a cluster primary waits for backups: a standalone broker (or one serving replica
    // queues) has none to wait for.
    const minBackups = this.cluster ? this.deps.config.ha.minBackups : 0;
    const service = createMessagingService({ config, store: this.deps.store, clock: this.deps.clock, logger: this.deps.logger, instruments: this.instruments, minBackups, gateOpen, queueReplication: this.queueReplication, lost: (lost) => this.lost(lost) });
    const { broker, settlements } = service;
    const recovered = broker.recover(mode);
    this.health.noteDropped(recovered.dropped);
    this.service_ = service;
    this.deps.server.setService(service);
    if (!this.cluster && config.ha.queueReplication) {
      // A standalone broker serves replica queues that follow it (never backups).
      this.primary = new PrimaryReplicator({
        store: this.deps.store,
        settlements,
        instruments: this.instruments,
        logger: this.deps.logger.child({ module: 'ha-primary' }),
        name: config.name,
        publicAddress: null,
        defaultReplicateLevel: config.ha.replicate,
        epoch: 0,
        acceptBackups: false,
        onStale: () => {},
        onMembership: () => {},
      });
    }
    if (this.queueReplication) this.replicas.resume(broker);
    return service;
  }

  /** A message that could not be read unaltered: reported; on a backup the store resyncs. */
  private lost(lost: LostMessage): void {
    this.health.noteLost(lost);
    if (this.backup) this.backup.resync(`message ${lost.messageId} of queue ${lost.queue} position ${lost.position}: ${lost.reason}`);
  }

  /** `status` as a long poll (status-watch.ts): waits up to `waitMs` for the token to change
   * from `seen`. */
  async statusAfterChange(seen: string, waitMs: number): Promise<HaStatus & { statusToken: string }> {
    await this.statusWatch.changed(seen, waitMs);
    return { ...this.status(), statusToken: this.statusToken() };
  }

  /** A backup connected to a primary (what status calls connectedToPrimary). */
  private get followsPrimary(): boolean {
    return this.backup?.currentPrimary != null;
  }

  private statusToken(): string {
    return statusToken({ state: this.haState, connectedToPrimary: this.followsPrimary, epoch: Math.max(this.deps.store.meta().epoch, this.epochSeen) });
  }

  status(): HaStatus {
    const meta = this.deps.store.meta();
    const role: StoreRole = this.haState === 'standalone' ? 'standalone' : isPrimaryState(this.haState) ? 'primary' : 'backup';
    const primaryName = isPrimaryState(this.haState) ? this.deps.config.name : (this.knownPrimary?.name ?? null);
    return {
      name: this.deps.config.name,
      state: this.haState,
      role,
      epoch: Math.max(meta.epoch, this.epochSeen),
      storeId: meta.storeId,
      firstLsn: meta.firstLsn,
      lastLsn: meta.lastLsn,
      epochHistory: meta.epochHistory,
      lastRole: meta.lastRole,
      snapshotIncomplete: meta.snapshotIncomplete,
      primary: primaryName,
      connectedToPrimary: this.followsPrimary,
      replicationError: this.backup?.replicationError ?? null,
      members: this.primary ? this.primary.members() : this.members,
      gate: this.primary && this.service_ && this.cluster ? gateStatus(this.service_.settlements.gate) : null,
      brokersUrl: this.deps.config.ha.brokersUrlText,
      address: this.ownAddress,
      heard: this.heard.effective(this.haState === 'ready'),
      recovery: this.health.recovery,
      storeCondition: { full: this.deps.store.full, corrupt: this.health.corrupt },
      lease: isPrimaryState(this.haState) ? this.lease.status() : null,
      leaseClockMs: this.lease.clockMs(),
    };
  }

  /** Another broker's status, asked over its management node as the HA probe does (the
   * console's cluster view); null when it does not answer. */
  peerStatus(address: QpidAddress): Promise<HaStatus | null> {
    return this.deps.probe ? this.deps.probe(address).catch(() => null) : Promise.resolve(null);
  }

  /** Each backup's lag behind this broker (empty unless it is a primary with backups). */
  replicationLag(): BackupLag[] {
    return this.primary?.lag() ?? [];
  }

  /** This broker's store, for the management listings of what it holds (they work on backups
   * too, which keep no in-memory queues). */
  store(): Store {
    return this.deps.store;
  }

  /** `qpid-store` pointed at this broker's data dir (inspect-store.ts). */
  inspectStore(request: InspectRequest): Promise<InspectAnswer> {
    const backup = this.backup;
    return inspectBrokerStore(this.deps.store, this.deps.config.dataDir, request, backup ? (reason) => backup.resync(reason) : null);
  }

  /** `qpid-ha --cluster-manager promote` (reference §1.12.10). */
  async promote(options: { force: boolean; leaseSeconds?: number; leaseId?: string; record?: ClusterRecord; minEpoch?: number }): Promise<{ state: HaState; epoch: number; warnings: string[] }> {
    if (!this.cluster) throw new BrokerError('NOT_ALLOWED', 'promote: this broker is not in a cluster (ha-cluster=no)');
    if (isPrimaryState(this.haState)) return { state: this.haState, epoch: this.epochSeen, warnings: ['already primary'] };
    this.promotable();
    const mode: RecoveryMode = this.haState === 'joining' ? 'local' : 'promotion';
    this.promoting = true;
    // A manager promotes with a lease, so that no instant passes with the new primary unleased.
    if (options.leaseSeconds !== undefined) this.lease.grant(options.leaseSeconds, options.leaseId ?? null);
    try {
      const warnings = await this.promotionChecks(options.force, options.record ?? null);
      await this.becomePrimary(mode, options.minEpoch ?? 0);
      return { state: this.haState, epoch: this.epochSeen, warnings };
    } finally {
      this.promoting = false;
    }
  }

  /** Why a promotion without --force would be refused now, or null: the same checks, nothing
   * changed (the simulator's liveness checker asks every broker). */
  async promotionRefusal(): Promise<string | null> {
    try {
      if (!this.cluster || isPrimaryState(this.haState)) return `${this.deps.config.name} is ${this.haState}`;
      this.promotable();
      await this.promotionChecks(false);
      return null;
    } catch (err) {
      if (err instanceof BrokerError) return err.message;
      throw err;
    }
  }

  /** The refusals that need no peer: a promotion under way, a partial store. */
  private promotable(): void {
    if (this.promoting) throw new BrokerError('NOT_ALLOWED', 'promote: a promotion is already in progress');
    if (this.haState === 'catchup') throw new BrokerError('NOT_ALLOWED', `promote: ${this.deps.config.name} is still catching up`);
  }

  /** What the store knows it lacks (checkHeard, with the liveness rule), and for a joining
   * broker the other stores (checkJoiningPromotion): throws, or the warnings --force turned
   * refusals into. */
  private async promotionChecks(force: boolean, record: ClusterRecord | null = null): Promise<string[]> {
    const peers = this.promotionPeers();
    const warnings = await checkHeard(peers, this.heard.effective(this.haState === 'ready'), this.deps.config.ha.minBackups, force);
    if (this.haState === 'joining') warnings.push(...(await checkJoiningPromotion(peers, force, record)));
    return warnings;
  }

  /** `qpid-ha lease --seconds S` (a grant) or a manager's extension of its lease (lease-keeper.ts). */
  servingLease(request: { seconds: number; id?: string; since?: number } | { id: string; extendMs: number; remainingMs?: number }): LeaseStatus {
    if (!isPrimaryState(this.haState)) throw new BrokerError('NOT_ALLOWED', `lease: ${this.deps.config.name} is ${this.haState}; only a primary serves under a lease`);
    return 'extendMs' in request ? this.lease.extend(request.id, request.extendMs, request.remainingMs) : this.lease.grant(request.seconds, request.id ?? null, request.since);
  }

  /** `gate-recorded`: the cluster manager says etcd records this primary's gate as of
   * `generation` (ack-gate.ts): departed backups up to it no longer hold settlement back. */
  gateRecorded(epoch: number, generation: number): { recorded: boolean } {
    const service = this.primary?.epoch === epoch ? this.service_ : null;
    service?.settlements.departuresRecorded(generation);
    return { recorded: service !== null };
  }

  /** `primary-hint`: a cluster manager says a primary was just promoted at `address`. */
  primaryHint(address: string): boolean {
    return this.backup?.primaryAt(address) ?? false;
  }

  /** What a promotion check needs to know of this broker and how to ask the others. */
  private promotionPeers(): PromotionPeers {
    return {
      name: this.deps.config.name,
      meta: this.deps.store.meta(),
      corrupt: this.health.corrupt,
      others: (this.deps.config.ha.brokersUrl?.addresses ?? []).filter((a) => formatAddress(a) !== this.ownAddress),
      probe: this.deps.probe ?? null,
    };
  }

  /** `minEpoch`: the lowest epoch to take (a cluster manager reserved it). */
  private async becomePrimary(mode: RecoveryMode, minEpoch = 0): Promise<void> {
    const config = this.deps.config;
    // Backups that were ready under the previous primary: the new primary waits for them.
    const recovery = recoveryStep(RECOVERED, { kind: 'promoted', mode, self: config.name, members: this.members });
    const expected = awaited(recovery.state);
    const backup = this.backup;
    this.backup = null;
    await backup?.stop();
    const epoch = nextEpoch(Math.max(this.epochSeen, this.deps.store.meta().epoch, minEpoch - 1), this.ownIndex(), config.ha.brokersUrl?.addresses.length ?? 1);
    this.epochSeen = epoch;
    const ticket = this.deps.store.commit([{ kind: 'epoch', epoch, primary: config.name }]);
    await ticket.durable;
    crashPoint('ha.promote.after-epoch-write');
    this.setState('recovering');
    this.knownPrimary = null;
    this.deps.logger.info({ epoch, mode, expected }, 'promoted to primary; recovering');
    const service = this.serve(mode, false);
    const pauses = new ProducerPauses((reason) => service.broker.pauseProducers(reason));
    this.lease.attach({ settlements: service.settlements, pauses });
    this.primary = new PrimaryReplicator({
      store: this.deps.store,
      settlements: service.settlements,
      instruments: this.instruments,
      logger: this.deps.logger.child({ module: 'ha-primary' }),
      name: config.name,
      publicAddress: config.ha.publicUrl ? formatAddress(config.ha.publicUrl.addresses[0] as QpidAddress) : this.ownAddress,
      defaultReplicateLevel: config.ha.replicate,
      epoch,
      clock: this.deps.clock,
      confirmTimeoutMs: config.ha.confirmTimeoutMs,
      limits: config.ha.shipping,
      catchUp: {
        policy: { stallTimeoutMs: config.ha.catchUpStallTimeoutMs, share: config.ha.catchUpShare, periodMs: 1000, logAlarmBytes: config.storeLogMaxBytes / 2 },
        pauseProducers: (reason) => pauses.set('catch-up', reason),
      },
      promotedAfterTotalFailure: mode === 'local',
      clusterSize: config.ha.brokersUrl?.addresses.length ?? 1,
      totalFailureResync: config.ha.totalFailureResync,
      ...(this.deps.memberAddress ? { memberAddress: this.deps.memberAddress } : {}),
      onStale: (reason) => this.fenced(reason),
      onMembership: () => this.checkRecovered(),
    });
    this.recovery = recovery.state;
    for (const listener of this.primaryListeners) listener();
    this.startFencingProbe();
    this.applyRecovery(recovery.actions);
  }

  /** The recovery's decisions (recovery.ts): the --ha-backup-timeout timer, and activation. */
  private applyRecovery(actions: readonly RecoveryAction[]): void {
    for (const action of actions) {
      if (action.kind === 'arm-timer') this.recoveryTimer = this.deps.clock.setTimer(this.deps.config.ha.backupTimeoutMs, () => this.feedRecovery({ kind: 'timeout' }));
      else this.activate(action.reason);
    }
  }

  private feedRecovery(event: RecoveryEvent): void {
    const { state, actions } = recoveryStep(this.recovery, event);
    this.recovery = state;
    this.applyRecovery(actions);
  }

  /** Stops this primary when another broker of the URL turns out to be a primary of a higher
   * epoch (fencing-probe.ts). */
  private startFencingProbe(): void {
    const probe = this.deps.probe;
    if (!probe) return;
    this.fencing = new FencingProbe({
      clock: this.deps.clock,
      intervalMs: Math.max(this.deps.config.ha.linkHeartbeatIntervalMs, 200),
      brokers: this.deps.config.ha.brokersUrl?.addresses ?? [],
      ownAddress: this.ownAddress,
      ownStoreId: () => this.deps.store.meta().storeId,
      primary: () => (this.primary ? { epoch: this.primary.epoch, backupAddresses: new Set(this.primary.members().map((m) => m.address)) } : null),
      probe,
      fenced: (reason) => this.fenced(reason),
    });
  }

  private fencing: FencingProbe | null = null;

  /** This broker's position in ha-brokers-url, or -1. */
  private ownIndex(): number {
    return (this.deps.config.ha.brokersUrl?.addresses ?? []).findIndex((a) => formatAddress(a) === this.ownAddress);
  }

  private checkRecovered(): void {
    if (this.haState !== 'recovering' || !this.primary) return;
    this.feedRecovery({ kind: 'membership', ready: this.primary.readyBackups() });
  }

  private activate(reason: string): void {
    if (this.haState !== 'recovering') return;
    crashPoint('ha.promote.before-active');
    this.recoveryTimer?.cancel();
    this.recoveryTimer = null;
    this.setState('active');
    this.deps.logger.info({ reason }, 'primary active');
    this.service_?.settlements.setOpen(true);
  }

  /** A higher-epoch primary exists: this broker must stop serving at once (DESIGN.md §3). */
  private fenced(reason: string): void {
    this.deps.logger.fatal({ reason }, 'stale primary: a higher epoch exists; no longer serving clients');
    this.deps.server.setService(null);
    this.deps.server.dropConnections((_, role) => role === 'client');
    this.replicas.stop();
    this.primary?.stop();
    this.primary = null;
    this.service_?.settlements.close();
    this.service_ = null;
    this.fencing?.stop();
    this.lease.attach(null);
    this.fatal(new BrokerError('STALE_EPOCH', `stale primary: ${reason}`));
  }

  async stop(): Promise<void> {
    this.replicas.stop();
    this.recoveryTimer?.cancel();
    this.fencing?.stop();
    this.lease.stop();
    await this.backup?.stop();
    this.primary?.stop();
    this.heard.stop();
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1';
}
