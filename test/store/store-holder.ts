// A child process for store tests: opens the store of a data dir for writing and holds it, so
// that tests see a real second process (lock contention, tools reading while a broker writes).
//   node store-holder.js <data-dir> open-once | hold | hold-writing
// Prints one JSON line: {"ready":true,"pid":N,...} or {"error":{"code":...,"message":...}}.
// hold-writing commits an enqueue and a dequeue on queue 'busy' every few ms. The child closes
// the store and exits when its stdin ends.
import { isStoreError, openLmdbStore, type LmdbStore } from '../../store/index.js';

const [dataDir, mode] = process.argv.slice(2);
if (!dataDir || !mode) {
  console.error('usage: store-holder <data-dir> open-once|hold|hold-writing');
  process.exit(2);
}

let store: LmdbStore;
try {
  store = openLmdbStore({ dataDir, logger: { info() {}, error() {}, warn: (obj, msg) => console.error(JSON.stringify({ warn: msg, ...obj })) } });
} catch (err) {
  const e = err as Error & { code?: string };
  console.log(JSON.stringify({ error: { code: isStoreError(err) ? e.code : 'OTHER', message: e.message } }));
  process.exit(1);
}

async function main(): Promise<void> {
  let writes = 0;
  let stopped = false;
  let writing: Promise<void> = Promise.resolve();
  if (mode === 'hold-writing') {
    if (!store.queue('busy')) {
      await store.commit([{ kind: 'queue-declare', queue: 'busy', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }]).durable;
    }
    writing = (async () => {
      let position = store.queue('busy')!.lastPosition;
      while (!stopped) {
        const id = store.allocateMessageId();
        position++;
        await store.commit([{ kind: 'enqueue', messageId: id, persistent: true, expiresAtMs: null, body: Buffer.from(`busy ${position}`), targets: [{ queue: 'busy', position }] }]).durable;
        if (position % 2 === 0) await store.commit([{ kind: 'dequeue', queue: 'busy', position, messageId: id, cause: 'consumed' }]).durable;
        writes++;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
  }
  console.log(JSON.stringify({ ready: true, pid: process.pid, lastLsn: store.meta().lastLsn }));
  if (mode === 'open-once') {
    await store.close();
    return;
  }
  process.stdin.resume();
  await new Promise<void>((resolve) => process.stdin.on('end', resolve));
  stopped = true;
  await writing;
  await store.close();
  console.log(JSON.stringify({ closed: true, writes }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
