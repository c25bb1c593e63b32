// Runs inside a private mount namespace with a small tmpfs at <data-dir> (full-disk.test.ts sets
// that up with unshare): fills the disk through the store and reports, as one JSON line, what the
// callers saw. The parent asserts on it.
//   node full-disk-child.js <data-dir>
import { isStoreError, openLmdbStore, verifyStore, type CommitTicket, type StoreRecord } from '../../store/index.js';

const dataDir = process.argv[2]!;
const body = (n: number): Buffer => Buffer.alloc(8192, n % 251);

interface Outcome {
  ok: boolean;
  code?: string;
  message?: string;
}

async function outcome(p: Promise<void>): Promise<Outcome> {
  try {
    await p;
    return { ok: true };
  } catch (err) {
    return { ok: false, code: isStoreError(err) ? err.code : 'OTHER', message: (err as Error).message };
  }
}

async function main(): Promise<void> {
  let store = openLmdbStore({ dataDir, sync: 'fsync', logMaxBytes: 64 * 1024 });
  // What the ack gate hears when a failed commit gives its LSNs back (and what the next commit
  // would be given at that moment).
  const rollbacks: Array<{ lastLsn: number; nextLsn: number }> = [];
  store.onRollback((lastLsn) => rollbacks.push({ lastLsn, nextLsn: store.commit([]).firstLsn }));
  await store.commit([{ kind: 'queue-declare', queue: 'q', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }]).durable;
  const durable: Array<{ lsn: number; messageId: number; position: number }> = [];
  let position = 0;
  let failure: Outcome | undefined;
  let behind: Outcome | undefined;
  let lastDurableLsn = 1;
  for (let i = 0; i < 10_000 && !failure; i++) {
    const messageId = store.allocateMessageId();
    const p = ++position;
    const record: StoreRecord = { kind: 'enqueue', messageId, persistent: true, expiresAtMs: null, body: body(p), targets: [{ queue: 'q', position: p }] };
    const ticket: CommitTicket = store.commit([record]);
    // A second commit queued behind the first: if the first fails, so must this one.
    const extraId = store.allocateMessageId();
    const extra = store.commit([{ ...record, messageId: extraId, targets: [{ queue: 'q', position: ++position }] }]);
    const o = await outcome(ticket.durable);
    const e = await outcome(extra.durable);
    if (o.ok && e.ok) {
      durable.push({ lsn: ticket.firstLsn, messageId, position: p }, { lsn: extra.firstLsn, messageId: extraId, position: p + 1 });
      lastDurableLsn = extra.lastLsn;
    } else {
      failure = o.ok ? e : o;
      behind = e;
      position -= 2;
    }
  }
  const afterFailure = { lastLsn: store.meta().lastLsn, count: store.queue('q')!.count, violations: verifyStore(store) };
  const nextLsnAfterFailure = store.commit([]).firstLsn;

  // Free space by consuming messages, then try to write again.
  const freed: Outcome[] = [];
  for (const d of durable.slice(0, 20)) freed.push(await outcome(store.commit([{ kind: 'dequeue', queue: 'q', position: d.position, messageId: d.messageId, cause: 'consumed' }]).durable));
  const consumed = freed.filter((f) => f.ok).length;
  const retry = await outcome(store.commit([{ kind: 'enqueue', messageId: store.allocateMessageId(), persistent: true, expiresAtMs: null, body: Buffer.from('small'), targets: [{ queue: 'q', position: ++position }] }]).durable);
  if (!retry.ok) position--;
  await store.close();

  store = openLmdbStore({ dataDir, sync: 'fsync' });
  const present = store.readQueue('q', 0, 100_000).map((e) => e.messageId);
  const missing = durable.slice(consumed).filter((d) => !present.includes(d.messageId));
  const reopened = { lastLsn: store.meta().lastLsn, count: store.queue('q')!.count, violations: verifyStore(store) };
  await store.close();
  console.log(JSON.stringify({ durableCount: durable.length, lastDurableLsn, rollbacks, failure, behind, afterFailure, nextLsnAfterFailure, consumed, freeErrors: freed.filter((f) => !f.ok), retry, missing, reopened }));
}

main().catch((err: unknown) => {
  console.log(JSON.stringify({ crashed: String((err as Error)?.stack ?? err) }));
  process.exit(1);
});
