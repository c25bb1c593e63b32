// LMDB's two meta pages, checked before the environment is opened (issue 16). LMDB trusts its
// file and keeps no checksum of its meta pages: garbage there made the native code read wild
// pointers; and a damaged field in the newer page silently made LMDB use the older one, i.e. the
// store as it was one transaction earlier (the corruption bench found every message of a
// store gone that way, with verify passing). LMDB writes the two pages alternately, so a sound
// pair is two well-formed pages whose transaction ids differ by one and whose fixed fields
// agree. A store whose pair is not sound is refused (STORE_CORRUPT), never opened.
//
// Layout, as lmdb-js 2.9's LMDB writes it (24-byte page header): at the page start u64 pgno, u64
// (zero), u16 pad, u16 flags (P_META 0x08); at 24 the meta: u32 magic, u32 data version,
// u64 address, u64 map size, then the free and main DB records (48 bytes each: u32 pad (the free
// DB's holds the page size), u16 flags, u16 depth, u64 branch, leaf and overflow pages, u64
// entries, u64 root), u64 last page, u64 txnid, u32 (the same in both pages). Pure.

const PAGE_BYTES = 4096;
const MAGIC = 0xbeefc0de;
const DATA_VERSION = 2;
const P_META = 0x08;
const P_INVALID = 2 ** 64 - 1;
const M = 24; // where the meta starts in its page

interface DbRecord {
  readonly pad: number;
  readonly flags: number;
  readonly depth: number;
  readonly pages: number;
  readonly root: number;
}

interface MetaPage {
  readonly index: number;
  readonly address: bigint;
  readonly mapSize: bigint;
  readonly free: DbRecord;
  readonly main: DbRecord;
  readonly lastPage: number;
  readonly txnid: number;
  readonly tail: number;
}

function u64(b: Buffer, offset: number): number {
  return Number(b.readBigUInt64LE(offset));
}

function dbRecord(b: Buffer, offset: number): DbRecord {
  return {
    pad: b.readUInt32LE(offset),
    flags: b.readUInt16LE(offset + 4),
    depth: b.readUInt16LE(offset + 6),
    pages: u64(b, offset + 8) + u64(b, offset + 16) + u64(b, offset + 24),
    root: u64(b, offset + 40),
  };
}

/** Reads meta page `index` from the file's first two pages; a reason when it is not one. */
function readMeta(head: Buffer, index: number, filePages: number): MetaPage | string {
  const at = index * PAGE_BYTES;
  if (head.length < at + M + 0xa0 - M + 4) return 'missing (the file is too short)';
  if (u64(head, at) !== index) return `its page number is ${u64(head, at)}`;
  if (head.readUInt16LE(at + 18) !== P_META) return `its page flags are ${head.readUInt16LE(at + 18).toString(16)}, not P_META`;
  if (head.readUInt32LE(at + M) !== MAGIC) return "it lacks LMDB's magic";
  if (head.readUInt32LE(at + M + 4) !== DATA_VERSION) return `its data version is ${head.readUInt32LE(at + M + 4)}, not ${DATA_VERSION}`;
  const free = dbRecord(head, at + M + 24);
  const main = dbRecord(head, at + M + 72);
  const lastPage = u64(head, at + M + 120);
  const txnid = u64(head, at + M + 128);
  if (free.pad !== PAGE_BYTES) return `its page size is ${free.pad}, not ${PAGE_BYTES}`;
  // The last page may lie past the end of the file: pages a transaction took at the end and
  // freed again before its commit (LMDB's loose pages) go to the freelist unwritten
  // (mdb_freelist_save), so the file can end before them. A kill -9 right after such a commit
  // left a store whose meta said page 22 of a 22-page file, sound to LMDB (test
  // manager/kill-primary). New pages are taken from there up to the map size; the roots, which
  // LMDB reads, must be in the file.
  const mapPages = Math.floor(Number(head.readBigUInt64LE(at + M + 16)) / PAGE_BYTES);
  if (lastPage < 1 || lastPage >= Math.max(filePages, mapPages)) return `its last page ${lastPage} is outside the file's ${filePages} pages and the map's ${mapPages}`;
  for (const [name, db] of [['free', free], ['main', main]] as const) {
    if (db.depth > 32) return `its ${name} DB depth is ${db.depth}`;
    if (db.root !== P_INVALID && (db.root < 2 || db.root > lastPage || db.root >= filePages)) return `its ${name} DB root page ${db.root} is outside 2..${Math.min(lastPage, filePages - 1)}`;
    if (db.pages > lastPage) return `its ${name} DB counts ${db.pages} pages, more than the ${lastPage} in use`;
  }
  return { index, address: head.readBigUInt64LE(at + M + 8), mapSize: head.readBigUInt64LE(at + M + 16), free, main, lastPage, txnid, tail: head.readUInt32LE(at + M + 136) };
}

/** Why the file's meta pages are not a sound pair, or null when they are (or the file is new:
 * empty). `head` holds at least the first two pages. */
export function metaPagesProblem(head: Buffer, fileBytes: number): string | null {
  if (fileBytes === 0) return null;
  const filePages = Math.floor(fileBytes / PAGE_BYTES);
  const pages = [readMeta(head, 0, filePages), readMeta(head, 1, filePages)];
  const bad = pages.map((p, i) => (typeof p === 'string' ? `meta page ${i} ${p}` : null)).filter((p): p is string => p !== null);
  if (bad.length > 0) return `${bad.join('; ')}: LMDB would read wild pointers, or fall back to the other page and lose the latest transaction`;
  const [a, b] = pages as [MetaPage, MetaPage];
  if (Math.abs(a.txnid - b.txnid) > 1) return `the meta pages' transaction ids (${a.txnid}, ${b.txnid}) are not consecutive: one is damaged, and LMDB would use the wrong one`;
  const differing = [
    a.address !== b.address && 'address',
    a.main.pad !== b.main.pad && 'main DB pad',
    a.main.flags !== b.main.flags && 'main DB flags',
    a.tail !== b.tail && 'trailer',
  ].filter((x): x is string => x !== false);
  if (differing.length > 0) return `the meta pages disagree on their ${differing.join(', ')}: one is damaged`;
  const newer = a.txnid >= b.txnid ? a : b;
  const older = newer === a ? b : a;
  if (older.lastPage > newer.lastPage + 1024 * 1024) return `meta page ${older.index} says ${older.lastPage} pages are in use, meta page ${newer.index} ${newer.lastPage}: one is damaged`;
  return null;
}

export const META_HEAD_BYTES = 2 * PAGE_BYTES;
