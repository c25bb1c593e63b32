// The failover load process (a thin shell over lib/failover-run.ts): producers and consumers on the
// failover client against a cluster URL. Reads commands on stdin, one per line: `measure-start`,
// `measure-stop`, `stop` (end of input also stops). Writes JSON lines on stdout: `attached`,
// `resumed` (lib/failover-run.ts ResumeEvent), and last the result. Exit status 0 when nothing was
// lost and everything drained, 2 when not, 1 on bad arguments or when the links could not attach.
//   node dist/bench/failover-load.js --url H:P,H:P,... [--producers N] [--consumers N] [--size BYTES]
//     [--durable yes|no] [--rate MSGS_PER_S] [--capacity N] [--credit N] [--queue NAME]
//     [--heartbeat-s S] [--reconnect-min-ms MS] [--reconnect-max-ms MS] [--drain-s S]
import { createInterface } from 'node:readline';
import { FailoverLoad } from './lib/failover-run.js';
import { parseFailoverLoadArgs } from './lib/failover-load-options.js';
import { LoadgenUsageError } from './lib/loadgen-options.js';

function line(value: object): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

async function main(): Promise<void> {
  let options;
  try {
    options = parseFailoverLoadArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof LoadgenUsageError)) throw err;
    process.stderr.write(`failover-load: ${err.message}\n`);
    process.exit(1);
  }
  const load = new FailoverLoad(options, line);
  try {
    await load.attach();
  } catch (err) {
    line({ msg: 'failover-load failed', error: (err as Error).message });
    process.exit(1);
  }
  load.start();
  line({ msg: 'attached' });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= load.stop().then((result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(result.ok ? 0 : 2));
    }));
  const input = createInterface({ input: process.stdin });
  input.on('line', (command) => {
    switch (command.trim()) {
      case 'measure-start':
        load.measureStart();
        break;
      case 'measure-stop':
        load.measureStop();
        break;
      case 'stop':
        void stop();
        break;
      default:
        process.stderr.write(`failover-load: unknown command ${JSON.stringify(command)}\n`);
    }
  });
  input.on('close', () => void stop());
}

void main();
