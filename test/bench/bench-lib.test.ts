// The benchmark harness's pure parts: the relay's FIFO, the loss ledger, the pacer, the
// pre-encoded message template (decoded back by rhea, as a consumer would), the loadgen's command
// line both ways, the listening-line parser, the markdown table and the SVG charts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import rhea from 'rhea';
import { Fifo } from '../../bench/lib/fifo.js';
import { DeliveryLedger } from '../../bench/lib/delivery-ledger.js';
import { Pacer } from '../../bench/lib/pacer.js';
import { buildMessageTemplate } from '../../bench/lib/message-template.js';
import { LOADGEN_DEFAULTS, LoadgenUsageError, loadgenArgs, parseLoadgenArgs, queueFor } from '../../bench/lib/loadgen-options.js';
import { listeningPort } from '../../bench/lib/process.js';
import { markdownTable } from '../../bench/lib/results.js';
import { escapeXml, niceTicks, renderChart } from '../../bench/lib/svg-chart.js';
import { LatencyRecorder } from '../../bench/lib/latency.js';

test('the FIFO keeps order across growth and wrap-around, and unshift puts an item first', () => {
  const fifo = new Fifo<number>(2);
  const expected: number[] = [];
  let next = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 7; i++) {
      fifo.push(next);
      expected.push(next++);
    }
    for (let i = 0; i < 5; i++) assert.equal(fifo.shift(), expected.shift());
  }
  fifo.unshift(-1);
  assert.equal(fifo.length, expected.length + 1);
  assert.equal(fifo.shift(), -1);
  while (expected.length > 0) assert.equal(fifo.shift(), expected.shift());
  assert.equal(fifo.shift(), undefined);
  assert.equal(fifo.length, 0);
});

test('the ledger counts a settled message as lost until received, in either order, and counts duplicates', () => {
  const ledger = new DeliveryLedger(2);
  ledger.settled(0, 0);
  ledger.received(1, 5); // received before its producer saw it accepted
  assert.equal(ledger.pending, 1);
  ledger.settled(1, 5);
  assert.equal(ledger.pending, 1, 'a message received first is not pending once settled');
  assert.equal(ledger.received(0, 0), true);
  assert.equal(ledger.pending, 0);
  assert.equal(ledger.received(0, 0), false);
  ledger.settled(0, 0); // a second settlement of the same message changes nothing
  ledger.settled(1, 100_000); // far beyond the initial table: it grows
  assert.equal(ledger.received(7, 1), false); // no such producer
  assert.equal(ledger.received(1, 5, true), false); // delivered again, marked redelivered
  assert.deepEqual(ledger.counts(), { lost: 1, duplicates: 2, redelivered: 1, foreign: 1 });
});

test('the pacer holds a producer to its rate with a bounded burst, and unthrottled is unlimited', () => {
  const pacer = new Pacer(1000, 0); // 1 per ms, burst 50
  assert.equal(pacer.available(0), 1);
  pacer.take(1);
  assert.equal(pacer.available(0), 0);
  assert.ok(pacer.waitMs() >= 1);
  assert.equal(pacer.available(10), 10);
  pacer.take(10);
  assert.equal(pacer.available(10_000), 50, 'a producer held back does not burst beyond 50 ms of rate');
  const free = new Pacer(0, 0);
  assert.equal(free.available(0), Infinity);
  assert.equal(free.waitMs(), 0);
});

test('a stamped template decodes with rhea to the fields written and the body size asked for', () => {
  for (const [size, durable] of [
    [0, false],
    [100, true],
    [1024, false],
    [65536, true],
  ] as const) {
    const template = buildMessageTemplate(size, durable);
    const a = template.stamp(1234.5678, 3, 4_000_000_000);
    const b = template.stamp(0.25, 0, 7);
    assert.equal(a.length, template.bytes);
    const decoded = rhea.message.decode(a);
    assert.equal(Boolean(decoded.durable), durable);
    assert.deepEqual(decoded.application_properties, { ts: 1234.5678, p: 3, s: 4_000_000_000 });
    assert.equal((decoded.body as { content: Buffer }).content.length, size);
    assert.deepEqual(rhea.message.decode(b).application_properties, { ts: 0.25, p: 0, s: 7 });
    assert.deepEqual(rhea.message.decode(a).application_properties, { ts: 1234.5678, p: 3, s: 4_000_000_000 }, 'stamping b did not touch a');
  }
});

test('loadgen arguments parse with defaults, round-trip through loadgenArgs, and reject bad values with a code', () => {
  const options = parseLoadgenArgs(['--url', 'localhost:5673', '--producers', '4', '--consumers', '2', '--queues', '2', '--durable', 'yes', '--duration-s', '1.5']);
  assert.equal(options.host, 'localhost');
  assert.equal(options.port, 5673);
  assert.equal(options.durable, true);
  assert.equal(options.durationS, 1.5);
  assert.equal(options.capacity, LOADGEN_DEFAULTS.capacity);
  assert.deepEqual(parseLoadgenArgs(loadgenArgs(options)), options);
  assert.deepEqual([0, 1, 2, 3].map((i) => queueFor(options, i)), ['bench-0', 'bench-1', 'bench-0', 'bench-1']);
  assert.equal(queueFor({ queue: 'q', queues: 1 }, 5), 'q');
  for (const bad of [
    [],
    ['--url', 'h:1', '--producers', '0'],
    ['--url', 'h:1', '--settle', 'maybe'],
    ['--url', 'h:1', '--durable', 'perhaps'],
    ['--url', 'h:1', '--queues', '3', '--producers', '2', '--consumers', '5'],
    ['--url', 'h:1', '--bogus', '1'],
    ['--url', 'rdma:h:1'],
  ]) {
    assert.throws(() => parseLoadgenArgs(bad), (err: unknown) => err instanceof LoadgenUsageError && err.code === 'BAD_ARGUMENT', bad.join(' '));
  }
});

test('the listening line is recognised only as a JSON event with msg "listening" and a port', () => {
  assert.equal(listeningPort('{"level":30,"msg":"listening","port":5672}'), 5672);
  assert.equal(listeningPort('{"msg":"listening"}'), undefined);
  assert.equal(listeningPort('{"msg":"started","port":1}'), undefined);
  assert.equal(listeningPort('listening on 5672'), undefined);
  assert.equal(listeningPort('{not json'), undefined);
});

test('latency percentiles come back in milliseconds with microsecond resolution', () => {
  const recorder = new LatencyRecorder();
  assert.equal(recorder.summary().count, 0);
  for (let i = 1; i <= 1000; i++) recorder.recordMs(i / 100); // 0.01 .. 10 ms
  const summary = recorder.summary();
  assert.equal(summary.count, 1000);
  assert.ok(Math.abs(summary.p50 - 5) < 0.01, `p50 ${summary.p50}`);
  assert.ok(Math.abs(summary.p99 - 9.9) < 0.01, `p99 ${summary.p99}`);
  assert.ok(Math.abs(summary.max - 10) < 0.01, `max ${summary.max}`);
});

test('the markdown table aligns numbers right, formats digits and escapes pipes', () => {
  const table = markdownTable(
    [
      { key: 'name', header: 'name' },
      { key: 'rate', header: 'msgs/s' },
      { key: 'p50', header: 'p50 ms', digits: 2 },
    ],
    [
      { name: 'a|b', rate: 12345.6, p50: 1.234 },
      { name: 'skipped', rate: null },
    ],
  );
  assert.equal(table, ['| name | msgs/s | p50 ms |', '|---|---:|---:|', '| a\\|b | 12,346 | 1.23 |', '| skipped | - | - |'].join('\n'));
});

test('charts are well-formed SVG with one bar per value, escaped labels and round axis ticks', () => {
  assert.deepEqual(niceTicks(42_000), [0, 10_000, 20_000, 30_000, 40_000, 50_000]);
  assert.deepEqual(niceTicks(0), [0, 1]);
  assert.equal(escapeXml(`<a & "b">`), '&lt;a &amp; &quot;b&quot;&gt;');
  const bar = renderChart({
    kind: 'bar',
    title: 'relay <vs> broker',
    yLabel: 'msgs/s',
    categories: ['1 KiB 1+1', '1 KiB 4+4'],
    series: [
      { name: 'relay', values: [40_000, 35_000] },
      { name: 'broker', values: [20_000, null] },
    ],
  });
  assert.match(bar, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(bar, /<\/svg>\n$/);
  assert.equal((bar.match(/<rect x=/g) ?? []).length - 2, 3, 'three bars plus two legend swatches');
  assert.ok(bar.includes('relay &lt;vs&gt; broker'));
  assert.ok(!bar.includes('NaN'));
  const line = renderChart({ kind: 'line', title: 't', xLabel: 's', yLabel: 'lag', series: [{ name: 'lag', points: [[0, 1], [1, 3], [2, 2]] }] });
  assert.match(line, /<polyline [^>]*points="[\d.]+,[\d.]+ [\d.]+,[\d.]+ [\d.]+,[\d.]+"/);
  assert.ok(!line.includes('NaN'));
});
