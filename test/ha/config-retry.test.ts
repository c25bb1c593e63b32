// An operator's retried configuration change is answered no sooner than the first (found by the
// simulator, etcd seed 2196): a declare of an exchange that exists already changes nothing, but
// the declare that made it may not be settled yet (here: the one backup in the gate is stopped,
// so it confirms nothing until --ha-confirm-timeout drops it). Answering the retry at once told
// the operator the exchange was safe while no backup held it. Real brokers, the real tool.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from '../helpers/cluster.js';

let cluster: Cluster | null = null;
after(async () => {
  await cluster?.stop();
});

const CONFIRM_TIMEOUT_S = 2;

test('a retried declare is not confirmed before the declare it repeats is held by the gate', async () => {
  cluster = await Cluster.start({ size: 2, heartbeatS: 30, extraArgs: ['--ha-confirm-timeout', String(CONFIRM_TIMEOUT_S)] });
  const c = cluster;
  await c.promoteAndWait(0);
  const declare = async (): Promise<number> => {
    const result = await c.tool('qpid-config', ['-b', `127.0.0.1:${c.ports[0]}`, 'add', 'exchange', 'topic', 'x-retried', '--durable']);
    assert.equal(result.code, 0, result.stderr);
    return Date.now();
  };
  await c.kill(1, 'SIGSTOP');
  try {
    const startedAt = Date.now();
    const first = declare();
    await new Promise((r) => setTimeout(r, 500));
    const retried = await declare();
    const firstDone = await first;
    // Both wait for the stopped backup to leave the gate (the confirm timeout); the retry, sent
    // 0.5 s after, used to return at once.
    assert.ok(firstDone - startedAt >= CONFIRM_TIMEOUT_S * 1000 * 0.8, `the first declare returned after ${firstDone - startedAt} ms, before the confirm timeout`);
    assert.ok(retried >= firstDone - 100, `the retry returned ${firstDone - retried} ms before the declare it repeats`);
  } finally {
    c.broker(1).kill('SIGCONT');
  }
});
