// One look at a damaged store for bench/corruption.ts, in its own process (LMDB may abort on a
// damaged page; the parent counts that as a crashed reader). Prints one JSON line.
//   verify: qpid-store verify's checks (full)        -> {"violations": N}
//   serve:  a broker's open (quick verify), then every queue read as delivery reads it, bodies
//           compared with the originals -> {"start": "ok"|"refused", "reported", "altered", "missing"}
//   node corruption-trial.js DATA_DIR verify|serve ORIGINALS.json
import { readFileSync } from 'node:fs';
import { isStoreError, openLmdbStore, verifyQuick, verifyStore, type LmdbStore } from '../store/index.js';
import type { Originals } from './corruption.js';

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function serve(store: LmdbStore, originals: Originals): void {
  const violations = verifyQuick(store);
  if (violations.length > 0) {
    print({ start: 'refused', reason: violations[0] });
    return;
  }
  const expected = new Map(Object.entries(originals.bodies));
  let reported = 0;
  let altered = 0;
  for (const q of store.queues()) {
    let after = 0;
    for (;;) {
      const page = store.readQueue(q.declare.queue, after, 100);
      if (page.length === 0) break;
      for (const e of page) {
        after = e.position;
        if (e.damaged !== undefined) {
          reported++; // the broker quarantines the position and reports it
          continue;
        }
        let body: Uint8Array | undefined;
        try {
          body = store.readMessage(e.messageId);
        } catch (err) {
          if (!isStoreError(err, 'STORE_CORRUPT')) throw err;
          reported++;
          continue;
        }
        const key = `${q.declare.queue}\u0000${e.messageId}`;
        const original = expected.get(key);
        if (body === undefined) {
          reported++; // missing from the store: quarantined as missing, and reported
          continue;
        }
        if (original === undefined || Buffer.compare(Buffer.from(body), Buffer.from(original, 'base64')) !== 0) altered++;
        expected.delete(key);
      }
    }
  }
  // What is still expected was neither delivered nor reported by the read path.
  print({ start: 'ok', reported, altered, missing: expected.size });
}

function main(): void {
  const [dataDir, phase, originalsPath] = process.argv.slice(2);
  const originals = JSON.parse(readFileSync(originalsPath!, 'utf8')) as Originals;
  let store: LmdbStore;
  try {
    store = openLmdbStore({ dataDir: dataDir!, readOnly: phase === 'verify' });
  } catch (err) {
    // The open refuses it (a garbled meta, queue or exchange row): reported at start.
    if (phase === 'verify') print({ violations: 1, open: (err as Error).message });
    else print({ start: 'refused', reason: (err as Error).message });
    return;
  }
  try {
    if (phase === 'verify') print({ violations: verifyStore(store).length });
    else serve(store, originals);
  } catch (err) {
    // A read that throws something other than a checksum failure: loud, not silent.
    if (phase === 'verify') print({ violations: 1, error: (err as Error).message });
    else print({ start: 'refused', reason: `read failed: ${(err as Error).message}` });
  }
}

main();
process.exit(0);
