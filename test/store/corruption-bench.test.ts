// The corruption bench at a tiny size (bench/corruption.ts; BENCH_CORRUPTION_TRIALS=1000 for the
// issue's target): one random byte flipped per trial in a stopped store, spread over every region;
// no trial may hand out an altered body or lose a message with nothing reporting it. A flip in
// LMDB's meta pages is among them: the bench found such a flip made LMDB fall back silently to
// the store one transaction earlier (store/lmdb-meta-pages.ts now refuses that).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REGIONS, runCorruptionBench } from '../../bench/corruption.js';
import { isStoreError, openLmdbStore } from '../../store/index.js';
import { makeTmpDir } from '../helpers/tmp.js';

test('one flipped byte in any region: never an altered body, never a silent drop', { timeout: 240_000 }, async () => {
  const trials = Number(process.env['BENCH_CORRUPTION_TRIALS'] ?? 2 * REGIONS.length);
  const seed = Number(process.env['BENCH_CORRUPTION_SEED'] ?? 16);
  const { outcomes, summary } = await runCorruptionBench({ trials, seed, messages: 40 });
  console.log(summary.map((r) => `${r.region} ${r.detected}/${r.trials} detected, ${r.harmless} harmless, ${r.bad} bad`).join('; '));
  assert.deepEqual(outcomes.filter((o) => o.verdict === 'bad'), [], `seed ${seed}`);
  assert.ok(summary.filter((r) => r.region !== 'total').every((r) => r.trials > 0), 'every region was tried');
});

test('a flip in the newer LMDB meta page is refused at open, not a silent fall back to the older one', async () => {
  const dataDir = makeTmpDir('meta-page');
  const store = openLmdbStore({ dataDir });
  await store.commit([{ kind: 'queue-declare', queue: 'q', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }]).durable;
  await store.close();
  const path = join(dataDir, 'store', 'data.mdb');
  const file = readFileSync(path);
  // The txnid of each meta page (page header 24 bytes, txnid 128 bytes into the meta).
  const txnAt = (page: number): number => page * 4096 + 24 + 128;
  const newer = file.readUInt32LE(txnAt(0)) > file.readUInt32LE(txnAt(1)) ? 0 : 1;
  file[txnAt(newer) + 5] ^= 0x40;
  writeFileSync(path, file);
  assert.throws(
    () => openLmdbStore({ dataDir }),
    (err) => isStoreError(err, 'STORE_CORRUPT') && /meta pages' transaction ids .* are not consecutive/.test((err as Error).message),
  );
});
