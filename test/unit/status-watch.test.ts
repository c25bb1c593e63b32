// `status` as a long poll (src/ha/status-watch.ts): an answer waits while the broker's role is
// what the asker last saw, and comes at once when it changes, or when the wait is over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, TimerHandle } from '../../src/core/clock.js';
import { StatusWatch, statusToken, STATUS_WAIT_MS_MAX } from '../../src/ha/status-watch.js';

class ManualClock implements Clock {
  now = 0;
  timers: { at: number; callback: () => void; cancelled: boolean }[] = [];
  nowMs(): number {
    return this.now;
  }
  monotonicMs(): number {
    return this.now;
  }
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer = { at: this.now + delayMs, callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }
  nextTurn(callback: () => void): void {
    this.setTimer(0, callback);
  }
  advance(ms: number): void {
    this.now += ms;
    for (const t of this.timers.filter((t) => !t.cancelled && t.at <= this.now)) {
      t.cancelled = true;
      t.callback();
    }
  }
}

const settled = async (p: Promise<void>): Promise<boolean> => Promise.race([p.then(() => true), new Promise<boolean>((r) => setImmediate(() => r(false)))]);

test('the token names the role: state, whether a primary is followed, and the epoch', () => {
  assert.notEqual(statusToken({ state: 'ready', connectedToPrimary: true, epoch: 3 }), statusToken({ state: 'ready', connectedToPrimary: false, epoch: 3 }));
  assert.notEqual(statusToken({ state: 'ready', connectedToPrimary: true, epoch: 3 }), statusToken({ state: 'ready', connectedToPrimary: true, epoch: 4 }));
  assert.notEqual(statusToken({ state: 'ready', connectedToPrimary: false, epoch: 3 }), statusToken({ state: 'recovering', connectedToPrimary: false, epoch: 3 }));
});

test('an answer waits while nothing changed, comes when the role changes, and at the latest after the wait', async () => {
  const clock = new ManualClock();
  let token = 'ready/following/3';
  const watch = new StatusWatch(clock, () => token);
  assert.equal(await settled(watch.changed('ready/alone/3', 5000)), true, 'already different: at once');

  const waiting = watch.changed(token, 5000);
  watch.notify();
  assert.equal(await settled(waiting), false, 'a notification with nothing changed does not answer');
  token = 'ready/alone/3';
  watch.notify();
  assert.equal(await settled(waiting), true, 'the loss of the primary answers at once');

  const idle = watch.changed(token, 5000);
  clock.advance(4999);
  assert.equal(await settled(idle), false);
  clock.advance(1);
  assert.equal(await settled(idle), true, 'the wait is over: answered unchanged');

  const capped = watch.changed(token, STATUS_WAIT_MS_MAX * 10);
  clock.advance(STATUS_WAIT_MS_MAX);
  assert.equal(await settled(capped), true, `never longer than ${STATUS_WAIT_MS_MAX} ms`);
});
