// Issue 3, bad input, against a real qpidd: bytes that are not AMQP, malformed frames, protocol
// violations and oversized frames close that one connection with the right AMQP error (read
// back from the broker's close frame on a raw socket), oversized and malformed messages are
// rejected; a data dir in use, a corrupt store and a store of a newer format stop qpidd at
// startup with exit code 1 and the store's error text. Every case ends by checking that the
// broker still serves another connection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { connect, openSender, sendAll } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { assertServes, queueNode, runQpidd, uniqueName } from './support.js';

const require = createRequire(import.meta.url);
// rhea's frame codec, to speak (and misspeak) AMQP on a raw socket.
const frames = require('rhea/lib/frames.js') as {
  write_frame(frame: unknown): Buffer;
  read_frame(buffer: Buffer): { performative?: { constructor: { toString(): string }; error?: { condition?: unknown; description?: unknown } } } | null;
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
  open(fields: Record<string, unknown>): { described(): unknown };
  begin(fields: Record<string, unknown>): { described(): unknown };
  attach(fields: Record<string, unknown>): { described(): unknown };
  transfer(fields: Record<string, unknown>): { described(): unknown };
};

const AMQP_HEADER = Buffer.from('AMQP\x00\x01\x00\x00', 'latin1');
const frame = (channel: number, performative: { described(): unknown }, payload?: Buffer): Buffer => frames.write_frame(frames.amqp_frame(channel, performative.described(), payload));
const OPEN = frame(0, frames.open({ container_id: 'raw-test-peer' }));
const BEGIN = frame(0, frames.begin({ next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100 }));

interface RawResult {
  /** Everything the broker sent. */
  readonly bytes: Buffer;
  /** Whether the broker closed the socket before the deadline. */
  readonly closedByBroker: boolean;
  /** The performatives it sent after its header, e.g. ['open', 'close']. */
  readonly performatives: string[];
  /** The error of its close frame, if it sent one. */
  readonly closeError?: { condition: string; description: string };
}

/** Writes the chunks to a fresh socket (a short pause between them, so each is read on its own)
 * and collects what the broker answers until it closes the socket or the deadline passes. */
function rawExchange(port: number, chunks: readonly Buffer[], timeoutMs = 3000): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    let bytes = Buffer.alloc(0);
    let finished = false;
    const finish = (closedByBroker: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      const performatives: string[] = [];
      let closeError: RawResult['closeError'];
      // Skip the 8-byte protocol header, then read whole frames.
      let offset = bytes.subarray(0, 4).toString('latin1') === 'AMQP' ? 8 : 0;
      while (offset + 4 <= bytes.length) {
        const size = bytes.readUInt32BE(offset);
        if (size < 8 || offset + size > bytes.length) break;
        const f = frames.read_frame(bytes.subarray(offset, offset + size));
        const name = f?.performative ? String(f.performative.constructor).replace(/#.*/, '') : 'empty';
        performatives.push(name);
        if (name === 'close' && f?.performative?.error) closeError = { condition: String(f.performative.error.condition), description: String(f.performative.error.description) };
        offset += size;
      }
      resolve({ bytes, closedByBroker, performatives, ...(closeError ? { closeError } : {}) });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (d: Buffer) => (bytes = Buffer.concat([bytes, d])));
    socket.on('close', () => finish(true));
    socket.on('error', (err) => (finished ? undefined : reject(err)));
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        await new Promise((r) => setTimeout(r, 30));
      }
    });
  });
}

let broker: BrokerProcess;
let dataDir: string;

before(async () => {
  dataDir = tempDir();
  broker = await startQpidd({ dataDir, args: ['--max-message-size', '10000'] });
});

after(async () => {
  await broker?.stop();
  removeDir(dataDir);
});

test('bytes that are not AMQP: the broker answers with its protocol header and closes (AMQP 1.0 §2.2)', async () => {
  const result = await rawExchange(broker.port, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
  assert.ok(result.closedByBroker, 'socket closed by the broker');
  assert.deepEqual(result.bytes, AMQP_HEADER);
  await assertServes(broker.port);
});

test('a malformed frame closes the connection with amqp:decode-error', async () => {
  const garbage = Buffer.from([0, 0, 0, 16, 2, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
  const result = await rawExchange(broker.port, [AMQP_HEADER, OPEN, garbage]);
  assert.ok(result.closedByBroker);
  assert.deepEqual(result.performatives, ['open', 'close']);
  assert.equal(result.closeError?.condition, 'amqp:decode-error');
  await assertServes(broker.port);
});

test('a broken frame header closes the connection with amqp:connection:framing-error', async () => {
  for (const bad of [Buffer.from([0, 0, 0, 8, 1, 0, 0, 0]), Buffer.from([0, 0, 0, 8, 2, 9, 0, 0])]) {
    const result = await rawExchange(broker.port, [AMQP_HEADER, OPEN, bad]);
    assert.ok(result.closedByBroker);
    assert.equal(result.closeError?.condition, 'amqp:connection:framing-error', JSON.stringify(result.closeError));
  }
  await assertServes(broker.port);
});

test('an oversized frame is refused before it is buffered: amqp:connection:framing-error', async () => {
  // Announce a 1 GiB frame and send only its start: the broker must not wait for (or buffer) it.
  const announced = Buffer.alloc(64);
  announced.writeUInt32BE(1024 ** 3, 0);
  announced.writeUInt8(2, 4);
  const result = await rawExchange(broker.port, [AMQP_HEADER, OPEN, announced]);
  assert.ok(result.closedByBroker);
  assert.equal(result.closeError?.condition, 'amqp:connection:framing-error');
  assert.match(result.closeError?.description ?? '', /max-frame-size/);
  await assertServes(broker.port);
});

test('protocol violations close the connection with the matching error', async () => {
  const transferOnUnattachedHandle = frame(0, frames.transfer({ handle: 7, delivery_id: 0, delivery_tag: Buffer.from('x') }), Buffer.from([0x00, 0x53, 0x77, 0xa1, 0x01, 0x61]));
  const unattached = await rawExchange(broker.port, [AMQP_HEADER, OPEN, BEGIN, transferOnUnattachedHandle]);
  assert.ok(unattached.closedByBroker);
  assert.equal(unattached.closeError?.condition, 'amqp:session:unattached-handle');

  const attachWithoutBegin = frame(3, frames.attach({ name: 'orphan', handle: 0, role: false }));
  const unbegun = await rawExchange(broker.port, [AMQP_HEADER, OPEN, attachWithoutBegin]);
  assert.ok(unbegun.closedByBroker);
  assert.equal(unbegun.closeError?.condition, 'amqp:not-allowed');
  await assertServes(broker.port);
});

test('a message over --max-message-size is rejected; the link and connection go on', async () => {
  const conn = await connect(broker.port);
  try {
    const sender = await openSender(conn.connection, queueNode(uniqueName('size')));
    const outcomes = await sendAll(sender, [{ body: 'x'.repeat(20_000) }, { body: 'small' }]);
    assert.equal(outcomes[0]?.state, 'rejected');
    assert.equal(outcomes[0]?.condition, 'amqp:link:message-size-exceeded');
    assert.match(outcomes[0]?.description ?? '', /max-message-size 10000/);
    assert.equal(outcomes[1]?.state, 'accepted');
  } finally {
    await conn.close();
  }
  await assertServes(broker.port);
});

test('a transfer whose bytes are not an AMQP message is rejected; the connection goes on', async () => {
  const conn = await connect(broker.port);
  try {
    const sender = await openSender(conn.connection, queueNode(uniqueName('malformed')));
    const outcome = await new Promise<{ state: string; description?: string }>((resolve) => {
      sender.once('rejected', (ctx) => resolve({ state: 'rejected', description: String((ctx.delivery as unknown as { remote_state?: { error?: { description?: unknown } } }).remote_state?.error?.description) }));
      sender.once('accepted', () => resolve({ state: 'accepted' }));
      // Pre-encoded bytes (format 0): a described type the message grammar does not have.
      sender.send(Buffer.from([0x00, 0x53, 0x99, 0x45]) as never, undefined as never, 0);
    });
    assert.equal(outcome.state, 'rejected');
    assert.match(outcome.description ?? '', /malformed message/);
    assert.deepEqual((await sendAll(sender, [{ body: 'fine' }])).map((o) => o.state), ['accepted']);
  } finally {
    await conn.close();
  }
  await assertServes(broker.port);
});

test('a data dir in use: a second qpidd exits 1 naming the lock and its holder', async () => {
  const result = await runQpidd(['--data-dir', dataDir, '--port', '0']);
  assert.equal(result.code, 1);
  assert.ok(result.stderr.includes(`Cannot lock ${join(dataDir, 'lock')}: held by pid ${broker.child.pid}`), result.stderr);
  assert.match(result.stderr, /STORE_LOCKED/);
  assert.equal(readFileSync(join(dataDir, 'lock'), 'utf8').trim(), String(broker.child.pid), 'the lock still names the running broker');
  await assertServes(broker.port);
});

/** A stopped broker's data dir with its meta table's formatVersion replaced, written through
 * LMDB itself (the same way the store writes it). */
async function storeWithFormatVersion(text: string): Promise<string> {
  const dir = tempDir();
  const first = await startQpidd({ dataDir: dir });
  assert.equal((await first.stop()).code, 0);
  const env = openLmdb({ path: join(dir, 'store'), maxDbs: 8, pageSize: 4096 } as never);
  const meta = env.openDB({ name: 'meta', encoding: 'binary', keyEncoding: 'ordered-binary' } as never);
  await meta.put('formatVersion', Buffer.from(text));
  await env.close();
  return dir;
}

const digest = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

test('a store of a newer format: qpidd exits 1 with the store\'s error and leaves it as it was', async () => {
  const dir = await storeWithFormatVersion('999');
  try {
    const before = digest(join(dir, 'store', 'data.mdb'));
    const result = await runQpidd(['--data-dir', dir, '--port', '0']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /has format version 999; this broker understands up to \d+ \[STORE_NEWER_FORMAT\]/);
    assert.equal(digest(join(dir, 'store', 'data.mdb')), before, 'store untouched');
    assert.equal(existsSync(join(dir, 'lock')), false, 'lock released');
  } finally {
    removeDir(dir);
  }
  await assertServes(broker.port);
});

test('a corrupt store: qpidd exits 1 naming what is garbled', async () => {
  const dir = await storeWithFormatVersion('not-a-number');
  try {
    const result = await runQpidd(['--data-dir', dir, '--port', '0']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /meta table key 'formatVersion' is garbled: "not-a-number" \[STORE_CORRUPT\]/);
    assert.equal(existsSync(join(dir, 'lock')), false, 'lock released');
  } finally {
    removeDir(dir);
  }
  await assertServes(broker.port);
});

test('a store file overwritten with garbage: qpidd exits 1 with a store error', async () => {
  const dir = tempDir();
  try {
    const first = await startQpidd({ dataDir: dir });
    assert.equal((await first.stop()).code, 0);
    const file = join(dir, 'store', 'data.mdb');
    const bytes = readFileSync(file);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
    writeFileSync(file, bytes);
    const result = await runQpidd(['--data-dir', dir, '--port', '0']);
    assert.equal(result.signal, null, `qpidd died of ${result.signal}`);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /STORE_CORRUPT|STORE_IO/);
  } finally {
    removeDir(dir);
  }
  await assertServes(broker.port);
});
