// Deep stores for the recovery and catch-up scenarios, written straight through the store's API
// (store/index.ts: queue-declare and enqueue records, as the broker itself commits them) instead
// of through AMQP, which would take minutes for a million messages. Each body is a valid encoded
// AMQP message (the loadgen's template, stamped with producer and sequence), so a consumer can
// receive it and the loadgen's accounting reads it. Built without fsync and with a short log: the
// build is set-up, not what is measured. Progress goes to the caller's log.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLmdbStore } from '../../store/index.js';
import type { EnqueueRecord, QueueDeclareRecord } from '../../store/index.js';
import { buildMessageTemplate } from './message-template.js';
import { trackTempDir } from './process.js';

export interface DeepStore {
  readonly dataDir: string;
  readonly queue: string;
  readonly messages: number;
  /** Encoded bytes of one message, as stored and as sent to a consumer. */
  readonly messageBytes: number;
  /** Size of the store's files on disk. */
  readonly diskBytes: number;
  readonly buildS: number;
}

const PER_COMMIT = 1000;
const SHORT_LOG_BYTES = 16 * 1024 * 1024;
const KEEP_LOG_BYTES = 64 * 1024 ** 3;
const COMMITS_IN_FLIGHT = 8;
const PROGRESS_EVERY = 100_000;

/** Total size of the files under a directory (the LMDB data file is sparse-free: real bytes). */
export function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? directoryBytes(path) : statSync(path).blocks * 512;
  }
  return total;
}

/**
 * Writes `messages` durable 1 KiB-body messages onto one durable queue of a new store under
 * `parentDir` (default the OS temp dir). The queue is unlimited (qpid.max_size 0), so the
 * broker's --default-queue-limit does not cap it.
 */
export async function buildDeepStore(options: {
  readonly messages: number;
  readonly bodyBytes?: number;
  readonly queue?: string;
  readonly parentDir?: string;
  /**
   * Keep every record in the log (the store then holds each body twice) instead of letting
   * retention truncate it to 16 MiB as it goes. A store whose log was truncated this way makes
   * the broker fail when a backup's catch-up snapshot is read while it commits (an LMDB freelist
   * error: MDB_BAD_TXN "reserved freelist had a data entry with zero-size", or an assertion in
   * mdb_freelist_save that kills the primary), so the catch-up scenario keeps the log.
   */
  readonly keepLog?: boolean;
  readonly log?: (line: string) => void;
}): Promise<DeepStore> {
  const queue = options.queue ?? 'deep';
  // The caller removes it when done (and removeDeepStore forgets it); an interrupted run's exit
  // hook removes it otherwise: a 10^6 store is 2-4 GB.
  const dataDir = mkdtempSync(join(options.parentDir ?? tmpdir(), 'qpidd-bench-deep-'));
  trackTempDir(dataDir);
  const started = performance.now();
  const store = openLmdbStore({ dataDir, sync: 'none', logMaxBytes: options.keepLog ? KEEP_LOG_BYTES : SHORT_LOG_BYTES });
  const template = buildMessageTemplate(options.bodyBytes ?? 1024, true);
  try {
    const declare: QueueDeclareRecord = {
      kind: 'queue-declare',
      queue,
      durable: true,
      autoDelete: false,
      exclusive: false,
      alternateExchange: null,
      arguments: { 'qpid.max_size': 0 },
    };
    await store.commit([declare]).durable;
    let inFlight: Promise<void>[] = [];
    for (let done = 0; done < options.messages; ) {
      const n = Math.min(PER_COMMIT, options.messages - done);
      const records: EnqueueRecord[] = [];
      for (let i = 0; i < n; i++) {
        // Producer 0, sequence = position - 1: a consumer's ledger sees one producer's stream.
        const position = ++done;
        records.push({
          kind: 'enqueue',
          messageId: store.allocateMessageId(),
          persistent: true,
          expiresAtMs: null,
          body: template.stamp(0, 0, position - 1),
          targets: [{ queue, position }],
        });
      }
      inFlight.push(store.commit(records).committed);
      if (inFlight.length >= COMMITS_IN_FLIGHT) {
        await Promise.all(inFlight);
        inFlight = [];
      }
      if (done % PROGRESS_EVERY === 0) options.log?.(`    store: ${done.toLocaleString('en-US')} of ${options.messages.toLocaleString('en-US')} messages written`);
    }
    await Promise.all(inFlight);
  } finally {
    await store.close();
  }
  return {
    dataDir,
    queue,
    messages: options.messages,
    messageBytes: template.bytes,
    diskBytes: directoryBytes(dataDir),
    buildS: (performance.now() - started) / 1000,
  };
}

/** Removes a store built by buildDeepStore. */
export function removeDeepStore(store: DeepStore): void {
  rmSync(store.dataDir, { recursive: true, force: true });
  trackTempDir(store.dataDir, true);
}
