// The broker and the clients a fuzzing run needs, shared by the CI test (fuzz.test.ts) and the
// long run (`npm run fuzz -- --seconds N`, fuzz-cli.ts): a qpidd with a short handshake deadline,
// the queue the cases attach to, a sentinel queue no case can reach, and the probe.
import { connect, openSender, sendAll } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { queueNode } from '../integration/support.js';
import { FUZZ_QUEUE } from './fuzz-frames.js';
import { runFuzz, type FuzzOptions, type FuzzReport } from './fuzz-runner.js';
import { Probe, seedAccepted } from './support.js';

/** What the fuzzing broker runs with: cases that stop mid-handshake are dropped quickly. */
export const FUZZ_BROKER_ARGS = ['--handshake-timeout', '1'];

/** The queue the cases attach to, with messages for their receiving links. */
export async function prepareFuzzQueue(port: number): Promise<void> {
  const conn = await connect(port);
  try {
    const sender = await openSender(conn.connection, queueNode(FUZZ_QUEUE, { durable: true }));
    await sendAll(sender, Array.from({ length: 30 }, (_, i) => ({ body: `fuzz-${i}`, durable: true })));
  } finally {
    await conn.close();
  }
}

export async function fuzzBroker(options: FuzzOptions): Promise<FuzzReport> {
  const dataDir = tempDir('qpidd-fuzz-');
  let broker: BrokerProcess | null = null;
  let probe: Probe | null = null;
  try {
    broker = await startQpidd({ dataDir, args: FUZZ_BROKER_ARGS });
    await prepareFuzzQueue(broker.port);
    const sentinel = await seedAccepted(broker.port, 50);
    probe = await Probe.open(broker.port);
    const report = await runFuzz(broker, probe, options);
    await sentinel.check();
    return report;
  } finally {
    await probe?.close().catch(() => {});
    await broker?.stop();
    removeDir(dataDir);
  }
}
