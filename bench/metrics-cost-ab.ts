// A/B of what the metrics cost the messaging path: the durable 4+4 1 KiB load against this
// tree's broker with and without --http-port (with it, the settle and confirm histograms are
// live), and optionally against another build of the broker (BENCH_BASE_SCRIPT=path/to/qpidd.js,
// e.g. the commit before the metrics), interleaved ROUNDS times so that a machine getting busier
// affects every variant alike. Prints one JSON line per row and the means.
//   node dist/bench/metrics-cost-ab.js [rounds]
import { measureRow } from './lib/load-row.js';
import { startBroker } from './lib/servers.js';

const SHAPE = { sizeBytes: 1024, producers: 4, consumers: 4, durable: true, warmupS: 2, durationS: 10 } as const;
const rounds = Number(process.argv[2] ?? '2');
const base = process.env['BENCH_BASE_SCRIPT'];
const variants: { name: string; script?: string; http: boolean }[] = [
  ...(base ? [{ name: 'base, no http', script: base, http: false }, { name: 'base, --http-port', script: base, http: true }] : []),
  { name: 'this tree, no http', http: false },
  { name: 'this tree, --http-port (histograms live)', http: true },
];
const results = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  for (const v of variants) {
    const row = await measureRow({ row: v.name }, () => startBroker({ storeSync: 'fsync', http: v.http, ...(v.script ? { script: v.script } : {}) }), SHAPE, () => {});
    const rate = typeof row.row['msgsPerS'] === 'number' ? row.row['msgsPerS'] : NaN;
    (results.get(v.name) ?? results.set(v.name, []).get(v.name)!).push(rate);
    process.stdout.write(`${JSON.stringify({ round, variant: v.name, msgsPerS: rate, ok: row.ok })}\n`);
  }
}
for (const [name, rates] of results) process.stdout.write(`${JSON.stringify({ variant: name, meanMsgsPerS: Math.round(rates.reduce((a, b) => a + b, 0) / rates.length), rates })}\n`);
