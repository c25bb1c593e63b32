// `npm run fuzz -- --seconds N [--seed S]`: the CI fuzzer (fuzz.test.ts) for longer, with a new
// seed unless one is given, printing the seed first and a JSON report at the end. A failure
// prints its seed and the case's bytes and exits 1.
import { randomInt } from 'node:crypto';
import { fuzzBroker } from './fuzz-setup.js';
import { RSS_CEILING_BYTES } from './support.js';

function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const seconds = Number(option('seconds') ?? '60');
const seed = Number(option('seed') ?? randomInt(2 ** 31));
if (!Number.isFinite(seconds) || seconds <= 0 || !Number.isInteger(seed)) {
  console.error('usage: npm run fuzz -- --seconds N [--seed S]');
  process.exit(2);
}
console.log(JSON.stringify({ fuzz: 'start', seed, seconds }));
try {
  const report = await fuzzBroker({ seed, numRuns: Number.MAX_SAFE_INTEGER, timeLimitMs: seconds * 1000, rssCeilingBytes: RSS_CEILING_BYTES });
  console.log(JSON.stringify({ fuzz: 'done', ...report }));
  process.exit(0);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
