// LMDB's meta pages are checked before a store is opened (store/lmdb-meta-pages.ts). A meta whose
// last page lies past the end of the file is sound (the last transaction's loose pages were never
// written: a kill -9 left one such store, which the check used to refuse as corrupt); a DB root
// past the end of the file, or a last page past the map, is not.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openLmdbStore } from '../../store/index.js';
import { metaPagesProblem } from '../../store/lmdb-meta-pages.js';
import { makeTmpDir } from '../helpers/tmp.js';

const PAGE = 4096;
const META = 24;

async function realHead(): Promise<{ head: Buffer; fileBytes: number }> {
  const dataDir = makeTmpDir('meta-pages');
  const store = openLmdbStore({ dataDir });
  await store.commit([{ kind: 'queue-declare', queue: 'q', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }]).durable;
  await store.close();
  const file = join(dataDir, 'store', 'data.mdb');
  return { head: readFileSync(file).subarray(0, 2 * PAGE), fileBytes: statSync(file).size };
}

/** Sets a u64 field of both meta pages. */
function setBoth(head: Buffer, offsetInMeta: number, value: number): Buffer {
  const out = Buffer.from(head);
  for (const at of [0, PAGE]) out.writeBigUInt64LE(BigInt(value), at + META + offsetInMeta);
  return out;
}

test('a last page just past the end of the file (loose pages never written) is sound; roots past it and a last page past the map are not', async () => {
  const { head, fileBytes } = await realHead();
  const filePages = fileBytes / PAGE;
  assert.equal(metaPagesProblem(head, fileBytes), null);
  // Last page (u64 at 120) one and several pages past the file's end.
  assert.equal(metaPagesProblem(setBoth(head, 120, filePages), fileBytes), null);
  assert.equal(metaPagesProblem(setBoth(head, 120, filePages + 40), fileBytes), null);
  // The main DB's root (u64 at 72 + 40) past the file's end: LMDB would read it.
  const rootPast = setBoth(setBoth(head, 120, filePages + 2), 112, filePages);
  assert.match(metaPagesProblem(rootPast, fileBytes) ?? '', /main DB root page .* is outside/);
  // A last page past the map size (u64 at 16): garbage.
  const mapPages = Number(head.readBigUInt64LE(META + 16)) / PAGE;
  assert.match(metaPagesProblem(setBoth(head, 120, mapPages + 1), fileBytes) ?? '', /last page .* is outside the file's/);
});
