// The backup's side of replication as a step function (STYLE.md 1; DESIGN.md §3-4): find the
// primary by trying each address of --ha-brokers-url, join, wipe the store or take its log back
// to the divergence point, apply the snapshot and then the log with the primary's LSNs, and
// confirm the highest LSN that is durable. (state, event) → actions, with no I/O, timers or
// awaits: the store's view, the time and the results of store operations come in with the
// events; connections, sends, store operations and timers go out as actions, in the order the
// driver (backup.ts) must carry them out. Store operations run one after another on one chain
// in the driver, across connections, so a new primary's wipe never overtakes the previous one's
// last apply; the protocol asks for at most one at a time per frame.
//
// Fencing: a primary whose epoch is below the highest this backup has seen is refused, and
// every frame must carry the epoch its primary announced. Confirmations follow durability, so
// the primary never counts as held what a crash here would take back.
//
// `step` mutates the state it is given (as etcd-io/raft's Step does) and returns the actions.

import { historyConflict } from '../../store/index.js';
import { formatAddress, type QpidAddress } from '../core/qpid-url.js';
import type { Heard } from './heard.js';
import { RESYNC_REASON_CHARS_MAX, type PrimaryFrame } from './messages.js';
import type { BackupAction, BackupEvent, BackupProtocolState, BackupState, ChannelClosed, LogLevel, StoreOp, StoreView } from './backup-protocol-types.js';

export * from './backup-protocol-types.js';

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

class Out {
  readonly actions: BackupAction[] = [];
  constructor(
    readonly s: BackupProtocolState,
    /** The event's time (monotonic ms). */
    readonly nowMs: number,
  ) {}
  emit(action: BackupAction): void {
    this.actions.push(action);
  }
  log(level: LogLevel, fields: Record<string, unknown>, msg: string): void {
    this.actions.push({ kind: 'log', level, fields, msg });
  }
  store(op: StoreOp): void {
    this.actions.push({ kind: 'store', generation: this.s.generation, op });
  }
}

/** The watchdog's period: a quarter of the heartbeat. */
export function watchdogPeriodMs(heartbeatMs: number): number {
  return Math.max(5, heartbeatMs / 4);
}

/** Whether a cluster manager's hint is taken: not while this backup has a primary, and never
 * for an address outside --ha-brokers-url (a hint is no way to point a backup at a stranger). */
export function acceptsHint(s: BackupProtocolState, address: string): boolean {
  if (s.stopped || s.primary) return false;
  return s.config.addresses.some((a) => formatAddress(a) === address) && !s.selfAddresses.has(address);
}

export function step(s: BackupProtocolState, event: BackupEvent): BackupAction[] {
  const out = new Out(s, 'nowMs' in event ? event.nowMs : 0);
  const current = 'generation' in event ? event.generation === s.generation : true;
  switch (event.kind) {
    case 'start':
      schedule(out, 0);
      break;
    case 'attempt':
      attempt(out);
      break;
    case 'opened':
      if (!current) break;
      s.authRefusal = null;
      s.authRefusalsLogged.clear();
      s.longestStallMs = 0;
      s.lastTickMs = event.nowMs;
      out.emit({ kind: 'watchdog-start', periodMs: watchdogPeriodMs(s.config.heartbeatMs) });
      // Once every store operation of an earlier connection has finished, and what it applied
      // is durable: the join says where the log ends, and the primary plans the catch-up from
      // that and counts it as confirmed (a join sent while frames were still on their way to
      // the disk had the primary settle what a crash would take back: found by the simulator,
      // seed 449, with the backups' disks slowed).
      out.emit({ kind: 'join-when-settled', generation: s.generation });
      break;
    case 'join-ready': {
      if (!current) break;
      const { store } = event;
      out.emit({
        kind: 'send',
        frame: {
          kind: 'join',
          epoch: event.epochSeen,
          name: s.config.name,
          storeId: store.storeId,
          address: s.config.selfAddress,
          epochSeen: event.epochSeen,
          lastLsn: store.lastLsn,
          epochHistory: store.epochHistory,
          snapshotIncomplete: store.snapshotIncomplete,
          ...(s.resyncReason !== null ? { resync: s.resyncReason.slice(0, RESYNC_REASON_CHARS_MAX) } : {}),
          ...(store.lastLsn > 0 && !store.snapshotIncomplete ? { catalog: event.catalog } : {}),
        },
      });
      break;
    }
    case 'frame-arrived':
      // Traffic well after a stall shows the primary kept us (it would have closed the link).
      if (current && event.nowMs - s.stallNoticedAtMs > stallGraceMs(s)) s.longestStallMs = 0;
      break;
    case 'frame':
      if (current) frame(out, event.frame, event.store, event.epochSeen);
      break;
    case 'store-done':
      if (current) storeDone(out, event.op, event.lastLsn);
      break;
    case 'truncate-refused':
      if (!current) break;
      out.log('warn', { primary: s.truncation?.name, divergence: s.truncation?.lsn, lastLsn: s.truncation?.before, err: event.error }, 'cannot take the log back to the divergence point; wiping the store to resync from a snapshot');
      s.truncation = null;
      s.wipeThenDrop = 'store wiped to resync from a snapshot';
      out.store({ kind: 'wipe' });
      break;
    case 'failed':
      if (current) failed(out, event.code, event.error);
      break;
    case 'durable':
      if (!current) break;
      out.emit({ kind: 'crash-point', name: 'ha.backup.after-apply-before-confirm' });
      confirm(out, event.lastLsn);
      break;
    case 'closed':
      if (current) disconnected(out, event.reason, false);
      break;
    case 'watchdog': {
      const periodMs = watchdogPeriodMs(s.config.heartbeatMs);
      const lateMs = event.nowMs - s.lastTickMs - periodMs;
      if (lateMs > periodMs) s.stallNoticedAtMs = event.nowMs;
      s.longestStallMs = Math.max(s.longestStallMs, lateMs);
      s.lastTickMs = event.nowMs;
      break;
    }
    case 'hint':
      hint(out, event.address);
      break;
    case 'resync':
      resync(out, event.reason);
      break;
    case 'stop':
      s.stopped = true;
      s.generation++;
      out.emit({ kind: 'cancel-timer' });
      out.emit({ kind: 'watchdog-stop' });
      if (s.channel) out.emit({ kind: 'drop-channel', close: true });
      s.channel = false;
      break;
  }
  return out.actions;
}

function schedule(out: Out, delayMs: number): void {
  if (out.s.stopped) return;
  out.emit({ kind: 'set-timer', delayMs });
}

function stallGraceMs(s: BackupProtocolState): number {
  return Math.max(50, s.config.heartbeatMs / 2);
}

/** The hinted address while its window lasts. */
function hintedAddress(s: BackupProtocolState, nowMs: number): QpidAddress | null {
  if (s.hinted && nowMs >= s.hinted.untilMs) s.hinted = null;
  return s.hinted?.address ?? null;
}

function nextAddress(s: BackupProtocolState, nowMs: number): QpidAddress | null {
  const all = s.config.addresses;
  if (s.preferred) {
    const preferred = all.find((a) => formatAddress(a) === s.preferred) ?? parseHostPort(s.preferred);
    s.preferred = null;
    if (preferred && !s.selfAddresses.has(formatAddress(preferred))) return preferred;
  }
  const hinted = hintedAddress(s, nowMs);
  if (hinted) return hinted;
  for (let i = 0; i < all.length; i++) {
    const candidate = all[(s.nextAddressIndex + i) % all.length] as QpidAddress;
    if (s.selfAddresses.has(formatAddress(candidate))) continue;
    s.nextAddressIndex = (s.nextAddressIndex + i + 1) % all.length;
    return candidate;
  }
  return null;
}

function attempt(out: Out): void {
  const { s, nowMs } = out;
  if (s.stopped || s.channel) return;
  const address = nextAddress(s, nowMs);
  if (!address) {
    schedule(out, s.config.maintenanceIntervalMs);
    return;
  }
  const generation = ++s.generation;
  const target = formatAddress(address);
  s.connectedTo = target;
  const hinted = hintedAddress(s, nowMs);
  const expectPromotion = hinted !== null && formatAddress(hinted) === target;
  out.log('debug', { address: target, expectPromotion }, 'looking for the primary');
  s.channel = true;
  out.emit({ kind: 'connect', generation, address, expectPromotion });
}

function hint(out: Out, address: string): void {
  const { s, nowMs } = out;
  if (!acceptsHint(s, address)) return;
  const known = s.config.addresses.find((a) => formatAddress(a) === address) as QpidAddress;
  s.hinted = { address: known, untilMs: nowMs + HINT_WINDOW_MS };
  if (s.channel && s.connectedTo !== address) {
    // A join waiting elsewhere (held by an earlier hint's broker, whose promotion failed, or
    // refused there on its way): the hint wins.
    disconnected(out, { kind: 'refused', description: `the cluster manager points at ${address} now` }, true);
    return;
  }
  if (!s.channel) schedule(out, 0);
}

/** A primary position as announced on this connection (heard.ts). */
function heardOf(s: BackupProtocolState, epoch: number, lsn: number): Heard {
  return s.connectedTo ? { epoch, lsn, primary: s.connectedTo } : { epoch, lsn };
}

function setState(out: Out, state: BackupState): void {
  if (out.s.state === state) return;
  out.s.state = state;
  out.emit({ kind: 'state', state });
}

/** The connection ended (it closed, or we end it: `close`). A ready backup frozen for longer
 * than the heartbeat or the confirm timeout may have been dropped from the primary's gate
 * without knowing it, so it is no longer ready. */
function disconnected(out: Out, reason: ChannelClosed, close: boolean): void {
  const { s, nowMs } = out;
  const { config } = s;
  if (s.channel) out.emit({ kind: 'drop-channel', close });
  s.channel = false;
  s.generation++;
  out.emit({ kind: 'watchdog-stop' });
  const stalledMs = Math.max(s.longestStallMs, nowMs - s.lastTickMs - watchdogPeriodMs(config.heartbeatMs));
  const stallLimitMs = config.confirmTimeoutMs > 0 ? Math.min(config.heartbeatMs, config.confirmTimeoutMs) : config.heartbeatMs;
  if (s.state === 'ready' && s.primary !== null && stalledMs > stallLimitMs) {
    out.log('warn', { stalledMs: Math.round(stalledMs), stallLimitMs }, 'this broker was not running for longer than a heartbeat or the confirm timeout: the primary may have dropped it from the ack gate; no longer ready');
    setState(out, 'catchup');
  }
  const identityRefused = reason.kind === 'refused' && reason.description.includes('amqp:unauthorized-access');
  if (identityRefused) {
    const refusal = `${s.connectedTo ?? '?'}: ${reason.description}`;
    s.authRefusal = refusal;
    if (!s.authRefusalsLogged.has(refusal)) {
      s.authRefusalsLogged.add(refusal);
      out.log('error', { address: s.connectedTo, reason: reason.description }, "refused as the HA identity (check --ha-username, --ha-password, --ha-mechanism and the primary's ACL); still joining");
    }
  }
  if (s.primary !== null) {
    s.seekUntilMs = nowMs + SEEK_WINDOW_MS;
    out.log('warn', { primary: s.primary.name, reason }, 'lost the primary');
    s.primary = null;
    out.emit({ kind: 'primary', primary: null });
  }
  // A ready backup stays ready: it holds everything the lost primary acknowledged and is
  // what the cluster manager promotes. A catching-up one is back to joining.
  if (s.state === 'catchup') setState(out, 'joining');
  if (reason.kind === 'redirect') {
    s.preferred = reason.address;
    return schedule(out, 0);
  }
  // A hint from the cluster manager arrived during the failed attempt: follow it now.
  if (s.preferred !== null && !identityRefused) return schedule(out, 0);
  // Refused for who we are: retrying at once would not change that, and each failed login
  // counts against this host in the primary's rate limit (which its tools share).
  if (identityRefused) schedule(out, Math.max(config.maintenanceIntervalMs, IDENTITY_RETRY_MS));
  else if (hintedAddress(s, nowMs)) schedule(out, HINT_RETRY_MS);
  else schedule(out, nowMs < s.seekUntilMs ? Math.min(SEEK_INTERVAL_MS, config.maintenanceIntervalMs) : config.maintenanceIntervalMs);
}

/** This store cannot be trusted to hold what the primary settled (a full disk failed an apply,
 * or corruption was found in it): leave the gate now, so that producers do not wait for us,
 * and catch up again from the primary with a full snapshot, which the next join asks for (an
 * incremental catch-up would keep what is corrupt, and replay onto a full disk every body
 * enqueued since, consumed or not). Issue 16. */
function resync(out: Out, reason: string): void {
  const { s } = out;
  if (s.stopped) return;
  s.resyncReason = reason;
  out.log('warn', { reason, primary: s.primary?.name ?? null }, 'leaving the ack gate to catch up again');
  if (s.state === 'ready') setState(out, 'catchup');
  if (s.channel) disconnected(out, { kind: 'refused', description: reason }, true);
}

/** A frame's handling failed: a store that cannot be trusted resyncs; a frame out of order,
 * duplicated or from a stale primary is the link's fault, not the store's (the connection goes,
 * and the next one starts over); anything else is fatal. */
function failed(out: Out, code: string | null, error: string): void {
  if (code === 'STORE_FULL' || code === 'STORE_CORRUPT') {
    resync(out, code === 'STORE_FULL' ? `store full: ${error}` : `store corrupt: ${error}`);
    return;
  }
  if (code === 'HA_PROTOCOL' || code === 'STALE_EPOCH' || code === 'STORE_LSN_GAP') {
    out.log('warn', { err: error }, 'replication connection dropped');
    disconnected(out, { kind: 'refused', description: error }, true);
    return;
  }
  out.log('fatal', { err: error }, 'store failure while replicating');
  out.emit({ kind: 'fatal', error });
}

function frame(out: Out, f: PrimaryFrame, store: StoreView, epochSeen: number): void {
  const { s } = out;
  if (f.kind === 'hello') return hello(out, f, store, epochSeen);
  const primary = s.primary;
  if (!primary || f.epoch !== primary.epoch) {
    return failed(out, 'STALE_EPOCH', `replication frame ${f.kind} with epoch ${f.epoch} from a primary of epoch ${primary?.epoch ?? 'none'}`);
  }
  switch (f.kind) {
    case 'snapshot-begin':
      out.store({ kind: 'begin-snapshot', lsn: f.lsn, epoch: Math.max(f.epoch, store.epoch), lastMessageId: f.lastMessageId, epochHistory: f.epochHistory });
      return;
    case 'snapshot-records':
      out.store({ kind: 'apply-snapshot', records: f.records });
      return;
    case 'snapshot-end':
      out.store({ kind: 'end-snapshot', lastPositions: f.lastPositions ?? {} });
      return;
    case 'log': {
      if (f.entries.length === 0) return;
      out.emit({ kind: 'heard', heard: heardOf(s, f.epoch, (f.entries[f.entries.length - 1] as { lsn: number }).lsn), urgent: false });
      // Pipelined: the next frame is applied while this one becomes durable; confirmations
      // follow durability, in order (the `durable` event).
      out.store({ kind: 'append', entries: f.entries });
      return;
    }
    case 'state':
      out.emit({ kind: 'members', members: f.members });
      if (f.state === 'ready' && s.state === 'catchup') {
        out.log('info', { primary: primary.name }, 'caught up: ready');
        setState(out, 'ready');
      } else if (f.state === 'catchup' && s.state === 'ready') {
        // The primary dropped us from the ack gate (we did not confirm in time): what it
        // settles from now on may not be here, so this store is no longer promotable.
        out.log('warn', { primary: primary.name }, 'the primary took this backup out of the ack gate; no longer ready');
        setState(out, 'catchup');
      }
      return;
  }
}

function hello(out: Out, f: Extract<PrimaryFrame, { kind: 'hello' }>, store: StoreView, epochSeen: number): void {
  const { s } = out;
  if (f.storeId === store.storeId) {
    // Our own address: never try it again.
    if (s.connectedTo) s.selfAddresses.add(s.connectedTo);
    return failed(out, 'HA_PROTOCOL', 'connected to ourselves');
  }
  if (f.epoch < epochSeen) return failed(out, 'STALE_EPOCH', `refusing stale primary ${f.name}: its epoch ${f.epoch} is below ${epochSeen}`);
  // Before anything is noted or wiped: a "primary" that does not hold this store's past (a
  // stale store promoted by force, or an impostor on a dead primary's port claiming a high
  // epoch and an empty log) could make us wipe what was settled. Stay as we are.
  // A store holding nothing but the records of its own promotions (a broker promoted on an empty
  // store that never served, then lost the election) has nothing to lose: it follows the primary
  // of another history (simulator, etcd seed 10310: such a store refused the only primary for
  // ever, and the cluster never had its last backup back).
  const conflict = store.lastLsn > 0 && !onlyEpochRecords(store) ? historyConflict(store.epochHistory, f.epochHistory, f.lastLsn) : null;
  if (conflict !== null) {
    const key = `${f.name}@${f.epoch}`;
    if (s.refusedPrimary !== key) {
      s.refusedPrimary = key;
      out.log('error', { primary: f.name, epoch: f.epoch, primaryLsn: f.lastLsn, lastLsn: store.lastLsn, reason: conflict }, "refusing a primary whose epoch history does not hold this store's past; the store is kept as it is (wipe the data dir to follow it anyway)");
    }
    s.historyRefusal = `${f.name} (epoch ${f.epoch}): ${conflict}; the store is kept (wipe the data dir to follow it)`;
    return failed(out, 'HA_PROTOCOL', `refusing primary ${f.name} (epoch ${f.epoch}): ${conflict}`);
  }
  s.historyRefusal = null;
  out.emit({ kind: 'note-epoch', epoch: f.epoch });
  out.emit({ kind: 'heard', heard: heardOf(s, f.epoch, f.lastLsn), urgent: true });
  s.primary = { name: f.name, epoch: f.epoch, address: s.connectedTo ?? '', publicAddress: f.publicAddress };
  s.hinted = null;
  out.emit({ kind: 'primary', primary: s.primary });
  setState(out, 'catchup');
  s.confirmed = 0;
  if (f.catchUp.kind === 'snapshot') {
    out.log('info', { primary: f.name, epoch: f.epoch, primaryLsn: f.lastLsn, reason: f.catchUp.reason }, 'connected to the primary; wiping the store to catch up');
    out.store({ kind: 'wipe' });
    return;
  }
  // Incremental catch-up: the log is taken back to the divergence point (what goes was never
  // settled), then the primary's log follows from there. A store that cannot take it back
  // (the entries were copied from an earlier primary) wipes itself and comes back for a
  // snapshot.
  const lsn = f.catchUp.fromLsn;
  s.truncation = { lsn, before: store.lastLsn, name: f.name, epoch: f.epoch, lastLsn: f.lastLsn, catalogFromJoin: f.catalogFromJoin === true };
  if (store.lastLsn > lsn) {
    out.store({ kind: 'truncate', lsn });
    return;
  }
  truncated(out);
}

function truncated(out: Out): void {
  const { s } = out;
  const t = s.truncation;
  s.truncation = null;
  if (!t) return;
  if (t.before > t.lsn) out.log('info', { primary: t.name, epoch: t.epoch, divergence: t.lsn, truncated: t.before - t.lsn }, 'took back the divergent end of the log (never settled)');
  out.log('info', { primary: t.name, epoch: t.epoch, primaryLsn: t.lastLsn, fromLsn: t.lsn }, 'connected to the primary; catching up incrementally');
  // What this store holds at the divergence point: the primary's filter starts from it. The
  // join said it already when nothing was to be taken back.
  if (t.catalogFromJoin) {
    if (t.before !== t.lsn) return failed(out, 'HA_PROTOCOL', `the primary took the join's catalog (LSN ${t.before}) for a catch-up from LSN ${t.lsn}`);
  } else {
    out.emit({ kind: 'send-catalog', epoch: t.epoch, lsn: t.lsn });
  }
  confirm(out, t.lsn);
}

function storeDone(out: Out, op: StoreOp['kind'], lastLsn: number): void {
  const { s } = out;
  switch (op) {
    case 'wipe':
      if (s.wipeThenDrop !== null) {
        const error = s.wipeThenDrop;
        s.wipeThenDrop = null;
        failed(out, 'HA_PROTOCOL', error);
      }
      return;
    case 'truncate':
      truncated(out);
      return;
    case 'apply-snapshot':
      out.emit({ kind: 'crash-point', name: 'ha.backup.mid-snapshot' });
      return;
    case 'end-snapshot':
      s.resyncReason = null;
      confirm(out, lastLsn);
      out.log('info', { lsn: lastLsn }, 'snapshot applied');
      return;
    case 'begin-snapshot':
    case 'append':
      return;
  }
}

function confirm(out: Out, lsn: number): void {
  const { s } = out;
  if (lsn <= s.confirmed) return;
  s.confirmed = lsn;
  out.emit({ kind: 'send', frame: { kind: 'confirm', epoch: s.primary?.epoch ?? 0, lsn } });
}

/** Whether every record of the store is the start of one of its epochs (each promotion writes
 * its epoch record first): it holds no message, queue or binding. */
function onlyEpochRecords(store: StoreView): boolean {
  return store.lastLsn === store.epochHistory.length && store.epochHistory.every((e, i) => e.firstLsn === i + 1);
}

function parseHostPort(text: string): QpidAddress | null {
  const match = /^(.*):(\d+)$/.exec(text);
  if (!match) return null;
  return { transport: 'tcp', host: match[1] as string, port: Number(match[2]) };
}
