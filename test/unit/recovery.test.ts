// A promoted primary's recovery (src/ha/recovery.ts), driven directly: whom it waits for, when it
// becomes active, and that nothing after activation changes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { awaited, RECOVERED, recoveryStep } from '../../src/ha/recovery.js';

const members = [
  { name: 'b0', state: 'active' },
  { name: 'b1', state: 'ready' },
  { name: 'b2', state: 'ready' },
  { name: 'b3', state: 'catchup' },
];

test('a promoted backup waits for the backups that were ready under the old primary, not for itself nor a catching-up one', () => {
  const { state, actions } = recoveryStep(RECOVERED, { kind: 'promoted', mode: 'promotion', self: 'b1', members });
  assert.deepEqual(awaited(state), ['b2']);
  assert.equal(state.phase, 'recovering');
  assert.deepEqual(actions, [{ kind: 'arm-timer' }]);
});

test('after a total failure (local recovery) nothing is awaited: active at once', () => {
  const { state, actions } = recoveryStep(RECOVERED, { kind: 'promoted', mode: 'local', self: 'b1', members });
  assert.equal(state.phase, 'active');
  assert.deepEqual(actions, [{ kind: 'activate', reason: 'no backups expected' }]);
});

test('active once every awaited backup is ready again; others becoming ready change nothing', () => {
  let { state } = recoveryStep(RECOVERED, { kind: 'promoted', mode: 'promotion', self: 'b0', members: [...members, { name: 'b4', state: 'ready' }] });
  assert.deepEqual(awaited(state), ['b1', 'b2', 'b4']);
  let step = recoveryStep(state, { kind: 'membership', ready: ['b3', 'b2'] });
  assert.deepEqual(awaited(step.state), ['b1', 'b4']);
  assert.deepEqual(step.actions, []);
  state = step.state;
  step = recoveryStep(state, { kind: 'membership', ready: ['b1', 'b2', 'b4'] });
  assert.deepEqual(step.actions, [{ kind: 'activate', reason: 'every expected backup is ready' }]);
  assert.equal(step.state.phase, 'active');
  assert.deepEqual(recoveryStep(step.state, { kind: 'timeout' }).actions, [], 'a timer that fires late does nothing');
});

test('--ha-backup-timeout: active without the backups that did not return, named in the reason', () => {
  const { state } = recoveryStep(RECOVERED, { kind: 'promoted', mode: 'promotion', self: 'b3', members });
  const { state: after, actions } = recoveryStep(state, { kind: 'timeout' });
  assert.equal(after.phase, 'active');
  assert.deepEqual(actions, [{ kind: 'activate', reason: 'ha-backup-timeout: b1, b2 did not become ready' }]);
  assert.deepEqual(recoveryStep(after, { kind: 'membership', ready: ['b1'] }).actions, []);
});
