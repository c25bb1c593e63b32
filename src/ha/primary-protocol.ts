// The primary's side of replication as a step function (STYLE.md 1): (state, event) → actions,
// with no I/O, timers or awaits. One session per connected backup: `hello`, a snapshot streamed
// from one read transaction (or, for an incremental catch-up, the backup's catalog), then the log
// from the store, then live as commits happen. When it has shipped everything up to the
// primary's LSN G at that moment, the backup enters the ack gate as having confirmed G (catching
// up never held producers back); once it confirms G it is `ready`, promotable.
//
// Ordering (persist, then ship, then settle): a record is shipped only after its commit is
// visible locally (the `committed` event, or a read of the store's log), and a producer is
// settled only by Settlements, once the local flush AND every gated backup's confirmation are in
// (ack-gate.ts). The gate actions this module returns are what feeds that rule; shipping before
// the local flush only saves latency, never settles early.
//
// `step` mutates the state it is given (as etcd-io/raft's Step does) and returns the actions in
// the order the driver (primary.ts) must carry them out. Everything the outside world knows
// (the store's positions, a link's credit, the time) comes in with the event.

import { assert } from '../core/assert.js';
import type { LogEntry, StoreRecord } from '../../store/index.js';
import { planCatchUp, type CatchUp } from './catch-up.js';
import type { CatchUpSample } from './catch-up-throttle.js';
import { QueueFilter, ReplicationFilter } from './filter.js';
import type { MemberInfo, PrimaryFrame } from './messages.js';
import { ShipLedger } from './ship-ledger.js';
import { frameLength } from './units.js';
import type { Capacities, CatalogFrame, LogLevel, PrimaryAction, PrimaryEvent, PrimaryState, SessionState } from './primary-protocol-types.js';

export * from './primary-protocol-types.js';

/** How often the driver ticks the confirmation check. Its period is what a hung backup can stall
 * producers beyond the timeout: a quarter of it let a 5 s timeout stall them 6.0 s, a tenth
 * 5.3 s (bench catch-up-cases). A check is a walk over the sessions, so every 20 ms costs nothing. */
export function confirmCheckPeriodMs(confirmTimeoutMs: number): number {
  return Math.max(5, Math.min(20, confirmTimeoutMs / 50));
}

export function approximateRecordBytes(record: StoreRecord): number {
  return record.kind === 'enqueue' ? record.body.byteLength + 64 : 64;
}

function approximateBytes(entry: LogEntry): number {
  return approximateRecordBytes(entry.record);
}

/** The step's context: the actions so far, and each link's credit as it is spent. */
class Out {
  readonly actions: PrimaryAction[] = [];
  private readonly spent = new Map<string, number>();

  constructor(
    readonly state: PrimaryState,
    private readonly capacities: Capacities,
    /** The event's time (monotonic ms): when what is shipped now went out. */
    readonly nowMs: number,
  ) {}

  emit(action: PrimaryAction): void {
    this.actions.push(action);
  }

  log(level: LogLevel, fields: Record<string, unknown>, msg: string): void {
    this.actions.push({ kind: 'log', level, fields, msg });
  }

  capacity(linkId: string): number {
    return (this.capacities[linkId] ?? 0) - (this.spent.get(linkId) ?? 0);
  }

  send(session: SessionState, frame: PrimaryFrame): void {
    this.spent.set(session.linkId, (this.spent.get(session.linkId) ?? 0) + 1);
    this.actions.push({ kind: 'send', linkId: session.linkId, frame });
  }

  get epoch(): number {
    return this.state.config.epoch;
  }
}

export function step(state: PrimaryState, event: PrimaryEvent): PrimaryAction[] {
  const out = new Out(state, 'capacities' in event ? event.capacities : {}, 'nowMs' in event ? event.nowMs : 0);
  const session = 'linkId' in event ? state.sessions.get(event.linkId) : undefined;
  switch (event.kind) {
    case 'join':
      join(out, event);
      break;
    case 'catalog':
      if (!session || session.phase !== 'catalog' || event.frame.lsn !== session.nextLsn - 1) {
        if (session) drop(out, session, `unexpected catalog frame (phase ${session.phase}, LSN ${event.frame.lsn})`);
        break;
      }
      startBacklog(out, session, event.frame);
      break;
    case 'confirm':
      if (session) confirm(out, session, event.lsn);
      break;
    case 'writable':
      if (!session) break;
      // A frame budget starts over after a wait for credit (the wait let other I/O run).
      if (session.creditWait) session.framesThisTurn = 0;
      session.creditWait = false;
      advance(out, session);
      break;
    case 'lost':
      if (session) drop(out, session, event.reason);
      break;
    case 'committed':
      committed(out, event.entries);
      break;
    case 'snapshot-opened':
      if (!session || session.awaiting !== 'snapshot-open') break;
      session.awaiting = 'none';
      session.snapshotLsn = event.lsn;
      updateRetention(out);
      // The begin frame carries the view's identity; it waits for credit like any other.
      session.snapshotBegin = { lsn: event.lsn, lastMessageId: event.lastMessageId, epochHistory: event.epochHistory };
      advance(out, session);
      break;
    case 'snapshot-read':
      if (!session || session.awaiting !== 'snapshot-read') break;
      session.awaiting = 'none';
      for (const record of event.records) {
        const kept = session.filter.filter(record);
        if (kept) session.snapshotBatch.push(kept);
      }
      session.snapshotLastPositions = event.lastPositions;
      advance(out, session);
      break;
    case 'log-read':
      if (!session || session.awaiting !== 'log-read') break;
      session.awaiting = 'none';
      if (event.entries.length === 0) {
        if (session.nextLsn > event.lastLsn) goLive(out, session, event.lastLsn);
        else drop(out, session, `replication failed: the log from LSN ${session.nextLsn} read as empty up to ${event.lastLsn}`);
      } else {
        session.backlog = event.entries;
        advance(out, session);
      }
      break;
    case 'read-failed':
      if (!session) break;
      if (event.truncated) drop(out, session, 'fell behind the retained log; it will resync from a snapshot');
      else {
        out.log('error', { err: event.error, backup: session.name }, 'replication to backup failed');
        drop(out, session, `replication failed: ${event.error}`);
      }
      break;
    case 'turn':
      if (!session || session.awaiting !== 'turn') break;
      session.awaiting = 'none';
      advance(out, session);
      break;
    case 'tick':
      checkConfirmations(out, event.nowMs);
      break;
    case 'stop':
      state.stopped = true;
      for (const s of [...state.sessions.values()]) drop(out, s, 'primary stopping');
      break;
  }
  return out.actions;
}

function join(out: Out, event: Extract<PrimaryEvent, { kind: 'join' }>): void {
  const { state } = out;
  const { config } = state;
  const { join: j, linkId } = event;
  const close = (reason: string): void => out.emit({ kind: 'close', linkId, reason });
  if (state.stopped) return close('primary is stopping');
  const replicaOf = j.queue ?? null;
  if (replicaOf === null && !config.acceptBackups) return close(`${config.name} is not a cluster primary: only replica queues may follow it`);
  if (replicaOf === null && !event.member) {
    out.log('warn', { backup: j.name, peer: event.remoteAddress }, 'replication join refused: the peer is not a host of --ha-brokers-url');
    return close(`${event.remoteAddress} is not a member of this cluster (--ha-brokers-url)`);
  }
  for (const existing of state.sessions.values()) {
    // The same name from another store is another broker (or an impostor): two backups under
    // one name would take turns replacing each other in the gate forever.
    if (existing.name === j.name && existing.replicaOf === replicaOf && existing.storeId !== j.storeId) {
      out.log('warn', { backup: j.name, peer: event.remoteAddress, storeId: j.storeId, connectedStoreId: existing.storeId }, 'replication join refused: a connected backup has that name');
      return close(`a backup named ${j.name} (store ${existing.storeId}) is already connected`);
    }
  }
  if (replicaOf === null && j.epochSeen > config.epoch) {
    close(`stale primary: backup ${j.name} has seen epoch ${j.epochSeen} > ${config.epoch}`);
    out.emit({ kind: 'stale', reason: `backup ${j.name} has seen epoch ${j.epochSeen}, ours is ${config.epoch}` });
    return;
  }
  for (const existing of [...state.sessions.values()]) {
    if (existing.name === j.name && existing.replicaOf === replicaOf) drop(out, existing, 'replaced by a new connection from the same backup');
  }
  const store = event.store;
  // A replica queue copies one queue, not the log: it always starts from a snapshot.
  const catchUp: CatchUp =
    replicaOf !== null
      ? { kind: 'snapshot', reason: 'a replica queue starts from a snapshot of its queue' }
      : planCatchUp(
          { epochHistory: store.epochHistory, lastLsn: store.lastLsn, firstLsn: store.firstLsn, epoch: config.epoch, promotedAfterTotalFailure: config.promotedAfterTotalFailure },
          { epochHistory: j.epochHistory ?? [], lastLsn: j.lastLsn ?? 0, snapshotIncomplete: j.snapshotIncomplete ?? false, resync: j.resync ?? null },
          config.totalFailureResync,
        );
  // Nothing to take back: the join's catalog is the one the backup would send after the hello.
  const joinCatalog = catchUp.kind === 'incremental' && j.catalog !== undefined && catchUp.fromLsn === (j.lastLsn ?? 0) ? j.catalog : null;
  const session: SessionState = {
    linkId,
    name: j.name,
    storeId: j.storeId,
    address: j.address,
    filter: replicaOf === null ? new ReplicationFilter(config.defaultReplicateLevel) : new QueueFilter(replicaOf),
    replicaOf,
    phase: 'snapshot',
    awaiting: 'none',
    nextLsn: 0,
    snapshotLsn: store.lastLsn,
    confirmedLsn: 0,
    gateLsn: null,
    catchUp,
    shippedBytes: 0,
    logBytesWritten: 0,
    logBytesPassed: 0,
    ledger: new ShipLedger(),
    state: 'catchup',
    unconfirmed: null,
    pending: [],
    pendingBytes: 0,
    joinCatalog,
    snapshotBegin: null,
    snapshotBegun: false,
    snapshotBatch: [],
    snapshotLastPositions: null,
    backlog: null,
    framesThisTurn: 0,
    creditWait: false,
  };
  state.sessions.set(linkId, session);
  if (replicaOf === null) out.emit({ kind: 'catch-up-started' });
  out.log('info', { backup: j.name, address: j.address, catchUp, backupLsn: j.lastLsn ?? 0, ...(replicaOf !== null ? { replicaOf } : {}) }, replicaOf === null ? 'backup joined; catch-up starts' : 'replica queue joined; catch-up starts');
  out.send(session, { kind: 'hello', epoch: config.epoch, name: config.name, storeId: store.storeId, publicAddress: config.publicAddress, lastLsn: store.lastLsn, epochHistory: store.epochHistory, catchUp, ...(joinCatalog ? { catalogFromJoin: true } : {}) });
  updateRetention(out);
  if (replicaOf === null) out.emit({ kind: 'membership' });
  if (catchUp.kind === 'incremental') {
    // The backup takes its log back to fromLsn (or already ends there), says what it holds
    // (the filter starts from that), and the log follows from fromLsn + 1.
    session.nextLsn = catchUp.fromLsn + 1;
    session.confirmedLsn = catchUp.fromLsn;
    session.phase = 'catalog';
    updateRetention(out);
    if (joinCatalog) startBacklog(out, session, joinCatalog);
    else session.awaiting = 'catalog';
    return;
  }
  // The snapshot: one read transaction (opened now, at the LSN of this join), streamed in
  // batches as credit allows.
  session.awaiting = 'snapshot-open';
  out.emit({ kind: 'open-snapshot', linkId });
}

function startBacklog(out: Out, session: SessionState, catalog: Pick<CatalogFrame, 'queues' | 'exchanges'>): void {
  session.awaiting = 'none';
  if (session.filter instanceof ReplicationFilter) session.filter.seed(catalog.queues, catalog.exchanges);
  session.phase = 'backlog';
  advance(out, session);
}

/** Sends what the session can send now, and asks for what it needs next: a store read, a turn
 * given to other I/O (a few catch-up frames per turn, --ha-catchup-frames-per-turn), or credit
 * (the `writable` event). Reading the store never waits for I/O, so without the yield a long
 * catch-up starves heartbeats and client traffic; with one frame a turn it loses to busy
 * producers, whose every socket read is a turn of its own, and never converges (bench
 * catch-up-cases: 5k LSN/s shipped against 13k/s written under 4+4 unthrottled). */
function advance(out: Out, session: SessionState): void {
  const { limits } = out.state.config;
  for (;;) {
    if (session.awaiting !== 'none') return;
    switch (session.phase) {
      case 'catalog':
      case 'closed':
        return;
      case 'live':
        flushLive(out, session);
        return;
      case 'snapshot': {
        const begin = session.snapshotBegin;
        if (begin === null) return;
        if (out.capacity(session.linkId) <= 0) {
          session.creditWait = true;
          return;
        }
        if (!session.snapshotBegun) {
          out.send(session, { kind: 'snapshot-begin', epoch: out.epoch, lsn: begin.lsn, lastMessageId: begin.lastMessageId, epochHistory: begin.epochHistory });
          session.snapshotBegun = true;
          continue;
        }
        if (session.snapshotBatch.length >= limits.snapshotBatchRecords) {
          const records = session.snapshotBatch.splice(0, limits.snapshotBatchRecords);
          out.send(session, { kind: 'snapshot-records', epoch: out.epoch, records });
          for (const record of records) session.shippedBytes += approximateRecordBytes(record);
          if (yielded(out, session)) return;
          continue;
        }
        if (session.snapshotLastPositions === null) {
          session.awaiting = 'snapshot-read';
          out.emit({ kind: 'read-snapshot', linkId: session.linkId, maxRecords: limits.snapshotBatchRecords - session.snapshotBatch.length });
          return;
        }
        endSnapshot(out, session, session.snapshotLastPositions);
        continue;
      }
      case 'backlog': {
        const entries = session.backlog;
        if (entries === null) {
          session.awaiting = 'log-read';
          out.emit({ kind: 'read-log', linkId: session.linkId, fromLsn: session.nextLsn, maxEntries: limits.logBatchEntries });
          return;
        }
        if (out.capacity(session.linkId) <= 0) {
          session.creditWait = true;
          return;
        }
        session.backlog = null;
        sendEntries(out, session, entries);
        if (yielded(out, session)) return;
        continue;
      }
    }
  }
}

function yielded(out: Out, session: SessionState): boolean {
  if (++session.framesThisTurn < out.state.config.limits.catchUpFramesPerTurn) return false;
  session.framesThisTurn = 0;
  session.awaiting = 'turn';
  out.emit({ kind: 'yield', linkId: session.linkId });
  return true;
}

function endSnapshot(out: Out, session: SessionState, snapshotPositions: Readonly<Record<string, number>>): void {
  if (session.snapshotBatch.length > 0) {
    const records = session.snapshotBatch;
    session.snapshotBatch = [];
    out.send(session, { kind: 'snapshot-records', epoch: out.epoch, records });
    for (const record of records) session.shippedBytes += approximateRecordBytes(record);
  }
  // Positions continue where the primary's do, even on queues whose messages are all gone.
  const filter = session.filter;
  const held = (queue: string): boolean => (filter instanceof ReplicationFilter ? filter.queueLevel(queue) !== 'none' : queue === filter.queue);
  const lastPositions = Object.fromEntries(Object.entries(snapshotPositions).filter(([queue]) => held(queue)));
  out.send(session, { kind: 'snapshot-end', epoch: out.epoch, lastPositions });
  out.emit({ kind: 'close-snapshot', linkId: session.linkId });
  session.snapshotBegin = null;
  session.snapshotLastPositions = null;
  session.nextLsn = session.snapshotLsn + 1;
  session.phase = 'backlog';
  session.framesThisTurn = 0;
  out.log('info', { backup: session.name, lsn: session.snapshotLsn }, 'snapshot sent; shipping the log');
}

function sendEntries(out: Out, session: SessionState, entries: readonly LogEntry[]): void {
  const { nowMs } = out;
  if (entries.length === 0) return;
  const first = entries[0] as LogEntry;
  assert(first.lsn === session.nextLsn, `replication to ${session.name}: shipping LSN ${first.lsn}, expected ${session.nextLsn}`);
  const last = entries[entries.length - 1] as LogEntry;
  session.nextLsn = (last.record.kind === 'skip' ? last.record.lastLsn : last.lsn) + 1;
  if (session.gateLsn !== null && session.unconfirmed === null && out.state.config.confirmTimeoutMs !== null) session.unconfirmed = { lsn: session.nextLsn - 1, sinceMs: nowMs };
  if (session.phase === 'backlog') for (const entry of entries) session.logBytesPassed += approximateBytes(entry);
  const shipped = session.filter.filterEntries(entries);
  let bytes = 0;
  for (const entry of shipped) bytes += approximateBytes(entry);
  session.shippedBytes += bytes;
  session.ledger.shipped(session.nextLsn - 1, bytes, nowMs);
  out.send(session, { kind: 'log', epoch: out.epoch, entries: shipped });
  if (session.gateLsn !== null) out.emit({ kind: 'shipped-to-gate' });
}

function goLive(out: Out, session: SessionState, gateLsn: number): void {
  session.phase = 'live';
  if (session.gateLsn === null && session.replicaOf === null) {
    session.gateLsn = gateLsn;
    // Enter the gate at G: only commits after G wait for this backup, and toward
    // --ha-min-backups it counts for what it has confirmed, not for what it was shipped.
    out.emit({ kind: 'gate-add', backup: session.name, gateLsn, confirmedLsn: session.confirmedLsn });
    out.log('info', { backup: session.name, gateLsn }, 'backup entered the ack gate');
    // An incremental catch-up that had nothing to ship confirmed gateLsn already.
    readyIfCaughtUp(out, session);
  }
  flushLive(out, session);
}

function committed(out: Out, entries: readonly LogEntry[]): void {
  const { limits } = out.state.config;
  // Sized once per commit, and only while a backup catches up: the hot path pays nothing.
  let bytes = -1;
  for (const session of out.state.sessions.values()) {
    if (session.phase === 'closed') continue;
    if (session.phase !== 'live') {
      if (bytes < 0) bytes = entries.reduce((n, entry) => n + approximateBytes(entry), 0);
      session.logBytesWritten += bytes;
      continue;
    }
    for (const entry of entries) {
      if (entry.lsn < session.nextLsn + session.pending.length) continue;
      session.pending.push(entry);
      session.pendingBytes += approximateBytes(entry);
    }
    if (session.pending.length > limits.livePendingEntriesMax || session.pendingBytes > limits.livePendingBytesMax) {
      // The backup cannot keep up live: read from the store instead of holding it all.
      out.log('warn', { backup: session.name, pending: session.pending.length }, 'backup fell behind the live log; shipping from the store');
      backToBacklog(out, session);
      continue;
    }
    flushLive(out, session);
  }
}

function backToBacklog(out: Out, session: SessionState): void {
  session.pending = [];
  session.pendingBytes = 0;
  session.phase = 'backlog';
  session.framesThisTurn = 0;
  advance(out, session);
}

function flushLive(out: Out, session: SessionState): void {
  const { limits } = out.state.config;
  while (session.phase === 'live' && session.pending.length > 0 && out.capacity(session.linkId) > 0) {
    const batch = session.pending.splice(0, frameLength(session.pending, limits.logBatchEntries));
    for (const entry of batch) session.pendingBytes -= approximateBytes(entry);
    if ((batch[0] as LogEntry).lsn !== session.nextLsn) {
      // A gap between what was read and what arrived live: fall back to the store.
      backToBacklog(out, session);
      return;
    }
    sendEntries(out, session, batch);
  }
}

function confirm(out: Out, session: SessionState, lsn: number): void {
  const { nowMs } = out;
  if (lsn <= session.confirmedLsn) return;
  session.confirmedLsn = lsn;
  session.ledger.confirmed(lsn, nowMs, (ms) => out.emit({ kind: 'confirm-latency', backup: session.name, ms }));
  if (session.unconfirmed !== null && lsn >= session.unconfirmed.lsn) {
    const shipped = session.nextLsn - 1;
    // What waits now was shipped after what was just confirmed: it has waited since its own
    // batch went out (the ledger's oldest), not since this confirmation. Counting from the
    // confirmation let a hung backup stall producers the timeout plus its confirm latency.
    session.unconfirmed = shipped > lsn ? { lsn: shipped, sinceMs: nowMs - session.ledger.oldestUnconfirmedMs(nowMs) } : null;
  }
  if (session.gateLsn !== null) out.emit({ kind: 'gate-confirm', backup: session.name, lsn });
  readyIfCaughtUp(out, session);
  updateRetention(out);
}

/** In the gate and holding everything up to where it entered it: the backup is ready. */
function readyIfCaughtUp(out: Out, session: SessionState): void {
  if (session.state !== 'catchup' || session.gateLsn === null || session.confirmedLsn < session.gateLsn) return;
  session.state = 'ready';
  out.log('info', { backup: session.name, lsn: session.confirmedLsn }, 'backup ready');
  broadcastState(out);
  out.emit({ kind: 'membership' });
}

/** Drops from the gate every backup that has left a shipped LSN unconfirmed for too long. The
 * backup is told first (a state frame saying it is catching up), so that it does not go on
 * calling itself ready: it may lack what is settled without it. */
function checkConfirmations(out: Out, nowMs: number): void {
  const timeoutMs = out.state.config.confirmTimeoutMs;
  if (timeoutMs === null) return;
  for (const session of backupSessions(out.state)) {
    const waiting = session.unconfirmed;
    if (session.gateLsn === null || waiting === null || nowMs - waiting.sinceMs <= timeoutMs) continue;
    out.log('warn', { backup: session.name, lsn: waiting.lsn, confirmedLsn: session.confirmedLsn, waitedMs: Math.round(nowMs - waiting.sinceMs) }, 'backup did not confirm within --ha-confirm-timeout; it leaves the ack gate');
    out.send(session, { kind: 'state', epoch: out.epoch, state: 'catchup', members: members(out.state) });
    drop(out, session, `no confirmation of LSN ${waiting.lsn} within --ha-confirm-timeout (${timeoutMs} ms): left the ack gate`);
  }
}

function drop(out: Out, session: SessionState, reason: string): void {
  if (session.phase === 'closed') return;
  const { state } = out;
  if (session.snapshotBegin !== null || session.awaiting === 'snapshot-open' || session.awaiting === 'snapshot-read') out.emit({ kind: 'close-snapshot', linkId: session.linkId });
  session.phase = 'closed';
  session.awaiting = 'none';
  state.sessions.delete(session.linkId);
  out.emit({ kind: 'close', linkId: session.linkId, reason });
  updateRetention(out);
  if (session.replicaOf !== null) {
    out.log('info', { replica: session.name, queue: session.replicaOf, reason }, 'replica queue left');
    return;
  }
  out.emit({ kind: 'gate-remove', backup: session.name, wasReady: session.state === 'ready' });
  out.log('warn', { backup: session.name, reason }, 'backup left');
  broadcastState(out);
  out.emit({ kind: 'membership' });
}

/** Tells every backup its state and the membership (backups keep it so that a promoted one
 * knows which brokers to expect while it recovers). */
function broadcastState(out: Out): void {
  const list = members(out.state);
  for (const session of backupSessions(out.state)) out.send(session, { kind: 'state', epoch: out.epoch, state: session.state, members: list });
}

/** The log must keep what every broker of the cluster may still need to come back by the
 * delta (DESIGN.md §2: until every known backup has it, within --store-log-max-bytes, which
 * always wins): it is cut early only while every other broker is connected, to what they all
 * have. Undo (what this store would take back if it were demoted) is needed only above what
 * every backup in the gate has confirmed. */
function updateRetention(out: Out): void {
  const { state } = out;
  let floor: number | null = null;
  let undoFloor: number | null = null;
  for (const session of state.sessions.values()) {
    const needed = session.phase === 'snapshot' ? session.snapshotLsn + 1 : Math.min(session.nextLsn, session.confirmedLsn + 1);
    floor = floor === null ? needed : Math.min(floor, needed);
    if (session.replicaOf === null && session.gateLsn !== null) undoFloor = undoFloor === null ? session.confirmedLsn : Math.min(undoFloor, session.confirmedLsn);
  }
  const { clusterSize } = state.config;
  if (clusterSize !== null && backupSessions(state).length < clusterSize - 1) floor = null;
  out.emit({ kind: 'retention', floor, undoFloor });
}

// --- Queries (what status, metrics and the catch-up governor read) ---

export function backupSessions(state: PrimaryState): SessionState[] {
  return [...state.sessions.values()].filter((s) => s.replicaOf === null);
}

export function members(state: PrimaryState): MemberInfo[] {
  return backupSessions(state).map((s) => ({ name: s.name, state: s.state, address: s.address, confirmedLsn: s.confirmedLsn, catchUp: s.catchUp, shippedBytes: s.shippedBytes }));
}

/** The backups still catching up, for the governor. */
export function catchUpSamples(state: PrimaryState, lastLsn: number, logBytes: number): CatchUpSample[] {
  // The log written since the join that the backup has not yet been sent. An incremental
  // catch-up also needs the log from its divergence point to the join, which is not counted:
  // that part is what the primary had already kept, and it is usually small.
  const needed = (s: SessionState): number => Math.min(logBytes, Math.max(0, s.logBytesWritten - s.logBytesPassed));
  return backupSessions(state)
    .filter((s) => s.phase === 'catalog' || s.phase === 'snapshot' || s.phase === 'backlog')
    .map((s) => ({ name: s.name, snapshot: s.phase === 'snapshot', lag: Math.max(0, lastLsn - s.confirmedLsn), shippedBytes: s.shippedBytes, retainedLogBytes: needed(s) }));
}
