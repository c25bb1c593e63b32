// The duplicate-detection window (src/broker/dedup-window.ts) as a pure module: it holds exactly
// the newest N distinct message-ids, evicts the oldest, tells the store which slot each id takes,
// and is rebuilt from those slots (a restart, a promoted backup) to the same window. And the
// message-id keys (src/amqp/message-id.ts): the id's type is part of the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DedupWindow, DEDUP_WINDOW_MAX } from '../../src/broker/dedup-window.js';
import { dedupKeyOf } from '../../src/amqp/message-id.js';
import { parseQueueArguments } from '../../src/broker/arguments.js';

test('a window of N holds the newest N ids and evicts the oldest', () => {
  const w = new DedupWindow(3);
  for (const id of ['a', 'b', 'c']) {
    assert.equal(w.has(id), false);
    w.remember(id);
  }
  assert.deepEqual(w.ids(), ['a', 'b', 'c']);
  const r = w.remember('d');
  assert.equal(r.evicted, 'a');
  assert.equal(w.has('a'), false, 'the oldest id left the window');
  assert.equal(w.has('b'), true);
  assert.deepEqual(w.ids(), ['b', 'c', 'd']);
  assert.equal(w.size, 3);
});

test('a forgotten id (its enqueue failed) is no longer held; the ring goes on', () => {
  const w = new DedupWindow(3);
  for (const id of ['a', 'b', 'c']) w.remember(id);
  w.forget('b');
  w.forget('missing');
  assert.equal(w.has('b'), false);
  assert.deepEqual(w.ids(), ['a', 'c']);
  assert.deepEqual(w.remember('d'), { slot: 0, seq: 3, evicted: 'a' });
  assert.deepEqual(w.ids(), ['c', 'd']);
});

test('each remembered id takes slot seq mod N, so the store overwrites the evicted id in place', () => {
  const w = new DedupWindow(2);
  assert.deepEqual(w.remember('x'), { slot: 0, seq: 0, evicted: null });
  assert.deepEqual(w.remember('y'), { slot: 1, seq: 1, evicted: null });
  assert.deepEqual(w.remember('z'), { slot: 0, seq: 2, evicted: 'x' });
});

test('a window is rebuilt from its store rows, and goes on where it left off', () => {
  const w = new DedupWindow(3);
  const rows: { slot: number; seq: number; id: string }[] = [];
  for (const id of ['a', 'b', 'c', 'd', 'e']) {
    const { slot, seq } = w.remember(id);
    const at = rows.findIndex((r) => r.slot === slot);
    if (at >= 0) rows.splice(at, 1);
    rows.push({ slot, seq, id });
  }
  const restored = DedupWindow.restore(3, rows.reverse());
  assert.deepEqual(restored.ids(), ['c', 'd', 'e']);
  assert.deepEqual(restored.remember('f'), w.remember('f'), 'the next id takes the same slot and seq');
  assert.deepEqual(restored.ids(), w.ids());
  // A smaller window declared later keeps only the newest ids its store rows hold.
  assert.deepEqual(DedupWindow.restore(2, rows).ids(), ['d', 'e']);
  assert.deepEqual(DedupWindow.restore(4, []).ids(), []);
});

test('property: the window equals the newest N distinct ids of a model, and a restore from the slots equals it', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 15 }), { maxLength: 120 }), (capacity, sends) => {
      const w = new DedupWindow(capacity);
      const model: string[] = [];
      const slots = new Map<number, { seq: number; id: string }>();
      for (const n of sends) {
        const id = `m${n}`;
        assert.equal(w.has(id), model.includes(id), `has(${id})`);
        if (model.includes(id)) continue; // a duplicate: the broker drops it, the window is unchanged
        const { slot, seq } = w.remember(id);
        slots.set(slot, { seq, id });
        model.push(id);
        if (model.length > capacity) model.shift();
      }
      assert.deepEqual(w.ids(), model);
      assert.deepEqual(DedupWindow.restore(capacity, [...slots.values()]).ids(), model);
    }),
  );
});

test('a window size outside 1..DEDUP_WINDOW_MAX is refused', () => {
  assert.throws(() => new DedupWindow(0), RangeError);
  assert.throws(() => new DedupWindow(DEDUP_WINDOW_MAX + 1), RangeError);
});

test('qpid.dedup_window: a bad value refuses the declare naming the argument', () => {
  assert.equal(parseQueueArguments({ 'qpid.dedup_window': 100 }, 0).dedupWindow, 100);
  assert.equal(parseQueueArguments({ 'qpid.dedup_window': '5' }, 0).dedupWindow, 5, 'a decimal string, as addresses carry numbers');
  assert.equal(parseQueueArguments({}, 0).dedupWindow, null);
  for (const bad of [0, -1, 1.5, 'ten', DEDUP_WINDOW_MAX + 1, true]) {
    assert.throws(
      () => parseQueueArguments({ 'qpid.dedup_window': bad }, 0),
      (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && /invalid queue argument qpid\.dedup_window=/.test(err.message),
      `qpid.dedup_window=${String(bad)}`,
    );
  }
});

test('message-id keys carry the id type; no message-id, no key; long ids are digested', () => {
  assert.equal(dedupKeyOf('abc'), 'abc', 'a string id is its own key');
  assert.equal(dedupKeyOf(7), '\u0000n:7');
  assert.equal(dedupKeyOf(7n), '\u0000n:7');
  assert.notEqual(dedupKeyOf('7'), dedupKeyOf(7));
  assert.notEqual(dedupKeyOf('\u0000n:7'), dedupKeyOf(7), 'a string that looks like a tagged key is tagged itself');
  assert.equal(dedupKeyOf(Buffer.from([1, 2, 255])), '\u0000b:0102ff');
  assert.equal(dedupKeyOf(undefined), null);
  assert.equal(dedupKeyOf(null), null);
  const long = 'x'.repeat(10_000);
  const key = dedupKeyOf(long);
  assert.match(key ?? '', /^\u0000h:[A-Za-z0-9_-]{43}$/);
  assert.equal(dedupKeyOf(long), key, 'the digest is stable');
  assert.notEqual(dedupKeyOf(`${long}y`), key);
});
