// qpid-ha-manager on a real etcd with real brokers (issue 17): a fresh cluster elects a primary
// and the others become ready backups; the status command shows it; pause stops promotion.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from '../helpers/cluster.js';
import { startEtcd, type EtcdProcess } from '../helpers/etcd.js';
import { Managers } from '../helpers/managers.js';
import { waitFor } from '../helpers/broker-process.js';

let etcd: EtcdProcess | null = null;
let cluster: Cluster | null = null;
let managers: Managers | null = null;
before(async () => {
  etcd = await startEtcd();
});
after(async () => {
  await managers?.stop();
  await cluster?.stop();
  await etcd?.stop();
});

test('a fresh cluster elects a primary and the others become ready', async () => {
  const t0 = Date.now();
  const mark = (what: string): void => void (process.env['MANAGER_DEBUG'] && console.error(what, Date.now() - t0));
  cluster = await Cluster.start({ size: 3, heartbeatS: 0.5 });
  mark('cluster started');
  managers = new Managers(cluster, etcd as EtcdProcess);
  managers.startAll();
  const c = cluster;
  const leader = await managers.waitForActiveLeader(30_000);
  mark('leader active');
  for (let j = 0; j < 3; j++) if (j !== leader) await c.waitForState(j, 'ready', 20_000);
  const view = await waitFor(async () => {
    const v = await managers?.view();
    return v && v.members.length === 3 && v.members.every((m) => m.broker.state === (m.name === c.name(leader) ? 'active' : 'ready')) ? v : null;
  }, 'every member to report', 10_000);
  mark('view');
  assert.equal(view.leader, c.name(leader));
  assert.equal(view.failovers.length, 1, JSON.stringify(view.failovers) + managers.processes.map((p) => p?.output()).join('\n----\n'));
  if (process.env['MANAGER_DEBUG']) console.error(managers.processes.map((p) => p?.output()).join('\n----\n'));
  const text = await managers.tool(['status']);
  assert.equal(text.code, 0);
  assert.match(text.stdout, new RegExp(`leader: ${c.name(leader)}`));
  assert.match(text.stdout, /last decision: leading/);
  // The leader's lease is renewed continuously.
  const lease = (await c.status(leader)).lease;
  assert.ok(lease && !lease.expired && lease.remainingMs > 500, JSON.stringify(lease));
});
