// A 3-broker cluster under a steady durable load whose backups can be made to leave the ack
// gate and be caught mid catch-up (issue 15's "a store that knows it is behind"), for
// test/ha/liveness.test.ts.
import { connect, openSender, type TestConnection } from './amqp.js';
import { Cluster } from './cluster.js';
import { waitFor } from './broker-process.js';

export interface LoadedCluster {
  readonly cluster: Cluster;
  readonly connection: TestConnection;
  /** Messages the primary has accepted so far. */
  accepted(): number;
  /** The body of the messages sent from now on. */
  setBody(body: string): void;
  stopLoad(): void;
  /** Stops backup i (SIGSTOP); once the primary has settled `settledMeanwhile` more without it
   * (or after 2.5 s when 0: with no backup left in the gate it settles nothing), lets it hear
   * where the primary is and stops it again mid catch-up. Returns the primary's LSN that the
   * backup heard. */
  leaveBehind(i: number, settledMeanwhile: number): Promise<number>;
}

/** Starts the cluster (confirm timeout 1 s), promotes b0 and sends 1 KiB durable messages to
 * `orders` as fast as credit allows; returns once 500 are accepted by the whole cluster. */
export async function loadedCluster(): Promise<LoadedCluster> {
  const c = await Cluster.start({ size: 3, heartbeatS: 1, extraArgs: ['--ha-confirm-timeout', '1'] });
  await c.promoteAndWait(0);
  const connection = await connect(c.ports[0] as number);
  const sender = await openSender(connection.connection, { address: 'orders', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  let accepted = 0;
  sender.on('accepted', () => accepted++);
  let body = 'x'.repeat(1024);
  const pump = setInterval(() => {
    while (sender.sendable()) sender.send({ durable: true, body });
  }, 5);
  await waitFor(() => accepted >= 500 || null, 'messages accepted by the whole cluster', 20_000);
  return {
    cluster: c,
    connection,
    accepted: () => accepted,
    setBody: (next) => {
      body = next;
    },
    stopLoad: () => clearInterval(pump),
    async leaveBehind(i, settledMeanwhile) {
      await c.kill(i, 'SIGSTOP');
      const before = accepted;
      if (settledMeanwhile > 0) await waitFor(() => accepted >= before + settledMeanwhile || null, `the primary to settle ${settledMeanwhile} without b${i}`, 60_000);
      else await new Promise((r) => setTimeout(r, 2500));
      const broker = c.broker(i);
      const resumedAt = broker.logs.length;
      broker.kill('SIGCONT');
      const line = await broker.waitForLog((l) => broker.logs.indexOf(l) >= resumedAt && /catching up|wiping the store to catch up/.test(String(l.msg)), 30_000);
      broker.kill('SIGSTOP');
      return Number(line['primaryLsn']);
    },
  };
}
