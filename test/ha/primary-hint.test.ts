// Where a backup that lost its primary looks next (issue 17: a failover's time is mostly the
// new primary waiting for a backup to join). The cluster manager hints the broker its key was
// given to, before that broker is primary: the backup must keep trying there, often, rather than
// once and then back round the URL list every 20 ms. Drives the production BackupReplicator on
// the memory store with a connector whose every broker refuses, on a clock the test steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryDisk, openMemoryStore } from '../../store/index.js';
import { silentLogger } from '../../src/core/log.js';
import type { Clock, TimerHandle } from '../../src/core/clock.js';
import { BackupReplicator, type ChannelEvents, type ConnectOptions, type ReplicationChannel, type ReplicationConnector } from '../../src/ha/backup.js';
import { formatAddress, type QpidAddress } from '../../src/core/qpid-url.js';

class SteppedClock implements Clock {
  private now = 0;
  private timers: { at: number; callback: () => void; cancelled: boolean }[] = [];
  nowMs(): number {
    return this.now;
  }
  monotonicMs(): number {
    return this.now;
  }
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer = { at: this.now + Math.max(0, delayMs), callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }
  nextTurn(callback: () => void): void {
    this.setTimer(0, callback);
  }
  /** Runs every timer due up to `untilMs`, in time order. */
  advanceTo(untilMs: number): void {
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= untilMs).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers.splice(this.timers.indexOf(due), 1);
      this.now = due.at;
      due.callback();
    }
    this.now = untilMs;
  }
}

/** Every broker drops the replication connection (none is primary yet): records who was tried. */
class RefusingConnector implements ReplicationConnector {
  readonly attempts: { atMs: number; address: string; expectPromotion: boolean; closed: boolean }[] = [];
  /** Addresses that hold a connection open (a broker holding a join for its promotion). */
  readonly holding = new Set<string>();
  constructor(private readonly clock: Clock) {}
  connect(address: QpidAddress, events: ChannelEvents, options: ConnectOptions = {}): ReplicationChannel {
    const attempt = { atMs: this.clock.monotonicMs(), address: formatAddress(address), expectPromotion: options.expectPromotion === true, closed: false };
    this.attempts.push(attempt);
    if (!this.holding.has(attempt.address)) this.clock.setTimer(1, () => events.closed({ kind: 'lost', description: 'disconnected' }));
    return { send: () => undefined, processed: () => undefined, close: () => void (attempt.closed = true) } as unknown as ReplicationChannel;
  }
}

const address = (port: number): QpidAddress => ({ transport: 'tcp', host: '127.0.0.1', port });

function readyBackup(clock: SteppedClock, connector: ReplicationConnector): BackupReplicator {
  const addresses = [address(1), address(2), address(3)];
  return new BackupReplicator({
    store: openMemoryStore(new MemoryDisk(), { autoFlush: true }),
    connector,
    clock,
    logger: silentLogger,
    name: 'b1',
    selfAddress: '127.0.0.1:1',
    addresses,
    maintenanceIntervalMs: 2000,
    heartbeatMs: 1000,
    initialState: 'ready',
    onState: () => undefined,
    onPrimary: () => undefined,
    onMembers: () => undefined,
    epochSeen: () => 0,
    noteEpoch: () => undefined,
    onFatal: (err) => assert.fail(String(err)),
  });
}

test('a hinted primary is tried every few ms, and no other broker, until the hint window ends', () => {
  const clock = new SteppedClock();
  const connector = new RefusingConnector(clock);
  const backup = readyBackup(clock, connector);
  backup.start();
  clock.advanceTo(10);
  assert.ok(connector.attempts.length > 0, 'it looks for a primary');
  assert.ok(!connector.attempts.some((a) => a.address === '127.0.0.1:1'), 'never itself');

  assert.equal(backup.primaryAt('127.0.0.1:9'), false, 'a hint outside --ha-brokers-url is ignored');
  assert.equal(backup.primaryAt('127.0.0.1:1'), false, 'a hint naming this broker is ignored');
  assert.equal(backup.primaryAt('127.0.0.1:3'), true);
  const hintedAt = connector.attempts.length;
  clock.advanceTo(110);
  const during = connector.attempts.slice(hintedAt);
  assert.ok(during.every((a) => a.address === '127.0.0.1:3'), `only the hinted broker while the hint lasts: ${JSON.stringify(during.slice(0, 5))}`);
  assert.ok(during.length >= 10, `tried at least every 10 ms (${during.length} attempts in 100 ms)`);
  assert.ok(during.every((a) => a.expectPromotion), 'each attempt there asks to be held for the promotion');

  // Past the window (2 s) the backup goes back round the URL list (at its maintenance interval:
  // it never had a primary to lose here).
  clock.advanceTo(6500);
  const after = connector.attempts.filter((a) => a.atMs >= 2000);
  assert.ok(after.some((a) => a.address === '127.0.0.1:2'), 'the other brokers are tried again once the hint has lapsed');
  void backup.stop();
});

test('a join held at a hinted broker is given up for a newer hint, and only the hinted address is asked to hold it', () => {
  const clock = new SteppedClock();
  const connector = new RefusingConnector(clock);
  connector.holding.add('127.0.0.1:3');
  connector.holding.add('127.0.0.1:2');
  const backup = readyBackup(clock, connector);
  backup.start();
  clock.advanceTo(10);
  const unhinted = connector.attempts[0];
  assert.equal(unhinted?.expectPromotion, false, 'a broker found round the URL list is not asked to hold anything');

  // The first hint: b3 holds the join (its manager took the key). Its promotion fails; another
  // manager takes the key for b2, and hints again.
  backup.primaryAt('127.0.0.1:3');
  clock.advanceTo(20);
  const held = connector.attempts.filter((a) => a.address === '127.0.0.1:3');
  assert.equal(held.length, 1, 'one connection, held open');
  assert.equal(held[0]?.expectPromotion, true);
  backup.primaryAt('127.0.0.1:2');
  clock.advanceTo(30);
  assert.equal(held[0]?.closed, true, 'the join held at the first hinted broker is given up');
  const next = connector.attempts.filter((a) => a.address === '127.0.0.1:2' && a.atMs >= 20);
  assert.equal(next.length, 1, 'and the newly hinted broker is asked at once');
  assert.equal(next[0]?.expectPromotion, true);
  void backup.stop();
});
