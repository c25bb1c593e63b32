import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HA_STATES, IllegalTransition, isLegalTransition, transition } from '../../src/ha/role.js';

test('only the reference transitions are legal; anything else throws', () => {
  const legal = new Set(['joining>catchup', 'joining>recovering', 'catchup>ready', 'catchup>joining', 'ready>catchup', 'ready>recovering', 'recovering>active']);
  for (const from of HA_STATES) {
    for (const to of HA_STATES) {
      const key = `${from}>${to}`;
      assert.equal(isLegalTransition(from, to), legal.has(key), key);
      if (legal.has(key)) assert.equal(transition(from, to), to);
      else assert.throws(() => transition(from, to), IllegalTransition, key);
    }
  }
});
