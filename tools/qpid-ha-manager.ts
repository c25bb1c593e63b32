#!/usr/bin/env node
// qpid-ha-manager: automatic failover on etcd (issue 17, DESIGN.md §8), one process beside each
// broker. Without a command it runs the manager (src/manager/driver.ts); pause, resume, status
// and force-promote are for operators. Exit status: 0 done, 1 refused or failed, 2 bad usage.
import { parseArgs } from 'node:util';
import { createBrokerLogger } from '../src/core/log.js';
import type { HaStatus } from '../src/ha/node.js';
import { managementRequest } from '../src/management/client.js';
import { parseQpidUrl, type QpidAddress } from '../src/core/qpid-url.js';
import { ManagerDriver } from '../src/manager/driver.js';
import { EtcdCluster } from '../src/manager/etcd.js';
import { readView, type ClusterView } from '../src/manager/keys.js';
import { ManagerOptionError, parseClusterOptions, parseManagerOptions, type ManagerOptions } from '../src/manager/options.js';
import { runTool, UsageError } from './lib/management-cli.js';

const HELP = `usage: qpid-ha-manager --etcd URL[,URL...] --cluster NAME --broker ADDR [options]   run the manager
       qpid-ha-manager pause|resume --etcd URL --cluster NAME                        stop/start automatic actions
       qpid-ha-manager status [--json] --etcd URL --cluster NAME                     leader, brokers, decisions, failovers
       qpid-ha-manager switchover --to BROKER --etcd URL --cluster NAME               planned move, zero loss: the primary
                                                                                     stops settling, BROKER confirms all, leads
       qpid-ha-manager force-promote BROKER --etcd URL --cluster NAME                promote BROKER (a member name) even
                                                                                     if it lacks accepted messages
options:
  --etcd URL[,URL...]        etcd client endpoints (http://HOST:PORT)
  --cluster NAME             the cluster's name: its keys are under /NAME/ in etcd
  --broker ADDR              the broker this manager runs beside (HOST:PORT)
  --name NAME                this manager's member name (default: the broker's name)
  --ttl S                    the leader key's etcd lease, whole seconds (default 3)
  --check-interval S         how often the broker is asked and the leases renewed (default 0.1)
  --total-failure-wait S     after a total failure, how long to wait for every broker to report (default 30)
  --username USER            the broker login (the password from --password or QPID_PASSWORD)
  --password PASS
  --json                     (status) machine-readable output
  --to BROKER                (switchover) the member to lead
  --timeout S                (switchover) how long to wait for the move (default 30)`;

runTool('qpid-ha-manager', async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      etcd: { type: 'string' },
      cluster: { type: 'string' },
      broker: { type: 'string' },
      name: { type: 'string' },
      ttl: { type: 'string' },
      'check-interval': { type: 'string' },
      'total-failure-wait': { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      json: { type: 'boolean', default: false },
      to: { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  const { json, help: _help, to, timeout, ...raw } = values;
  try {
    switch (command) {
      case undefined:
        return await run(parseManagerOptions(raw));
      case 'pause':
      case 'resume': {
        expectArgs(rest, 0, command);
        const etcd = cluster(raw);
        if (command === 'pause') await etcd.put(etcd.keys.paused, { at: new Date().toISOString() });
        else await etcd.delete(etcd.keys.paused);
        await etcd.close(false);
        process.stdout.write(`${command === 'pause' ? 'paused: no automatic promotion until resumed' : 'resumed'}\n`);
        return 0;
      }
      case 'status': {
        expectArgs(rest, 0, command);
        const etcd = cluster(raw);
        const view = readView(await etcd.read());
        await etcd.close(false);
        process.stdout.write(json ? `${JSON.stringify(view)}\n` : formatStatus(view));
        return 0;
      }
      case 'switchover': {
        expectArgs(rest, 0, command);
        if (to === undefined) throw new UsageError('switchover needs --to BROKER');
        return await switchover(to, cluster(raw), timeout === undefined ? 30_000 : seconds(timeout, '--timeout') * 1000);
      }
      case 'force-promote': {
        expectArgs(rest, 1, command);
        return await forcePromote(rest[0] as string, cluster(raw), raw);
      }
      default:
        throw new UsageError(`unknown command "${command}"\n${HELP}`);
    }
  } catch (err) {
    if (err instanceof ManagerOptionError) throw new UsageError(err.message);
    throw err;
  }
});

function seconds(text: string, option: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${option}: "${text}" is not a positive number of seconds`);
  return value;
}

/** Asks for a planned move and waits until `target` leads an active broker. */
async function switchover(target: string, etcd: EtcdCluster, timeoutMs: number): Promise<number> {
  try {
    const view = readView(await etcd.read());
    const member = view.members.find((m) => m.name === target);
    if (!member) throw new UsageError(`switchover: no member named "${target}" (members: ${view.members.map((m) => m.name).join(', ') || 'none'})`);
    if (view.leader === target) {
      process.stdout.write(`${target} already leads\n`);
      return 0;
    }
    if (member.broker.state !== 'ready') {
      process.stderr.write(`qpid-ha-manager: switchover: ${target} is ${member.broker.state}; only a ready backup can take over\n`);
      return 1;
    }
    const startedMs = Date.now();
    await etcd.put(etcd.keys.switchover, { to: target, at: new Date().toISOString() });
    for (;;) {
      const now = readView(await etcd.read());
      if (now.leader === target && now.members.find((m) => m.name === target)?.broker.state === 'active') {
        process.stdout.write(`${target} leads (switchover took ${Date.now() - startedMs} ms)\n`);
        return 0;
      }
      if (Date.now() - startedMs > timeoutMs) {
        process.stderr.write(`qpid-ha-manager: switchover to ${target} did not complete within ${timeoutMs} ms (leader: ${now.leader ?? 'none'}); cancelled\n`);
        return 1;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await etcd.delete(etcd.keys.switchover).catch(() => {});
    await etcd.close(false);
  }
}

function expectArgs(rest: readonly string[], count: number, command: string): void {
  if (rest.length !== count) throw new UsageError(count === 0 ? `${command} takes no argument ("${rest[0]}")` : `${command} takes ${count} argument(s)`);
}

function cluster(raw: Record<string, unknown>): EtcdCluster {
  const o = parseClusterOptions(raw);
  return new EtcdCluster({ hosts: o.etcd, cluster: o.cluster, ttlSeconds: o.ttlSeconds, requestTimeoutMs: 5000 });
}

async function run(options: ManagerOptions): Promise<number> {
  const status = await brokerStatus(options);
  if (status.state === 'standalone') {
    process.stderr.write(`qpid-ha-manager: the broker at ${options.broker.host}:${options.broker.port} (${status.name}) is standalone: start it with --ha-cluster yes\n`);
    return 1;
  }
  const name = options.name ?? status.name;
  const logger = createBrokerLogger({ name, role: 'manager', level: 'info' });
  const driver = new ManagerDriver({ ...options, name }, logger);
  await driver.start();
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      logger.info({}, 'manager stopping: releasing the leader key and its entry');
      void driver.stop().finally(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}

/** The broker's status (its name is the default member name): asked until the broker answers. */
async function brokerStatus(options: ManagerOptions): Promise<HaStatus> {
  const login = { ...(options.username !== undefined ? { username: options.username } : {}), ...(options.password !== undefined ? { password: options.password } : {}) };
  for (;;) {
    try {
      return await managementRequest<HaStatus>(options.broker, 'status', {}, { admin: true, timeoutMs: 2000, ...login });
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Promotes BROKER whatever it lacks, after saying what that is; its manager adopts it. */
async function forcePromote(target: string, etcd: EtcdCluster, raw: Record<string, unknown>): Promise<number> {
  const view = readView(await etcd.read());
  await etcd.close(false);
  const member = view.members.find((m) => m.name === target);
  if (!member?.broker.address) throw new UsageError(`force-promote: no member named "${target}" has reported (members: ${view.members.map((m) => m.name).join(', ') || 'none'})`);
  const b = member.broker;
  const losses: string[] = [];
  if (view.record && (b.storeEpoch < view.record.epoch || b.lastLsn < view.record.lsn)) {
    losses.push(`the record in etcd says the cluster reached epoch ${view.record.epoch} LSN ${view.record.lsn} (written by ${view.record.by} at ${view.record.at}); ${target}'s store ends at epoch ${b.storeEpoch} LSN ${b.lastLsn}: up to ${Math.max(0, view.record.lsn - b.lastLsn)} log records accepted after are lost`);
  }
  const record = view.record;
  const brokerName = b.name ?? target;
  if (record?.gate && b.storeEpoch === record.epoch && record.primary !== brokerName && !record.gate.includes(brokerName)) {
    losses.push(`${target} is outside the ack gate the record names for epoch ${record.epoch} (primary ${record.primary ?? '?'}, backups ${record.gate.join(', ') || 'none'}): what they settled after it left may be lost`);
  }
  for (const other of view.members) {
    if (other.name !== target && other.broker.lastLsn > b.lastLsn) losses.push(`${other.name}'s store reaches LSN ${other.broker.lastLsn}, ${other.broker.lastLsn - b.lastLsn} past ${target}'s; it will resync from ${target} and lose them`);
  }
  for (const loss of losses) process.stderr.write(`qpid-ha-manager: warning: ${loss}\n`);
  if (losses.length === 0) process.stderr.write(`qpid-ha-manager: ${target} holds the most recent store known; nothing known is lost\n`);
  const address = parseQpidUrl(b.address as string).addresses[0] as QpidAddress;
  const username = typeof raw['username'] === 'string' ? raw['username'] : undefined;
  const password = typeof raw['password'] === 'string' ? raw['password'] : process.env['QPID_PASSWORD'];
  const ttlSeconds = parseClusterOptions(raw).ttlSeconds;
  // A lease of one ttl: its manager adopts the primary and renews it; without a manager it stops.
  const result = await managementRequest<{ state: string; epoch: number; warnings: string[] }>(
    address,
    'promote',
    { clusterManager: true, force: true, leaseSeconds: ttlSeconds },
    { admin: true, timeoutMs: 30_000, ...(username !== undefined ? { username, ...(password !== undefined ? { password } : {}) } : {}) },
  );
  for (const warning of result.warnings) process.stderr.write(`qpid-ha-manager: warning: ${warning}\n`);
  process.stdout.write(`${target}: ${result.state} (epoch ${result.epoch})\n`);
  return 0;
}

function formatStatus(view: ClusterView): string {
  const leader = view.members.find((m) => m.name === view.leader);
  const top = leader?.broker.lastLsn ?? Math.max(0, ...view.members.map((m) => m.broker.lastLsn));
  const lines = [
    `leader: ${view.leader ?? '(none)'}${view.paused ? ' (PAUSED: no automatic actions)' : ''}`,
    `record: ${view.record ? `epoch ${view.record.epoch} LSN ${view.record.lsn}${view.record.gate ? `, primary ${view.record.primary ?? '?'}, ack gate ${view.record.gate.join(', ') || '(no backup)'}` : ''} (by ${view.record.by} at ${view.record.at})` : '(none)'}`,
    'brokers:',
  ];
  for (const m of view.members) {
    const b = m.broker;
    const d = m.decision;
    lines.push(`  ${m.name} ${b.state} epoch ${b.storeEpoch} lsn ${b.lastLsn} lag ${Math.max(0, top - b.lastLsn)} manager ${m.manager.host}:${m.manager.pid}${m.manager.leading ? ' (leading)' : ''}`);
    if (d) lines.push(`    last decision: ${d.decision}: ${d.reason} (${d.at})`);
  }
  lines.push('failovers:');
  for (const f of view.failovers.slice(-10)) lines.push(`  ${f.at} -> ${f.to}: ${f.reason} (epoch before ${f.epochBefore})`);
  if (view.failovers.length === 0) lines.push('  (none)');
  return `${lines.join('\n')}\n`;
}
