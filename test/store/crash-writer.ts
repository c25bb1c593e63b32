// The victim of crash.test.ts: opens the store of a data dir and commits enqueues and dequeues
// on two queues as fast as it can, several commits in flight, until it is killed with SIGKILL.
// After each commit's `durable` resolves it prints one line (stdout to a pipe is synchronous on
// Linux, so a printed line was written before the kill could land):
//   {"lsn":N,"e":[queue,position,messageId,bodyBytes]}   an enqueue that is durable
//   {"lsn":N,"d":[queue,position,messageId]}             a dequeue that is durable
//   node crash-writer.js <data-dir> <seed>
import { seededRandom } from '../../src/core/random.js';
import { openLmdbStore, type StoreRecord } from '../../store/index.js';
import { crashBody } from './crash-body.js';

const [dataDir, seedText] = process.argv.slice(2);
const random = seededRandom(Number(seedText));
const QUEUES = ['c1', 'c2'];

async function main(): Promise<void> {
  const store = openLmdbStore({ dataDir: dataDir!, sync: 'fsync' });
  const declares: StoreRecord[] = QUEUES.filter((q) => !store.queue(q)).map((queue) => ({ kind: 'queue-declare', queue, durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }));
  if (declares.length > 0) await store.commit(declares).durable;
  const last = new Map(QUEUES.map((q) => [q, store.queue(q)!.lastPosition]));
  const live: Array<{ queue: string; position: number; messageId: number }> = [];
  for (const queue of QUEUES) for (const e of store.readQueue(queue, 0, 1_000_000)) live.push({ queue, position: e.position, messageId: e.messageId });
  const inFlightMax = random.int(1, 16);
  let inFlight = 0;
  process.stdout.write(`${JSON.stringify({ ready: true, inFlightMax, live: live.length })}\n`);
  for (;;) {
    while (inFlight >= inFlightMax) await new Promise((resolve) => setImmediate(resolve));
    let record: StoreRecord;
    let line: (lsn: number) => string;
    if (live.length > 0 && random.bool(0.45)) {
      const [victim] = live.splice(random.int(0, live.length - 1), 1);
      const { queue, position, messageId } = victim!;
      record = { kind: 'dequeue', queue, position, messageId, cause: 'consumed' };
      line = (lsn) => JSON.stringify({ lsn, d: [queue, position, messageId] });
    } else {
      const queue = random.pick(QUEUES);
      const position = last.get(queue)! + 1;
      last.set(queue, position);
      const messageId = store.allocateMessageId();
      const bytes = random.int(1, 3000);
      record = { kind: 'enqueue', messageId, persistent: true, expiresAtMs: null, body: crashBody(messageId, bytes), targets: [{ queue, position }] };
      live.push({ queue, position, messageId });
      line = (lsn) => JSON.stringify({ lsn, e: [queue, position, messageId, bytes] });
    }
    const ticket = store.commit([record]);
    inFlight++;
    void ticket.durable.then(() => {
      inFlight--;
      process.stdout.write(`${line(ticket.firstLsn)}\n`);
    });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
