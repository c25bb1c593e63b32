// The replication protocol's frames (DESIGN.md §4). A backup opens a replication connection to
// the primary and sends `join`; the primary answers `hello`, streams a snapshot, then the live
// log, and tells the backup its state; the backup confirms the highest LSN it has durable.
// Every frame carries the sender's epoch so that a stale primary is refused (fencing).
//
// Wire form: one AMQP transfer per frame, with message format HA_MESSAGE_FORMAT (so no AMQP
// message decoding happens), payload = [kind:u8][epoch:u32][body]. Log and snapshot bodies use
// the store's record codec; control bodies are JSON, validated with zod on receipt.

import { z } from 'zod';
import { decodeLogEntries, decodeRecords, encodeLogEntries, encodeRecords, EPOCH_HISTORY_MAX, takeFrame, type EpochStart, type LogEntry, type StoreRecord } from '../../store/index.js';
import type { CatchUp } from './catch-up.js';
import { HA_STATES, type HaState } from './role.js';

/** AMQP message format of replication transfers (a private, non-zero format). */
export const HA_MESSAGE_FORMAT = 0x51504841; // "QPHA"

export const REPLICATION_ADDRESS = '$ha.replication';

export interface MemberInfo {
  readonly name: string;
  readonly state: HaState;
  /** Where the member can be reached (its address as given in ha-brokers-url). */
  readonly address: string | null;
  readonly confirmedLsn: number;
  /** How it caught up on its last join (incremental from an LSN, or a snapshot), and the bytes
   * of log and snapshot shipped to it since. */
  readonly catchUp?: CatchUp;
  readonly shippedBytes?: number;
}

/** Backup -> primary. */
export type BackupFrame =
  | {
      readonly kind: 'join';
      readonly epoch: number;
      readonly name: string;
      readonly storeId: string;
      readonly address: string | null;
      /** The highest epoch this backup has seen (fencing: a lower-epoch primary is stale). */
      readonly epochSeen: number;
      /** Set when a replica queue (not a backup) joins: the queue it follows. */
      readonly queue?: string | null;
      /** Where the backup's log stands, for the primary to find the divergence point. */
      readonly lastLsn?: number;
      readonly epochHistory?: readonly EpochStart[];
      readonly snapshotIncomplete?: boolean;
      /** The backup asks for a snapshot, and why (catch-up.ts BackupView.resync). */
      readonly resync?: string;
      /** What the store holds at lastLsn (as a catalog frame would say): when the catch-up is
       * incremental from lastLsn, nothing is taken back and the primary starts from this, a
       * round trip sooner (the hello says so: catalogFromJoin). */
      readonly catalog?: { readonly queues: readonly CatalogNode[]; readonly exchanges: readonly CatalogNode[] };
    }
  | { readonly kind: 'confirm'; readonly epoch: number; readonly lsn: number }
  /** Incremental catch-up: after taking its log back to `lsn`, the queues and exchanges the
   * backup holds, with their qpid.replicate argument: the primary's filter starts from them, as
   * it would have had it shipped the log from the beginning. */
  | { readonly kind: 'catalog'; readonly epoch: number; readonly lsn: number; readonly queues: readonly CatalogNode[]; readonly exchanges: readonly CatalogNode[] };

export interface CatalogNode {
  readonly name: string;
  /** The node's qpid.replicate argument, if it has one. */
  readonly replicate: string | null;
}

/** Primary -> backup. */
export type PrimaryFrame =
  | {
      readonly kind: 'hello';
      readonly epoch: number;
      readonly name: string;
      readonly storeId: string;
      readonly publicAddress: string | null;
      readonly lastLsn: number;
      /** The primary's epoch history: a backup follows only a primary that holds its past. */
      readonly epochHistory: readonly EpochStart[];
      /** Incremental: the backup takes its log back to fromLsn, then the log follows from there;
       * snapshot: it wipes its store and a snapshot follows. */
      readonly catchUp: CatchUp;
      /** The primary took the join's catalog: the backup sends none (it takes nothing back). */
      readonly catalogFromJoin?: boolean;
    }
  | { readonly kind: 'snapshot-begin'; readonly epoch: number; readonly lsn: number; readonly lastMessageId: number; readonly epochHistory: readonly EpochStart[] }
  | { readonly kind: 'snapshot-records'; readonly epoch: number; readonly records: readonly StoreRecord[] }
  | { readonly kind: 'snapshot-end'; readonly epoch: number; readonly lastPositions?: Readonly<Record<string, number>> }
  | { readonly kind: 'log'; readonly epoch: number; readonly entries: readonly LogEntry[] }
  | { readonly kind: 'state'; readonly epoch: number; readonly state: HaState; readonly members: readonly MemberInfo[] };

const KIND_CODES = {
  join: 1,
  confirm: 2,
  catalog: 3,
  hello: 10,
  'snapshot-begin': 11,
  'snapshot-records': 12,
  'snapshot-end': 13,
  log: 14,
  state: 15,
} as const;

type FrameKind = keyof typeof KIND_CODES;
const KIND_BY_CODE = new Map<number, FrameKind>(Object.entries(KIND_CODES).map(([k, v]) => [v, k as FrameKind]));

export class ProtocolViolation extends Error {
  readonly code = 'HA_PROTOCOL';
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolViolation';
  }
}

/** Epochs count promotions: far below 2^31 in any real cluster. A peer that claims more (one
 * join claiming epoch 2^32-1 used to make the primary fence itself and exit) is broken or
 * hostile, and its link is closed. */
export const EPOCH_MAX = 2 ** 31 - 1;
/** LSNs and message ids are JavaScript integers: exact up to 2^53-1. */
const COUNTER_MAX = Number.MAX_SAFE_INTEGER;
/** Broker names are capped at 255 bytes (--name); store ids are UUIDs; addresses host:port. */
const NAME_CHARS_MAX = 255;
const ADDRESS_CHARS_MAX = 300;
const MEMBERS_MAX = 64;

const haState = z.enum(HA_STATES as unknown as [HaState, ...HaState[]]);
const lsn = z.number().int().min(0).max(COUNTER_MAX);
const epochField = z.number().int().min(0).max(EPOCH_MAX);
const name = z.string().min(1).max(NAME_CHARS_MAX);
const address = z.string().max(ADDRESS_CHARS_MAX).nullable();

const epochHistory = z.array(z.object({ epoch: epochField, firstLsn: lsn })).max(EPOCH_HISTORY_MAX);

const catchUp = z.union([z.object({ kind: z.literal('incremental'), fromLsn: lsn }), z.object({ kind: z.literal('snapshot'), reason: z.string().max(1000) })]);

const CATALOG_NODES_MAX = 200_000;
const catalogNode = z.object({ name: z.string().max(NAME_CHARS_MAX), replicate: z.string().max(32).nullable() });
const catalogNodes = z.array(catalogNode).max(CATALOG_NODES_MAX);

/** A join's resync reason is for logs and status: a sentence, cut to this. */
export const RESYNC_REASON_CHARS_MAX = 300;
const JoinBody = z.object({
  name,
  storeId: z.string().min(1).max(64),
  address,
  epochSeen: epochField,
  queue: z.string().min(1).max(NAME_CHARS_MAX).nullable().optional(),
  lastLsn: lsn.optional(),
  epochHistory: epochHistory.optional(),
  snapshotIncomplete: z.boolean().optional(),
  resync: z.string().max(RESYNC_REASON_CHARS_MAX).optional(),
  catalog: z.object({ queues: catalogNodes, exchanges: catalogNodes }).optional(),
});
const ConfirmBody = z.object({ lsn });
const CatalogBody = z.object({ lsn, queues: catalogNodes, exchanges: catalogNodes });
const HelloBody = z.object({ name, storeId: z.string().min(1).max(64), publicAddress: address, lastLsn: lsn, epochHistory, catchUp, catalogFromJoin: z.boolean().optional() });
const SnapshotEndBody = z.object({ lastPositions: z.record(z.string().max(NAME_CHARS_MAX), lsn).refine((m) => Object.keys(m).length <= CATALOG_NODES_MAX, 'too many queues') });
const SnapshotBeginBody = z.object({ lsn, lastMessageId: z.number().int().min(0).max(COUNTER_MAX), epochHistory });
const StateBody = z.object({
  state: haState,
  members: z.array(z.object({ name, state: haState, address, confirmedLsn: lsn, catchUp: catchUp.optional(), shippedBytes: lsn.optional() })).max(MEMBERS_MAX),
});

/** [kind u8][epoch u32]. */
export const FRAME_HEADER_BYTES = 5;

function frame(kind: FrameKind, epoch: number, body: Buffer): Buffer {
  return headed(kind, epoch, Buffer.concat([Buffer.allocUnsafe(FRAME_HEADER_BYTES), body]));
}

/** Writes the header into the first FRAME_HEADER_BYTES of `bytes` (the body follows them). The log and
 * snapshot frames are encoded with that room left in front: prepending the header by a copy
 * cost a second full copy of every record shipped (and the log frames a third), and the garbage
 * collections that the allocation drives (bench/README.md, "A snapshot's read path"). */
function headed(kind: FrameKind, epoch: number, bytes: Buffer): Buffer {
  bytes.writeUInt8(KIND_CODES[kind], 0);
  bytes.writeUInt32BE(epoch, 1);
  return bytes;
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

export function encodeBackupFrame(f: BackupFrame): Buffer {
  switch (f.kind) {
    case 'join':
      return frame(
        'join',
        f.epoch,
        json({
          name: f.name,
          storeId: f.storeId,
          address: f.address,
          epochSeen: f.epochSeen,
          ...(f.queue ? { queue: f.queue } : {}),
          ...(f.lastLsn !== undefined ? { lastLsn: f.lastLsn, epochHistory: f.epochHistory ?? [], snapshotIncomplete: f.snapshotIncomplete ?? false } : {}),
          ...(f.resync !== undefined ? { resync: f.resync } : {}),
          ...(f.catalog !== undefined ? { catalog: f.catalog } : {}),
        }),
      );
    case 'confirm':
      return frame('confirm', f.epoch, json({ lsn: f.lsn }));
    case 'catalog':
      return frame('catalog', f.epoch, json({ lsn: f.lsn, queues: f.queues, exchanges: f.exchanges }));
  }
}

export function encodePrimaryFrame(f: PrimaryFrame): Buffer {
  switch (f.kind) {
    case 'hello':
      return frame('hello', f.epoch, json({ name: f.name, storeId: f.storeId, publicAddress: f.publicAddress, lastLsn: f.lastLsn, epochHistory: f.epochHistory, catchUp: f.catchUp, ...(f.catalogFromJoin ? { catalogFromJoin: true } : {}) }));
    case 'snapshot-begin':
      return frame('snapshot-begin', f.epoch, json({ lsn: f.lsn, lastMessageId: f.lastMessageId, epochHistory: f.epochHistory }));
    case 'snapshot-records':
      // A snapshot read built this frame as it read these records (records-frame.ts).
      return headed('snapshot-records', f.epoch, takeFrame(f.records, FRAME_HEADER_BYTES) ?? encodeRecords(f.records, FRAME_HEADER_BYTES));
    case 'snapshot-end':
      return frame('snapshot-end', f.epoch, f.lastPositions && Object.keys(f.lastPositions).length > 0 ? json({ lastPositions: f.lastPositions }) : Buffer.alloc(0));
    case 'log':
      return headed('log', f.epoch, encodeLogEntries(f.entries, FRAME_HEADER_BYTES));
    case 'state':
      return frame('state', f.epoch, json({ state: f.state, members: f.members }));
  }
}

function readHeader(bytes: Buffer): { kind: FrameKind; epoch: number; body: Buffer } {
  if (bytes.length < 5) throw new ProtocolViolation(`replication frame of ${bytes.length} bytes is too short`);
  const kind = KIND_BY_CODE.get(bytes.readUInt8(0));
  if (!kind) throw new ProtocolViolation(`unknown replication frame kind ${bytes.readUInt8(0)}`);
  const epoch = bytes.readUInt32BE(1);
  if (epoch > EPOCH_MAX) throw new ProtocolViolation(`replication frame ${kind} claims epoch ${epoch}, above the most a cluster can reach (${EPOCH_MAX})`);
  return { kind, epoch, body: bytes.subarray(5) };
}

function parseJson<T>(schema: z.ZodType<T>, body: Buffer, kind: string): T {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ProtocolViolation(`replication frame ${kind} has a body that is not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ProtocolViolation(`replication frame ${kind} is invalid: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

export function decodeBackupFrame(bytes: Buffer): BackupFrame {
  const { kind, epoch, body } = readHeader(bytes);
  switch (kind) {
    case 'join':
      return { kind, epoch, ...parseJson(JoinBody, body, kind) };
    case 'confirm':
      return { kind, epoch, ...parseJson(ConfirmBody, body, kind) };
    case 'catalog':
      return { kind, epoch, ...parseJson(CatalogBody, body, kind) };
    default:
      throw new ProtocolViolation(`frame ${kind} is not sent by a backup`);
  }
}

export function decodePrimaryFrame(bytes: Buffer): PrimaryFrame {
  const { kind, epoch, body } = readHeader(bytes);
  switch (kind) {
    case 'hello':
      return { kind, epoch, ...parseJson(HelloBody, body, kind) };
    case 'snapshot-begin':
      return { kind, epoch, ...parseJson(SnapshotBeginBody, body, kind) };
    case 'snapshot-records':
      return { kind, epoch, records: decodeRecords(body, 'snapshot frame') };
    case 'snapshot-end':
      return body.length === 0 ? { kind, epoch } : { kind, epoch, ...parseJson(SnapshotEndBody, body, kind) };
    case 'log':
      return { kind, epoch, entries: decodeLogEntries(body, 'replicated log frame') };
    case 'state':
      return { kind, epoch, ...parseJson(StateBody, body, kind) };
    default:
      throw new ProtocolViolation(`frame ${kind} is not sent by a primary`);
  }
}

/** Decodes one frame of each kind a failover handles, once: zod builds a schema's parser on
 * its first use, 3 ms each on an idle machine and 10 on a loaded one, and a broker promoted
 * after a life as a backup had never decoded a join or a confirmation; the kill drills showed
 * that cost on the promotion's critical path. A broker calls this when it starts. */
export function warmUpCodecs(): void {
  const node = { name: 'q', replicate: null };
  const epochHistory = [{ epoch: 1, firstLsn: 1 }];
  decodeBackupFrame(encodeBackupFrame({ kind: 'join', epoch: 1, name: 'warm-up', storeId: 'warm-up', address: null, epochSeen: 1, lastLsn: 1, epochHistory, snapshotIncomplete: false, catalog: { queues: [node], exchanges: [node] } }));
  decodeBackupFrame(encodeBackupFrame({ kind: 'confirm', epoch: 1, lsn: 1 }));
  decodeBackupFrame(encodeBackupFrame({ kind: 'catalog', epoch: 1, lsn: 1, queues: [node], exchanges: [node] }));
  decodePrimaryFrame(encodePrimaryFrame({ kind: 'hello', epoch: 1, name: 'warm-up', storeId: 'warm-up', publicAddress: null, lastLsn: 1, epochHistory, catchUp: { kind: 'incremental', fromLsn: 1 } }));
  decodePrimaryFrame(encodePrimaryFrame({ kind: 'state', epoch: 1, state: 'ready', members: [{ name: 'warm-up', state: 'ready', address: null, confirmedLsn: 1 }] }));
  decodePrimaryFrame(encodePrimaryFrame({ kind: 'snapshot-begin', epoch: 1, lsn: 1, lastMessageId: 1, epochHistory }));
  decodePrimaryFrame(encodePrimaryFrame({ kind: 'snapshot-end', epoch: 1, lastPositions: { q: 1 } }));
}
