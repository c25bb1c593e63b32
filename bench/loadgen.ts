// The load generator process (a thin shell over lib/load-run.ts): runs one load against an AMQP
// 1.0 server and prints one JSON object on stdout (lib/loadgen-result.ts). Exit status: 0 when the
// run is ok, 2 when it lost messages (at-least-once), did not drain, or moved none, 1 on bad arguments or
// when the clients could not attach.
//   node dist/bench/loadgen.js --url host:port --producers N --consumers N --size BYTES
//     --durable yes|no --settle at-least-once|at-most-once --duration-s S --warmup-s S
//     [--rate MSGS_PER_S] [--capacity N] [--queue NAME] [--queues K] [--prefetch N] [--drain-s S]
//     [--create yes|no]
import { runLoad } from './lib/load-run.js';
import { LoadgenUsageError, parseLoadgenArgs } from './lib/loadgen-options.js';
import type { LoadgenOptions } from './lib/loadgen-options.js';

function finish(line: object, code: number): void {
  process.stdout.write(`${JSON.stringify(line)}\n`, () => process.exit(code));
}

async function main(): Promise<void> {
  let options: LoadgenOptions;
  try {
    options = parseLoadgenArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof LoadgenUsageError)) throw err;
    process.stderr.write(`loadgen: ${err.message}\n`);
    process.exit(1);
  }
  try {
    const result = await runLoad(options);
    finish(result, result.ok ? 0 : 2);
  } catch (err) {
    finish({ msg: 'loadgen failed', error: (err as Error).message }, 1);
  }
}

void main();
