// Admission of new sockets (src/amqp/admission.ts): the pending-handshake budget capped at half
// the open-file limit, the descriptor margin, and refusal episodes that start and end once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admission, admittedOne, CALM, FD_RESERVE, pendingHandshakesMax, refusedOne } from '../../src/amqp/admission.js';

test('the budget is as configured, never more than half the open-file limit', () => {
  assert.equal(pendingHandshakesMax(1000, 1024), 512);
  assert.equal(pendingHandshakesMax(1000, 20_000), 1000);
  assert.equal(pendingHandshakesMax(1000, null), 1000, 'no limit known: as configured');
  assert.equal(pendingHandshakesMax(1000, 1), 1, 'always room for one');
});

test('a socket is refused past the budget, or inside the descriptor margin', () => {
  assert.equal(admission(0, 10, 100, 1024), null);
  assert.equal(admission(10, 10, 100, 1024), 'pending-handshakes');
  assert.equal(admission(0, 10, 1024 - FD_RESERVE, 1024), 'file-descriptors');
  assert.equal(admission(0, 10, 1024 - FD_RESERVE - 1, 1024), null);
  assert.equal(admission(0, 10, null, null), null);
});

test('an episode starts with the first refusal and ends, with its count, at the next admission', () => {
  let e = CALM;
  const first = refusedOne(e, 1000);
  assert.equal(first.started, true);
  e = first.episode;
  for (let i = 0; i < 5; i++) {
    const next = refusedOne(e, 1000 + i);
    assert.equal(next.started, false);
    e = next.episode;
  }
  const over = admittedOne(e, 4000);
  assert.deepEqual(over.ended, { refused: 6, durationMs: 3000 });
  assert.equal(admittedOne(over.episode, 5000).ended, null, 'nothing to end when calm');
});
