// A producer of a 3-broker cluster with one durable message in flight: each message costs the
// primary's fsync, one replication frame to the backups and their confirmations, a few ms. With
// Nagle left on (rhea's default for the connections it opens, and for a server socket on which
// the broker attaches no receiver), a small write made while an earlier one is unacknowledged
// waited for the peer's delayed ACK, 40 ms on Linux: the measured median was 46 ms a message
// (2 cores, loaded), 7 ms without. The 25th percentile stays far from 40 ms under any load that
// leaves the suite within its time, and a cluster that waits for delayed ACKs cannot reach it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from '../helpers/cluster.js';
import { connect } from '../../src/client/index.js';

test('a cluster producer with one message in flight waits for fsyncs and confirmations, not for delayed ACKs', async () => {
  const c = await Cluster.start({ size: 3, heartbeatS: 0.5, backupTimeoutS: 2 });
  try {
    await c.promoteAndWait(0);
    await Promise.all([c.waitForState(1, 'ready'), c.waitForState(2, 'ready')]);
    const connection = await connect(`amqp:127.0.0.1:${c.ports[0]}`);
    try {
      const sender = await connection.sender('no-delay; {create: always, node: {durable: true}}');
      const latencies: number[] = [];
      for (let i = 0; i < 60; i++) {
        const started = performance.now();
        const outcome = await sender.send({ body: `m${i}`, durable: true });
        assert.equal(outcome.outcome, 'accepted');
        latencies.push(performance.now() - started);
      }
      latencies.sort((a, b) => a - b);
      const p25 = latencies[15] as number;
      const median = latencies[30] as number;
      assert.ok(p25 < 25, `25th percentile ${p25.toFixed(1)} ms a message (median ${median.toFixed(1)} ms): 40 ms is a delayed ACK`);
    } finally {
      await connection.close();
    }
  } finally {
    await c.stop();
  }
});
