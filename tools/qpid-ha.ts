#!/usr/bin/env node
// qpid-ha: HA status and control (reference §1.12.10). `status --expect=primary` exits 0 only
// on the primary, so a resource manager can use it as a health check; `promote` is a
// cluster-manager-only command and needs --cluster-manager.
import { parseArgs } from 'node:util';
import { parseQpidUrl, type QpidAddress } from '../src/core/qpid-url.js';
import type { HaStatus } from '../src/ha/node.js';
import { managementRequest } from '../src/management/client.js';
import type { ReplicationSummary } from '../src/management/queue-figures.js';
import { brokerAddress, brokerLogin, parseTimeoutMs, runTool, UsageError, withManagement } from './lib/management-cli.js';
import { DRILL_FAULTS, DrillRefused, runDrills, type DrillFault } from './lib/drill.js';
import { promotionScore } from './lib/promotion-score.js';
import { field, parseLimit, printTable, type Column } from './lib/table.js';

const HELP = `usage: qpid-ha [-b ADDR] [--timeout S] [--json] COMMAND
commands:
  status [--expect=STATE] [--all] [--is-primary]   the broker's HA state (exit 1 if not as expected)
  status --queues [-S COLUMN] [-L N]               replication exposure: each backup's lag, and per queue what
                                                   is not yet on every backup of the ack gate (the RPO now)
  query                                            the broker's HA settings and store position
  ping                                             exit 0 if the broker answers
  promotion-score                                  "STATE SCORE": the Pacemaker promotion score the OCF agent
                                                   sets (ranks stores by epoch, last LSN; "-": not promotable)
  promote [--force] [--lease S]                    (with --cluster-manager) make this broker primary
                                                   (--lease: serving under a lease of S seconds from the start)
  lease --seconds S                                the primary serves S more seconds unless renewed: then it
                                                   settles no producer and gives no credit (qpid-ha-manager renews it)
  replicate ORIGINAL QUEUE [--force]               make QUEUE on this broker a replica of QUEUE at ORIGINAL (a URL);
                                                   refused if QUEUE holds messages or ORIGINAL cannot be reached or
                                                   has no such queue, unless --force (which replaces them)
  replication                                      the replica queues here and the replicas following this broker
  drill --fault F --etcd URL --cluster NAME [--count N] [--restart] [--queue Q]
                                                   failover drills on a local cluster run by qpid-ha-manager: F is
                                                   kill (kill -9 the primary), stop (SIGSTOP it until another broker
                                                   serves, then SIGCONT), manager-kill (kill -9 its manager) or
                                                   host-loss (kill -9 both); times
                                                   detection, promotion, active and the probe's first accepted message,
                                                   then checks nothing accepted was lost (exit 1 if any was). Signals
                                                   only a pid its broker.json names on this host. --restart re-runs what
                                                   it killed as it was run (else its supervisor must); --timeout S is
                                                   per drill (default 60)
options:
  -b, --broker ADDR     broker address (default 127.0.0.1:5672)
  --cluster-manager     allow cluster-manager-only commands (promote)
  --timeout S           seconds to wait for the broker (default 10)
  --json                machine-readable output
STATE: joining, catchup, ready, recovering, active, standalone, or primary (recovering|active)`;

function matches(state: string, expected: string): boolean {
  if (expected === 'primary') return state === 'active' || state === 'recovering';
  if (expected === 'backup') return state === 'joining' || state === 'catchup' || state === 'ready';
  return state === expected;
}

runTool('qpid-ha', async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      broker: { type: 'string', short: 'b' },
      'cluster-manager': { type: 'boolean', default: false },
      timeout: { type: 'string' },
      json: { type: 'boolean', default: false },
      expect: { type: 'string' },
      all: { type: 'boolean', default: false },
      'is-primary': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      lease: { type: 'string' },
      queues: { type: 'boolean', default: false },
      sort: { type: 'string', short: 'S' },
      limit: { type: 'string', short: 'L' },
      fault: { type: 'string' },
      count: { type: 'string' },
      etcd: { type: 'string' },
      cluster: { type: 'string' },
      restart: { type: 'boolean', default: false },
      queue: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const command = positionals[0];
  if (!command) throw new UsageError(`a command is required\n${HELP}`);
  const arity = command === 'replicate' ? 3 : 1;
  if (positionals.length > arity) throw new UsageError(`unexpected argument "${positionals[arity]}"`);
  const address = brokerAddress(values.broker);
  const timeoutMs = parseTimeoutMs(values.timeout, 10_000);
  const options = { admin: true, timeoutMs, ...brokerLogin(values.broker) };
  switch (command) {
    case 'ping':
      await managementRequest(address, 'ping', {}, options);
      if (values.json) process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
      return 0;
    case 'status': {
      if (values.queues) return await replicationView(address, options, { json: values.json, sortBy: values.sort, limit: parseLimit(values.limit) });
      const status = await managementRequest<HaStatus>(address, 'status', {}, options);
      const expected = values['is-primary'] ? 'primary' : values.expect;
      if (values.all) {
        const rows = await everyBroker(status, address, options);
        if (values.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
        else for (const row of rows) process.stdout.write(`${row.address} ${row.state}${row.name ? ` (${row.name}, epoch ${(row as { epoch?: number }).epoch}, lsn ${(row as { lastLsn?: number }).lastLsn})` : ''}\n`);
        return expected && !rows.some((r) => matches(r.state, expected)) ? 1 : 0;
      }
      if (values.json) process.stdout.write(`${JSON.stringify(status)}\n`);
      else {
        // The state alone on the first line, and alone when all is well: scripts compare the
        // output with a state name, as with the reference's qpid-ha. Why replication is refused
        // (issue 13) and what is wrong with the store (full, corrupt, anything dropped or lost:
        // issue 16) follow it; `query` and --json show the whole recovery report.
        const extra = [...(status.replicationError ? [`replication refused: ${status.replicationError}`] : []), ...(status.lease?.expired ? ['serving lease expired: producers are not settled'] : []), ...storeLines(status, 'problems')];
        process.stdout.write(`${[status.state, ...extra].join('\n')}\n`);
      }
      return expected && !matches(status.state, expected) ? 1 : 0;
    }
    case 'promotion-score': {
      // For the Pacemaker agent (tools/ocf/qpidd): one process per monitor, not four.
      const status = await managementRequest<HaStatus>(address, 'status', {}, options);
      const needsPeers = status.state === 'ready' || (status.state === 'joining' && status.primary === null);
      const peers = needsPeers ? await everyBroker(status, address, options) : [];
      const { score, reason } = promotionScore({ name: status.name, state: status.state, primaryKnown: status.primary !== null }, peers);
      if (values.json) process.stdout.write(`${JSON.stringify({ state: status.state, score, reason })}\n`);
      else process.stdout.write(`${status.state} ${score ?? '-'}\n`);
      return 0;
    }
    case 'drill':
      return await drill(address, options.username !== undefined ? { username: options.username, ...(options.password !== undefined ? { password: options.password } : {}) } : {}, values);
    case 'query': {
      const status = await managementRequest<HaStatus>(address, 'status', {}, options);
      if (values.json) process.stdout.write(`${JSON.stringify(status)}\n`);
      else {
        const lines = [
          `name: ${status.name}`,
          `state: ${status.state}`,
          `epoch: ${status.epoch}`,
          `store: ${status.storeId} lsn ${status.firstLsn}..${status.lastLsn}${status.snapshotIncomplete ? ' (partial snapshot)' : ''}`,
          `epoch history: ${(status.epochHistory ?? []).map((e) => `${e.epoch}@${e.firstLsn}`).join(' ') || '(none)'}`,
          ...(status.heard ? [`heard: the primary of epoch ${status.heard.epoch} at LSN ${status.heard.lsn}${status.heard.lsn > status.lastLsn ? ` (this store ends at ${status.lastLsn}: behind, not promotable without --force)` : ''}`] : []),
          `last role: ${status.lastRole}`,
          `primary: ${status.primary ?? '(unknown)'}`,
          ...(status.replicationError ? [`replication refused: ${status.replicationError}`] : []),
          `brokers url: ${status.brokersUrl ?? '(none)'}`,
          ...(status.lease ? [`serving lease: ${status.lease.expired ? 'EXPIRED, producers are not settled nor given credit' : `${status.lease.remainingMs} ms left`}`] : []),
          ...(status.gate ? [`ack gate: ${status.gate.backups} backups (min ${status.gate.minBackups})${status.gate.short ? ': SHORT, producers wait' : ''}`] : []),
          // A departed ready backup holds settlement back until the cluster manager records it.
          ...(status.gate?.unrecorded?.length ? [`ack gate: ${status.gate.unrecorded.join(', ')} left; producers wait until the cluster manager records the gate without ${status.gate.unrecorded.length === 1 ? 'it' : 'them'}`] : []),
          ...status.members.map((m) => `member: ${m.name} ${m.state} confirmed ${m.confirmedLsn}${m.catchUp ? ` caught up ${m.catchUp.kind === 'incremental' ? `incrementally from LSN ${m.catchUp.fromLsn}` : `from a snapshot (${m.catchUp.reason})`}, ${m.shippedBytes ?? 0} bytes shipped` : ''}`),
          ...storeLines(status),
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      return 0;
    }
    case 'promote': {
      if (!values['cluster-manager']) throw new UsageError('promote is a cluster-manager-only command: add --cluster-manager (see qpid-ha --help)');
      const lease = values.lease === undefined ? {} : { leaseSeconds: parseSeconds(values.lease, '--lease') };
      const result = await withManagement(address, options, (client) => client.request<{ state: string; epoch: number; warnings: string[] }>('promote', { clusterManager: true, force: values.force, ...lease }, timeoutMs));
      for (const warning of result.warnings) process.stderr.write(`qpid-ha: warning: ${warning}\n`);
      if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stdout.write(`${result.state} (epoch ${result.epoch})\n`);
      return 0;
    }
    case 'lease': {
      if (values.seconds === undefined) throw new UsageError('lease needs --seconds S');
      const result = await managementRequest<{ remainingMs: number; expired: boolean }>(address, 'lease', { seconds: parseSeconds(values.seconds, '--seconds') }, options);
      process.stdout.write(`${values.json ? JSON.stringify(result) : `serving for ${result.remainingMs} ms unless renewed`}\n`);
      return 0;
    }
    case 'replicate': {
      const [, source, queue] = positionals;
      if (!source || !queue) throw new UsageError('usage: qpid-ha -b REPLICA replicate ORIGINAL QUEUE');
      // The broker waits up to 15 s for the original's first snapshot before it answers.
      const result = await managementRequest<{ state: string; removed: number }>(address, 'replicate', { source, queue, force: values.force }, { ...options, timeoutMs: Math.max(timeoutMs, 30_000) });
      const note = result.state === 'following' ? `removed ${result.removed} messages` : `${result.state}; the broker logs how it ends`;
      process.stdout.write(`${values.json ? JSON.stringify(result) : `${queue} replicates ${source} (${note})`}\n`);
      return 0;
    }
    case 'replication': {
      const result = await managementRequest<{ replicas: { queue: string; state: string; lastLsn: number }[]; followers: { queue: string; replica: string }[] }>(address, 'replication', {}, options);
      if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else {
        for (const r of result.replicas) process.stdout.write(`replica ${r.queue} ${r.state} lsn ${r.lastLsn}\n`);
        for (const f of result.followers) process.stdout.write(`followed ${f.queue} by ${f.replica}\n`);
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"\n${HELP}`);
  }
});

/** Every broker of the cluster's --ha-brokers-url (or this one alone), as each reports itself. */
async function everyBroker(status: HaStatus, address: QpidAddress, options: { admin: boolean; timeoutMs: number }): Promise<{ address: string; name: string | null; state: string; epoch?: number; lastLsn?: number; error?: string }[]> {
  const url = status.brokersUrl ? parseQpidUrl(status.brokersUrl) : { addresses: [address] };
  return await Promise.all(
    url.addresses.map(async (a) => {
      const label = `${a.host}:${a.port}`;
      try {
        const s = await managementRequest<HaStatus>(a, 'status', {}, options);
        return { address: label, name: s.name, state: s.state, epoch: s.epoch, lastLsn: s.lastLsn };
      } catch (err) {
        return { address: label, name: null, state: 'unreachable', error: (err as Error).message };
      }
    }),
  );
}

/** `drill`: the options checked here (exit 2 naming the option), the drills in tools/lib/drill.ts. */
async function drill(address: QpidAddress, login: { username?: string; password?: string }, values: { fault?: string | undefined; count?: string | undefined; etcd?: string | undefined; cluster?: string | undefined; restart: boolean; queue?: string | undefined; timeout?: string | undefined; json: boolean }): Promise<number> {
  const fault = values.fault as DrillFault | undefined;
  if (fault === undefined || !DRILL_FAULTS.includes(fault)) throw new UsageError(`--fault: expected ${DRILL_FAULTS.join(', ')}${values.fault === undefined ? '' : `, got "${values.fault}"`}`);
  const count = values.count === undefined ? 1 : Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new UsageError(`--count: expected a whole number in 1..1000, got "${values.count}"`);
  if (values.etcd === undefined) throw new UsageError('--etcd: required: the etcd endpoints the cluster\'s managers use, http://HOST:PORT[,...]');
  const etcd = values.etcd.split(',');
  for (const e of etcd) if (!/^https?:\/\/[^/\s]+$/.test(e)) throw new UsageError(`--etcd: "${e}" is not http://HOST:PORT`);
  if (values.cluster === undefined || !/^[A-Za-z0-9_.-]{1,64}$/.test(values.cluster)) throw new UsageError(`--cluster: required: the managers' --cluster name (letters, digits, _ . -)${values.cluster === undefined ? '' : `, got "${values.cluster}"`}`);
  const queue = values.queue ?? 'qpid-ha-drill';
  const timeoutMs = parseTimeoutMs(values.timeout, 60_000);
  let report;
  try {
    report = await runDrills({ broker: address, login, fault, count, etcd, cluster: values.cluster, restart: values.restart, queue, timeoutMs, progress: (line) => values.json || process.stdout.write(`${line}\n`) });
  } catch (err) {
    if (err instanceof DrillRefused) {
      process.stderr.write(`qpid-ha: drill: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    const m = report.medians;
    process.stdout.write(`median of ${report.drills.length}: detection ${m.detectionMs} ms, promotion ${m.promotionMs} ms, active ${m.activeMs} ms, first accepted ${m.firstAcceptedMs} ms\n`);
    process.stdout.write(`accepted ${report.accepted}, lost ${report.lost}${report.lost > 0 ? ` (e.g. ${report.lostExamples.join(', ')})` : ''}, producer errors ${report.producerErrors}\n`);
    for (const r of report.restarted) process.stdout.write(`restarted ${r.what} ${r.name}: pid ${r.pid}\n`);
  }
  return report.lost > 0 ? 1 : 0;
}

/** A positive number of seconds, at most an hour (the broker's own bound). */
function parseSeconds(text: string, option: string): number {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new UsageError(`${option}: expected seconds in (0, 3600], got "${text}"`);
  return seconds;
}

/** What `status` and `query` say about the store beyond the state: "store full", a failed
 * verify, and the recovery report with anything lost (`problems`: only what is wrong). */
function storeLines(status: HaStatus, show: 'all' | 'problems' = 'all'): string[] {
  const lines: string[] = [];
  const condition = status.storeCondition;
  if (condition?.full) lines.push('store full');
  if (condition?.corrupt) lines.push(`store corrupt: ${condition.corrupt}`);
  const r = status.recovery;
  if (r) {
    if (show === 'all') lines.push(`recovered: ${r.queues} queues, ${r.messages} messages, ${r.bytes} bytes, LSN ${r.firstLsn}..${r.lastLsn}, epoch ${r.epoch} (verify ${r.verify})`);
    for (const d of r.dropped) lines.push(`dropped: ${d.what}: ${d.reason}`);
    if (r.lostCount > 0) lines.push(`lost: ${r.lostCount} message(s) quarantined`);
    for (const l of r.lost.slice(0, 20)) lines.push(`lost: queue ${l.queue} position ${l.position} message ${l.messageId}: ${l.reason}`);
  }
  return lines;
}

const BACKUP_COLUMNS: Column[] = [field('backup', 'name'), field('state'), field('gate', 'inGate'), field('confirmedLsn'), field('lagRecords'), field('lagBytes'), field('lagSeconds')];
const QUEUE_COLUMNS: Column[] = [
  field('queue', 'name'),
  field('replicate'),
  field('depth'),
  field('bytes'),
  field('unreplicatedMsgs', 'unreplicatedMessages'),
  field('unreplicatedBytes'),
  field('enqRate', 'enqueueRate'),
  field('deqRate', 'dequeueRate'),
  field('consumers'),
  field('flowStopped'),
];

/** `status --queues`: the backups' lag, then each queue's depth and unreplicated messages. */
async function replicationView(address: ReturnType<typeof brokerAddress>, options: { admin: boolean; timeoutMs: number }, view: { json: boolean; sortBy: string | undefined; limit: number | undefined }): Promise<number> {
  const { summary, queues } = await withManagement(address, options, async (client) => ({
    summary: await client.request<ReplicationSummary>('replication-status', {}, options.timeoutMs),
    queues: await client.requestAll<Record<string, unknown>>('queue-stats', {}, options.timeoutMs),
  }));
  if (view.json) {
    process.stdout.write(`${JSON.stringify({ ...summary, queues })}\n`);
    return 0;
  }
  process.stdout.write(`${summary.name} ${summary.state} epoch ${summary.epoch} lsn ${summary.lastLsn}; unreplicated ${summary.unreplicatedMessages} messages, ${summary.unreplicatedBytes} bytes\n`);
  if (summary.backups.length > 0) printTable(summary.backups as unknown as Record<string, unknown>[], BACKUP_COLUMNS);
  printTable(queues, QUEUE_COLUMNS, { sortBy: view.sortBy, limit: view.limit });
  return 0;
}
