// Issue 19, the handshake deadline and the pre-handshake budget, against real qpidd processes:
// 4,000 silent sockets were all still open after 70 s, and under `ulimit -n 1024` 1,100 idle
// sockets locked every legitimate client out with nothing logged. Now a socket that has not
// completed its AMQP open by --handshake-timeout is dropped; at most --max-pending-handshakes
// (never more than half the open-file limit) wait, further ones are closed at once; descriptors
// running short refuse new sockets too; each refusal episode is logged once. Meanwhile clients
// already connected are served within 100 ms, and new ones as soon as there is room.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect as tcpConnect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AMQP_HEADER, SASL_HEADER } from '../helpers/amqp-encode.js';
import { connect, type TestConnection } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, waitFor, type BrokerProcess } from '../helpers/broker-process.js';
import { assertHealthy, assertServedDuring, figure, Probe } from './support.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) removeDir(dir);
});

async function broker(args: string[], openFileLimit?: number): Promise<BrokerProcess> {
  const dataDir = tempDir();
  dirs.push(dataDir);
  return startQpidd({ dataDir, args, ...(openFileLimit ? { openFileLimit } : {}) });
}

interface Silent {
  readonly socket: Socket;
  readonly openedAtMs: number;
  closedAtMs: number | null;
}

/** `count` sockets that connect and then say nothing more than `prefix` (in parallel batches,
 * so the listen backlog is not what refuses them). */
async function openSilent(port: number, count: number, prefix: Buffer = Buffer.alloc(0)): Promise<Silent[]> {
  const sockets: Silent[] = [];
  const batch = 200;
  for (let start = 0; start < count; start += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, count - start) }, () =>
        new Promise<void>((resolve) => {
          const socket = tcpConnect(port, '127.0.0.1');
          const entry: Silent = { socket, openedAtMs: Date.now(), closedAtMs: null };
          sockets.push(entry);
          socket.on('error', () => {});
          // Read (and ignore) what the broker says, or the end of the stream is never seen.
          socket.resume();
          socket.on('close', () => {
            entry.closedAtMs = Date.now();
            resolve();
          });
          socket.once('connect', () => {
            if (prefix.length > 0) socket.write(prefix);
            resolve();
          });
        }),
      ),
    );
  }
  return sockets;
}

const stillOpen = (sockets: readonly Silent[]): number => sockets.filter((s) => s.closedAtMs === null).length;

interface FloodOpen {
  readonly attempted: number;
  readonly openNow: number;
  readonly ms: number;
}
interface FloodDone {
  readonly stillOpen: number;
  readonly closedAtOnce: number;
  readonly shortestMs: number;
  readonly longestMs: number;
}

/** A flood of silent sockets from another process (silent-flood.ts), so that this process's
 * probe measures the broker, not the flood's own event loop. */
function flood(port: number, count: number, waitMs: number): { opened: Promise<FloodOpen>; done: Promise<FloodDone>; openNow(): number; stop(): void } {
  const child = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'silent-flood.js'), String(port), String(count), '', String(waitMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  let resolveOpened: (o: FloodOpen) => void = () => {};
  let resolveDone: (d: FloodDone) => void = () => {};
  const opened = new Promise<FloodOpen>((r) => (resolveOpened = r));
  const done = new Promise<FloodDone>((r) => (resolveDone = r));
  let openNow = count;
  lines.on('line', (line) => {
    const report = JSON.parse(line) as { phase: string; openNow?: number };
    if (report.openNow !== undefined) openNow = report.openNow;
    if (report.phase === 'open') resolveOpened(report as unknown as FloodOpen);
    if (report.phase === 'done') resolveDone(report as unknown as FloodDone);
  });
  return { opened, done, openNow: () => openNow, stop: () => child.kill('SIGKILL') };
}

test('issue 19: 4,000 silent sockets are dropped at --handshake-timeout while another client is served', async () => {
  const qpidd = await broker(['--handshake-timeout', '5', '--max-pending-handshakes', '5000']);
  const probe = await Probe.open(qpidd.port);
  const attack = flood(qpidd.port, 4000, 20_000);
  try {
    const trips = probe.during(2000);
    const opened = await attack.opened;
    assertServedDuring(await trips, '4,000 silent sockets arriving');
    figure({ what: '4000 silent sockets opened', ...opened });
    assert.equal(opened.attempted, 4000);
    assert.ok(opened.openNow >= 3000, `the broker holds them while they wait: ${opened.openNow} open`);
    // Every one is dropped by the broker once its deadline passes, and none before it.
    const done = await attack.done;
    figure({ what: '4000 silent sockets dropped', ...done });
    assert.equal(done.stillOpen, 0, 'every silent socket dropped');
    assert.ok(done.shortestMs >= 4900, `one was dropped after ${done.shortestMs} ms, before the 5 s deadline`);
    assert.ok(done.longestMs < 5000 + 5000, `one was dropped ${done.longestMs} ms after connecting`);
    await assertHealthy(qpidd, probe);
  } finally {
    attack.stop();
    await probe.close();
    await qpidd.stop();
  }
});

test('every stage of an unfinished handshake is dropped at the deadline: part of a header, SASL, no open', async () => {
  const qpidd = await broker(['--handshake-timeout', '1']);
  const probe = await Probe.open(qpidd.port);
  try {
    const stages = [Buffer.from('AMQ'), SASL_HEADER, AMQP_HEADER, Buffer.concat([SASL_HEADER, Buffer.from([0, 0, 0, 30, 2, 1, 0, 0, 0x00, 0x53, 0x41, 0xc0, 0x13, 0x02, 0xa3, 0x09])])];
    const groups = await Promise.all(stages.map((prefix) => openSilent(qpidd.port, 10, prefix)));
    await waitFor(() => groups.every((g) => stillOpen(g) === 0), 'all dropped', 10_000, 100);
    for (const group of groups) for (const s of group) assert.ok((s.closedAtMs as number) - s.openedAtMs >= 900, 'not before the deadline');
    // A client that completes its handshake is not dropped at the deadline.
    const conn = await connect(qpidd.port);
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(conn.connection.is_open(), 'an opened connection outlives the handshake deadline');
    await conn.close();
    await assertHealthy(qpidd, probe);
  } finally {
    await probe.close();
    await qpidd.stop();
  }
});

test('past --max-pending-handshakes new sockets are closed at once, logged once; room again after the deadline', async () => {
  const qpidd = await broker(['--handshake-timeout', '2', '--max-pending-handshakes', '100']);
  const probe = await Probe.open(qpidd.port);
  try {
    const sockets = await openSilent(qpidd.port, 300);
    await waitFor(() => stillOpen(sockets) <= 100, 'all but the budget closed at once', 1500, 20);
    const refusedAtOnce = sockets.filter((s) => s.closedAtMs !== null && s.closedAtMs - s.openedAtMs < 1000).length;
    assert.ok(refusedAtOnce >= 200, `${refusedAtOnce} closed at once`);
    // A new client now finds no room (the budget is idle sockets), the connected probe is served.
    await assert.rejects(connect(qpidd.port), /disconnected|refused|timed out/);
    assertServedDuring(await probe.during(500), 'with the budget full');
    const warnings = qpidd.logs.filter((l) => l.msg === 'refusing new sockets');
    assert.equal(warnings.length, 1, 'one warning for the episode');
    assert.equal(warnings[0]?.['reason'], 'pending-handshakes');
    // Once the idle ones are dropped, new clients are taken again, and the episode's end says how
    // many were refused.
    await waitFor(() => stillOpen(sockets) === 0, 'the budget dropped at the deadline', 10_000, 100);
    const conn = await connect(qpidd.port);
    await conn.close();
    const ended = await qpidd.waitForLog((l) => l.msg === 'accepting new sockets again');
    assert.ok(Number(ended['refused']) >= 201, `episode end: ${JSON.stringify(ended)}`);
    await assertHealthy(qpidd, probe);
  } finally {
    await probe.close();
    await qpidd.stop();
  }
});

test('issue 19: under ulimit -n 1024 a flood of idle sockets cannot lock clients out; descriptors running short is logged once', async () => {
  const qpidd = await broker(['--handshake-timeout', '4', '--max-connections', '1000'], 1024);
  const probe = await Probe.open(qpidd.port);
  const clients: TestConnection[] = [];
  const attacks: { stop(): void }[] = [];
  try {
    const limits = await qpidd.waitForLog((l) => l.msg === 'handshake limits');
    assert.equal(limits['openFileLimit'], 1024);
    assert.equal(limits['maxPendingHandshakes'], 512, 'the budget is capped at half the open-file limit');
    // 600 legitimate connections hold descriptors...
    for (let i = 0; i < 600; i++) clients.push(await connect(qpidd.port));
    // ...then 1,100 idle sockets: the budget and the descriptor margin refuse what does not fit.
    const trips = probe.during(2000);
    const idle = flood(qpidd.port, 1100, 20_000);
    attacks.push(idle);
    const opened = await idle.opened;
    assertServedDuring(await trips, 'the idle flood under ulimit -n 1024');
    // Connected is not yet accepted: the kernel's listen backlog holds some until the broker
    // gets to them, and closes them.
    await waitFor(() => idle.openNow() < 512, 'the idle sockets beyond the budget and the margin closed', 5000, 50);
    figure({ what: 'ulimit 1024 flood', ...opened, idleHeld: idle.openNow() });
    const warning = await qpidd.waitForLog((l) => l.msg === 'refusing new sockets' && l['reason'] === 'file-descriptors');
    assert.ok(warning);
    assert.equal(qpidd.logs.filter((l) => l.msg === 'refusing new sockets' && l['reason'] === 'file-descriptors').length, 1, 'logged once for the episode');
    // Descriptors freed by clients leaving are used for new clients at once, flood or not.
    for (const conn of clients.splice(0, 300)) await conn.close();
    await waitFor(async () => {
      try {
        const fresh = await connect(qpidd.port);
        await fresh.close();
        return true;
      } catch {
        return false;
      }
    }, 'a new client served while the idle sockets still wait', 3000, 50);
    // After the deadline the flood is gone and the broker is as it was.
    const done = await idle.done;
    assert.equal(done.stillOpen, 0, 'the flood dropped at the deadline');
    assert.ok(done.longestMs > 3900, 'some idle sockets waited for their deadline (the flood was still there)');
    await assertHealthy(qpidd, probe);
  } finally {
    for (const attack of attacks) attack.stop();
    for (const conn of clients) await conn.close();
    await probe.close();
    await qpidd.stop();
  }
});
