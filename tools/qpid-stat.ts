#!/usr/bin/env node
// qpid-stat: broker statistics with qpidd's views: -g broker summary (the default), -c
// connections, -q queues, -e exchanges, -u subscriptions, and --ha replication (new: each
// backup's lag and what a failover now would lose). -S COLUMN sorts, -L N limits, --json prints
// the same rows for machines. Columns are aligned in a terminal, tab-separated when piped.
import { parseArgs } from 'node:util';
import type { ManagementClient } from '../src/management/client.js';
import type { ReplicationSummary } from '../src/management/queue-figures.js';
import { brokerAddress, brokerLogin, parseTimeoutMs, runTool, UsageError, withManagement } from './lib/management-cli.js';
import { field, parseLimit, printTable, sortRows, type Column } from './lib/table.js';

const HELP = `usage: qpid-stat [-b ADDR] [--ha-admin] [--timeout S] [-g | -c | -q | -e | -u | --ha] [-S COLUMN] [-L N] [--json]
views:
  -g, --general        broker summary (default)
  -c, --connections    connections
  -q, --queues         queues: depth, totals in and out, rates, consumers, flow control, unreplicated
  -e, --exchanges      exchanges
  -u, --subscriptions  subscriptions (consumers)
  --ha                 replication: each backup's lag, and the messages not yet on every backup
options:
  -S, --sort-by COLUMN sort by a column (numbers largest first)
  -L, --limit N        show at most N rows
  --json               the rows as JSON`;

type View = 'general' | 'connections' | 'queues' | 'exchanges' | 'subscriptions' | 'ha';

const COLUMNS: Record<Exclude<View, 'general' | 'ha'>, Column[]> = {
  connections: [field('connection', 'id'), field('client', 'address'), field('container', 'containerId'), field('user'), field('role'), field('product'), field('producers'), field('consumers')],
  queues: [
    field('queue', 'name'),
    { header: 'dur', value: (r) => r['durable'] },
    field('msg', 'depth'),
    field('msgIn', 'enqueuedTotal'),
    field('msgOut', 'dequeuedTotal'),
    field('bytes'),
    field('cons', 'consumers'),
    field('enqRate', 'enqueueRate'),
    field('deqRate', 'dequeueRate'),
    field('flowStopped'),
    field('unreplicated', 'unreplicatedMessages'),
    field('unreplicatedBytes'),
  ],
  exchanges: [field('exchange', 'name'), field('type'), { header: 'dur', value: (r) => r['durable'] }, field('bind', 'bindings'), field('unrouted'), field('replicate')],
  subscriptions: [field('queue', 'node'), field('subscription', 'name'), field('connection'), field('client', 'address'), field('browse')],
};
const BACKUP_COLUMNS: Column[] = [field('backup', 'name'), field('state'), field('gate', 'inGate'), field('confirmedLsn'), field('lagRecords'), field('lagBytes'), field('lagSeconds')];

runTool('qpid-stat', async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: false,
    options: {
      broker: { type: 'string', short: 'b' },
      'ha-admin': { type: 'boolean', default: false },
      timeout: { type: 'string' },
      json: { type: 'boolean', default: false },
      general: { type: 'boolean', short: 'g', default: false },
      connections: { type: 'boolean', short: 'c', default: false },
      queues: { type: 'boolean', short: 'q', default: false },
      exchanges: { type: 'boolean', short: 'e', default: false },
      subscriptions: { type: 'boolean', short: 'u', default: false },
      ha: { type: 'boolean', default: false },
      'sort-by': { type: 'string', short: 'S' },
      limit: { type: 'string', short: 'L' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  void positionals;
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const chosen = (['general', 'connections', 'queues', 'exchanges', 'subscriptions', 'ha'] as const).filter((v) => values[v]);
  if (chosen.length > 1) throw new UsageError(`one view at a time: ${chosen.map((v) => (v === 'ha' ? '--ha' : `--${v}`)).join(' and ')} were given`);
  const view: View = chosen[0] ?? 'general';
  const limit = parseLimit(values.limit);
  const sortBy = values['sort-by'];
  const address = brokerAddress(values.broker);
  const timeoutMs = parseTimeoutMs(values.timeout, 10_000);
  const options = { admin: values['ha-admin'] || view === 'ha', timeoutMs, ...brokerLogin(values.broker) };
  if (view !== 'general' && view !== 'ha') {
    const operation = view === 'queues' ? 'queue-stats' : view;
    const columns = COLUMNS[view];
    const rows = await withManagement(address, options, (client) => client.requestAll<Record<string, unknown>>(operation, {}, timeoutMs));
    if (values.json) {
      const sorted = sortRows(rows, columns, sortBy);
      process.stdout.write(`${JSON.stringify(limit === undefined ? sorted : sorted.slice(0, limit))}\n`);
    } else printTable(rows, columns, { sortBy, limit });
    return 0;
  }
  if (view === 'ha') {
    const summary = await withManagement(address, options, (client) => client.request<ReplicationSummary>('replication-status', {}, timeoutMs));
    if (values.json) {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      return 0;
    }
    printTable([summary as unknown as Record<string, unknown>], [field('broker', 'name'), field('state'), field('epoch'), field('lastLsn'), field('unreplicatedMsgs', 'unreplicatedMessages'), field('unreplicatedBytes'), field('quarantined')]);
    if (summary.backups.length > 0) printTable(summary.backups as unknown as Record<string, unknown>[], BACKUP_COLUMNS, { sortBy, limit });
    return 0;
  }
  if (sortBy !== undefined || limit !== undefined) throw new UsageError('-S and -L apply to the listing views (-c, -q, -e, -u, --ha), not -g');
  const summary = await withManagement(address, options, (client) => general(client, timeoutMs));
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else printTable([summary], Object.keys(summary).map((k) => field(k)));
  return 0;
});

/** The broker summary: its identity and HA state, and how much of everything it holds. */
async function general(client: ManagementClient, timeoutMs: number): Promise<Record<string, unknown>> {
  const stats = await client.request<Record<string, unknown>>('stats', {}, timeoutMs);
  const [connections, exchanges] = await Promise.all([client.requestAll('connections', {}, timeoutMs), client.requestAll('exchanges', {}, timeoutMs)]);
  return {
    broker: stats['name'],
    state: stats['state'],
    epoch: stats['epoch'],
    connections: connections.length,
    exchanges: exchanges.length,
    queues: stats['queues'],
    messages: stats['messages'],
    bytes: stats['bytes'],
    pendingSettlements: stats['pendingSettlements'],
    lastLsn: stats['lastLsn'],
  };
}
