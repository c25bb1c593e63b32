// Issue 18, replication exposure: what a failover would lose right now. A backup stopped with
// SIGSTOP under load (with --ha-confirm-timeout long enough that it stays in the ack gate)
// confirms nothing, so the queue's unreplicated messages and bytes rise, on the primary's
// management answers, its JSON API, its /metrics and `qpid-ha status --queues`; the backup's
// lag in records and seconds rises with them. Resumed with SIGCONT, the backup confirms and
// they return to 0.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, openSender } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/broker-process.js';

interface QueueRow {
  name: string;
  depth: number;
  unreplicatedMessages: number;
  unreplicatedBytes: number;
  enqueuedTotal: number;
}
interface Summary {
  unreplicatedBytes: number;
  backups: { name: string; inGate: boolean; lagRecords: number; lagSeconds: number; lagBytes: number; confirmedLsn: number }[];
}

let cluster: Cluster | null = null;
after(async () => {
  await cluster?.stop();
});

test('a stopped backup: the queue\'s unreplicated bytes rise; resumed, they return to 0', async () => {
  // Heartbeats and the confirm timeout far longer than the stop: the backup stays in the gate.
  cluster = await Cluster.start({ size: 2, heartbeatS: 30, backupTimeoutS: 60, extraArgs: ['--http-port', '0', '--ha-confirm-timeout', '120'] });
  const c = cluster;
  await c.promoteAndWait(0);
  const listening = await c.broker(0).waitForLog((l) => l.msg === 'listening');
  const http = `http://127.0.0.1:${String(listening['httpPort'])}`;
  const queueRow = async (): Promise<QueueRow> => {
    const page = (await (await fetch(`${http}/api/queue-stats`)).json()) as { items: QueueRow[] };
    const row = page.items.find((q) => q.name === 'orders');
    assert.ok(row, 'orders is listed');
    return row;
  };
  const metric = async (name: string, labels: string): Promise<number> => {
    const text = await (await fetch(`${http}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
    assert.ok(line, `${name}{${labels}} in /metrics`);
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  const conn = await connect(c.ports[0] as number);
  const sender = await openSender(conn.connection, { address: 'orders', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  let accepted = 0;
  sender.on('accepted', () => accepted++);
  let sent = 0;
  const pump = setInterval(() => {
    while (sender.sendable()) sender.send({ durable: true, body: `m${sent++}`.padEnd(200, '.') });
  }, 5);
  try {
    await waitFor(() => accepted >= 200, 'messages accepted while both brokers run', 20_000);
    const before = await queueRow();
    assert.equal(before.unreplicatedBytes >= 0, true);

    await c.kill(1, 'SIGSTOP');
    const risen = await waitFor(
      async () => {
        const row = await queueRow();
        return row.unreplicatedMessages >= 50 && row.unreplicatedBytes >= 50 * 200 ? row : null;
      },
      'the queue to show unreplicated messages while its backup is stopped',
      15_000,
    );
    assert.ok(risen.unreplicatedMessages <= risen.depth, 'no more unreplicated than on the queue');
    // Producers wait for the stopped backup: the figure stops growing at their window.
    const summary = (await (await fetch(`${http}/api/replication-status`)).json()) as Summary;
    const backup = summary.backups.find((b) => b.name === 'b1');
    assert.ok(backup?.inGate, 'the stopped backup stays in the gate');
    assert.ok(backup.lagRecords > 0, `lag in records ${backup.lagRecords}`);
    assert.ok(backup.lagBytes > 0, `lag in bytes ${backup.lagBytes}`);
    assert.ok(summary.unreplicatedBytes >= risen.unreplicatedBytes);
    await waitFor(async () => ((await (await fetch(`${http}/api/replication-status`)).json()) as Summary).backups[0]!.lagSeconds >= 1, 'the lag in seconds to pass 1 s', 10_000);
    assert.ok((await metric('qpidd_queue_unreplicated_bytes', 'queue="orders"')) > 0, '/metrics shows it too');
    assert.ok((await metric('qpidd_backup_lag_records', 'backup="b1"')) > 0);

    const tool = await c.tool('qpid-ha', ['-b', `127.0.0.1:${c.ports[0]}`, 'status', '--queues', '--json']);
    assert.equal(tool.code, 0, tool.stderr);
    const viewed = JSON.parse(tool.stdout) as Summary & { queues: QueueRow[] };
    assert.ok((viewed.queues.find((q) => q.name === 'orders')?.unreplicatedBytes ?? 0) > 0, 'qpid-ha status --queues shows it');
    const text = await c.tool('qpid-ha', ['-b', `127.0.0.1:${c.ports[0]}`, 'status', '--queues', '-S', 'unreplicatedBytes']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^queue\treplicate\tdepth\tbytes\tunreplicatedMsgs\tunreplicatedBytes/m, 'tab-separated when piped');
    assert.match(text.stdout, /^b1\tready\tY\t/m, 'the backup row');
  } finally {
    clearInterval(pump);
  }
  c.broker(1).kill('SIGCONT');
  // The client may still hold deliveries it queued before the pump stopped (rhea sends them as
  // the session window opens): the figures are final once every message sent is accepted.
  const settled = await waitFor(
    async () => {
      const row = await queueRow();
      return accepted === sent && row.unreplicatedMessages === 0 && row.unreplicatedBytes === 0 ? row : null;
    },
    'the unreplicated figures to return to 0 once the backup resumes',
    20_000,
  );
  assert.ok(settled.depth > 0, 'the messages are still on the queue, now replicated');
  const summary = (await (await fetch(`${http}/api/replication-status`)).json()) as Summary;
  assert.equal(summary.unreplicatedBytes, 0);
  await waitFor(async () => ((await (await fetch(`${http}/api/replication-status`)).json()) as Summary).backups[0]!.lagRecords === 0, 'the backup to have confirmed everything', 10_000);
  assert.equal(await metric('qpidd_queue_unreplicated_bytes', 'queue="orders"'), 0);
  await conn.close();
});
