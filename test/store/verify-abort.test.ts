// Issue 16: "64 random bytes: qpid-store verify died with SIGABRT". LMDB trusts its file, and a
// damaged page can kill the process reading it (measured here with 64 random bytes: SIGABRT,
// SIGSEGV and SIGBUS in 7 of 150 trials). So verify reads a stopped store in a child process
// (store/verify-process.ts) and turns such a death into a report. The damage below points every
// node of every leaf page into the page header; lmdb-js 2.9 dies on it with SIGBUS. Both the
// tool and a broker's full verify at start must report it and exit 1, not die.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openLmdbStore } from '../../store/index.js';
import { startQpidd, type BrokerProcess } from '../helpers/broker-process.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { runTool } from '../crash/crash-point-support.js';

// lmdb-js 2.9's page header (store/lmdb-meta-pages.ts): u64 pgno, u64, u16 pad, u16 flags,
// u16 lower, u16 upper, then the node offsets.
const PAGE_BYTES = 4096;
const P_LEAF = 0x02;

/** Points every node offset of every leaf page at byte 2 of its page; returns the pages hit. */
function garbleLeafPages(dataDir: string): number {
  const path = join(dataDir, 'store', 'data.mdb');
  const file = readFileSync(path);
  let pages = 0;
  for (let page = 2; (page + 1) * PAGE_BYTES <= file.length; page++) {
    const at = page * PAGE_BYTES;
    if (Number(file.readBigUInt64LE(at)) !== page || (file.readUInt16LE(at + 18) & P_LEAF) === 0) continue;
    const nodes = (file.readUInt16LE(at + 20) - 24) >> 1;
    for (let k = 0; k < nodes; k++) file.writeUInt16LE(2, at + 24 + 2 * k);
    if (nodes > 0) pages++;
  }
  writeFileSync(path, file);
  return pages;
}

const brokers: BrokerProcess[] = [];
after(() => {
  for (const b of brokers) b.kill('SIGKILL');
});

test('a page that kills its reader: qpid-store verify and a full verify at start report it (unreadable) and exit 1', { timeout: 60_000 }, async () => {
  const dataDir = makeTmpDir('verify-abort');
  const store = openLmdbStore({ dataDir });
  await store.commit([{ kind: 'queue-declare', queue: 'q', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }]).durable;
  for (let i = 1; i <= 50; i++) await store.commit([{ kind: 'enqueue', messageId: store.allocateMessageId(), targets: [{ queue: 'q', position: i }], body: Buffer.alloc(300, i), persistent: true, expiresAtMs: null }]).committed;
  await store.close();
  assert.ok(garbleLeafPages(dataDir) > 0);

  const verified = await runTool('qpid-store', ['verify', '--data-dir', dataDir]);
  assert.equal(verified.code, 1, `${verified.stdout} ${verified.stderr}`);
  assert.match(verified.stdout, /^ {2}unreadable: a page of \S+data\.mdb is unreadable: reading it .* killed the reader \(killed by SIG[A-Z]+\).*; the store is corrupt$/m);

  const broker = await startQpidd({ dataDir, args: ['--store-verify-on-start', 'full'], expectFailure: true });
  brokers.push(broker);
  const exit = await broker.exited;
  assert.equal(exit.code, 1, broker.stderr());
  assert.match(broker.stderr(), /failed its full verify at start: 1 violation\(s\), first unreadable: .*killed the reader.*\[STORE_CORRUPT\]/);
});
