// The process that reads a stopped store for `verifyInChild` (verify-process.ts): LMDB trusts its
// file, and a damaged page can make it abort the process that reads it. Run here, an abort is
// only this child's, and the parent turns it into a report. Prints one JSON line per progress
// step and one final line {"violations": [...]}; exit 0 whatever it found.
//   node verify-child.js DATA_DIR quick|full [PROGRESS_EVERY]
import { openLmdbStore } from './lmdb-store.js';
import { isStoreError } from './errors.js';
import { verifyQuick, verifyStore, type Violation } from './verify.js';

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

async function main(): Promise<void> {
  const [dataDir, level, every] = process.argv.slice(2);
  const progressEvery = Math.max(1, Number(every ?? 10_000) || 10_000);
  if (!dataDir || (level !== 'quick' && level !== 'full')) {
    process.stderr.write('usage: verify-child DATA_DIR quick|full\n');
    process.exit(2);
  }
  let violations: Violation[];
  let store;
  try {
    // The parent holds the data dir's lock for this open.
    store = openLmdbStore({ dataDir, readOnly: true, callerHoldsLock: true });
  } catch (err) {
    if (isStoreError(err) && err.code !== 'STORE_NOT_FOUND' && err.code !== 'STORE_IO' && err.code !== 'STORE_IN_USE') {
      print({ violations: [{ code: 'open-failed', message: `${err.code}: ${err.message}` }] });
      return;
    }
    print({ error: { code: (err as { code?: string }).code ?? 'STORE_IO', message: (err as Error).message } });
    return;
  }
  try {
    print({ progress: { phase: 'open', done: 0, total: 0 } });
    violations = level === 'quick' ? verifyQuick(store) : verifyStore(store, { progressEvery, onProgress: (p) => print({ progress: p }) });
  } catch (err) {
    violations = [{ code: isStoreError(err, 'STORE_CORRUPT') ? 'meta' : 'unreadable', message: (err as Error).message }];
  }
  await store.close();
  print({ violations });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`verify-child: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(70);
  },
);
