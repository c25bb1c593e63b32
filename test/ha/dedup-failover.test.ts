// Duplicate detection through a failover (qpid.dedup_window, issue 12): the window is replicated
// with the queue, so a promoted backup recognises resends of messages its old primary accepted,
// including ones already consumed. Two parts, on one 2-broker cluster:
// - deterministic: every message accepted on the old primary is sent again to the promoted
//   backup (the worst case of lost settlements) and none is enqueued twice;
// - realistic: the project's failover client sends unthrottled while the primary is SIGKILLed and
//   a backup promoted at once; it resends what was unsettled, and the promoted backup holds every
//   accepted message exactly once (no duplicates, no loss). A plain queue beside it, fed the same
//   way, shows the duplicates the window prevents (reported, not asserted: they depend on timing).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from 'rhea';
import { connect as connectClient, type SendOutcome } from '../../src/client/index.js';
import { connect, drain, openReceiver, openSender, receiveN, sendAll } from '../helpers/amqp.js';
import { waitFor } from '../helpers/broker-process.js';
import { Cluster } from '../helpers/cluster.js';

const DEDUP = 'dedup-orders';
const PLAIN = 'plain-orders';
const RESEND = 40;
const CONSUMED = 15;
const STREAM = 1500;

let cluster: Cluster | null = null;
after(async () => {
  await cluster?.stop();
});

const node = (address: string, properties: Record<string, unknown>) => ({ address, capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true, ...properties } });

/** Each message-id (or body, for messages without one) and how many times the queue held it. */
function counts(messages: readonly Message[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of messages) {
    const key = String(m.message_id ?? m.body);
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

test('a promoted backup recognises resends of what the old primary accepted (consumed or not); the failover client\'s resends after a primary kill leave no duplicate and no loss', async (t) => {
  cluster = await Cluster.start({ size: 2 });
  await cluster.promoteAndWait(0);
  const primary = cluster.ports[0] as number;

  // Accepted on b0 (so confirmed by the ready backup b1); some of them consumed.
  const first = await connect(primary);
  const resend: Message[] = Array.from({ length: RESEND }, (_, i) => ({ message_id: `r-${i}`, durable: true, body: `r-${i}` }));
  const dedupSender = await openSender(first.connection, node(DEDUP, { 'qpid.dedup_window': 10_000 }));
  assert.ok((await sendAll(dedupSender, resend)).every((o) => o.state === 'accepted'));
  await openSender(first.connection, node(PLAIN, {}));
  const receiver = await openReceiver(first.connection, DEDUP);
  for (const r of await receiveN(receiver, CONSUMED)) r.delivery.accept();
  await first.close();

  // The failover client streams to both queues; b0 is killed once it has had some accepted.
  const client = await connectClient(cluster.url, { reconnect: { limit: -1, initialDelayMs: 50, maxDelayMs: 200 }, heartbeatS: 1 });
  const senders = [await client.sender(DEDUP, { capacity: 200 }), await client.sender(PLAIN, { capacity: 200 })];
  const accepted = new Set<string>();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < STREAM; i++) {
    for (const [k, sender] of senders.entries()) {
      await sender.waitForCapacity();
      const id = `${k === 0 ? 'd' : 'p'}-${i}`;
      pending.push(
        sender.send({ message_id: id, durable: true, body: id }).then((o: SendOutcome) => {
          if (o.outcome === 'accepted') accepted.add(id);
        }),
      );
    }
    if (i === 300) {
      await waitFor(() => accepted.size >= 300 || null, 'the first 300 sends accepted', 30_000);
      void cluster.kill(0);
      await cluster.promote(1);
    }
  }
  await Promise.all(pending);
  const resent = client.stats.resent;
  await client.close();
  assert.equal(accepted.size, 2 * STREAM, 'every send was accepted in the end');
  await cluster.waitForState(1, 'active', 30_000);
  const promoted = cluster.ports[1] as number;

  // The worst case: every message b0 accepted is sent again to b1.
  const second = await connect(promoted);
  const again = await openSender(second.connection, DEDUP);
  assert.ok((await sendAll(again, resend)).every((o) => o.state === 'accepted'), 'resends are accepted');
  await second.close();

  const held = counts(await drain(promoted, DEDUP));
  const duplicated = [...held].filter(([, n]) => n > 1).map(([id]) => id);
  assert.deepEqual(duplicated.slice(0, 10), [], `no message-id twice on the promoted backup (${duplicated.length} were)`);
  const expected = [...resend.slice(CONSUMED).map((m) => String(m.message_id)), ...[...accepted].filter((id) => id.startsWith('d-'))];
  const missing = expected.filter((id) => !held.has(id));
  assert.deepEqual(missing.slice(0, 10), [], `every accepted message on the promoted backup (${missing.length} missing)`);
  assert.equal(held.size, expected.length, 'and nothing else: the consumed ones did not come back');

  const plain = counts(await drain(promoted, PLAIN));
  const plainMissing = [...accepted].filter((id) => id.startsWith('p-') && !plain.has(id));
  assert.deepEqual(plainMissing.slice(0, 10), [], 'the plain queue lost nothing either');
  const plainDuplicates = [...plain.values()].reduce((sum, n) => sum + n - 1, 0);
  t.diagnostic(`failover client resent ${resent} messages; duplicates on the promoted backup: ${duplicated.length} with qpid.dedup_window, ${plainDuplicates} without`);
});
