// What the settle-latency metric costs per delivery, in CPU: Settlements (the one place that
// settles producers) driven in a loop, with the metrics off and with the histogram live, and
// optionally the same module from another build (BENCH_BASE_DIST=/path/to/dist, e.g. the
// commit before the metrics). Interleaved rounds; prints ns of CPU per held-and-settled
// delivery, median of the rounds. Not part of npm test (a CPU micro-measurement on a shared
// machine proves nothing there); run: node dist/bench/settle-cost.js
import { HaInstruments } from '../src/ha/instruments.js';
import { Settlements } from '../src/ha/settlements.js';
import { LatencyHistogram } from '../src/management/latency-histogram.js';
import type { Store } from '../store/index.js';
import type { Logger } from '../src/core/log.js';

type Make = (store: Store) => { hold: Settlements['hold'] };
const ROUNDS = 5;
const DELIVERIES = 500_000;
const logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => logger } as unknown as Logger;

/** The two store signals Settlements follows, driven by the loop (commit every 100 deliveries). */
function storeSignals(): { store: Store; durable: (lsn: number) => void } {
  const listeners: ((lsn: number) => void)[] = [];
  const store = { onDurable: (f: (lsn: number) => void) => (listeners.push(f), () => {}), onRollback: () => () => {} } as unknown as Store;
  return { store, durable: (lsn) => listeners.forEach((f) => f(lsn)) };
}

function nsPerDelivery(make: Make): number {
  const { store, durable } = storeSignals();
  const settlements = make(store);
  let settled = 0;
  const callbacks = { settle: () => settled++, fail: () => {} };
  const before = process.cpuUsage();
  for (let i = 1; i <= DELIVERIES; i++) {
    settlements.hold({ messageId: i, ticket: null, lsn: i, needsDurable: true, replicated: true }, callbacks);
    if (i % 100 === 0) durable(i);
  }
  const used = process.cpuUsage(before);
  if (settled !== DELIVERIES) throw new Error(`settled ${settled} of ${DELIVERIES}`);
  return ((used.user + used.system) * 1000) / DELIVERIES;
}

const variants: [string, Make][] = [
  ['metrics off', (store) => new Settlements({ open: true, logger, store })],
  [
    'settle histogram live',
    (store) => {
      const histogram = new LatencyHistogram([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
      const instruments = new HaInstruments();
      instruments.enabled = true;
      instruments.settleLatency = (s) => histogram.observe(s);
      return new Settlements({ open: true, logger, store, instruments });
    },
  ],
];
const baseDist = process.env['BENCH_BASE_DIST'];
if (baseDist) {
  const base = (await import(`${baseDist}/src/ha/settlements.js`)) as { Settlements: new (o: object) => { hold: Settlements['hold'] } };
  variants.unshift(['base build', (store) => new base.Settlements({ open: true, logger, store })]);
}
const results = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) for (const [name, make] of variants) (results.get(name) ?? results.set(name, []).get(name)!).push(nsPerDelivery(make));
for (const [name, ns] of results) {
  ns.sort((a, b) => a - b);
  process.stdout.write(`${JSON.stringify({ variant: name, nsPerDeliveryMedian: Math.round(ns[Math.floor(ns.length / 2)] as number), rounds: ns.map(Math.round) })}\n`);
}
