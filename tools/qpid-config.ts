#!/usr/bin/env node
// qpid-config: queues, exchanges and bindings (reference §1.12.6-7). In a cluster a change
// returns only once every ready backup has it. Connects as a normal client (so a backup
// redirects it) unless --ha-admin is given.
import { parseArgs } from 'node:util';
import { brokerAddress, brokerLogin, parseTimeoutMs, runTool, UsageError, withManagement } from './lib/management-cli.js';

const HELP = `usage: qpid-config [-b ADDR] [--ha-admin] [--timeout S] [--json] COMMAND
commands:
  add queue NAME [--durable] [--replicate none|configuration|all] [--max-count N] [--max-size BYTES]
                 [--limit-policy reject|ring] [--alternate-exchange X] [--argument KEY=VALUE]...
                 [--start-replica ORIGINAL]   (the queue follows QUEUE at ORIGINAL, a broker URL)
                 [--lvq-key PROPERTY]          last-value queue keyed by an application property
                 [--priorities 1-10]           priority queue with that many levels
                 [--group-header PROPERTY --shared-groups]  message groups named by a property
                 [--dedup-window N]   (accept a resent message-id among the last N without enqueuing it again)
  add exchange TYPE NAME [--durable] [--replicate none|configuration|all] [--alternate-exchange X]
  del queue NAME [--if-empty] [--if-unused]
  del exchange NAME
  bind EXCHANGE QUEUE [KEY] [--argument KEY=VALUE]...
  unbind EXCHANGE QUEUE [KEY]
  purge QUEUE
  queues | exchanges | bindings        list them`;

function argumentValue(text: string): string | number | boolean {
  if (/^-?\d+$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}

function count(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${option}: "${text}" is not a non-negative integer`);
  return Number(text);
}

function oneOf<T extends string>(text: string | undefined, option: string, allowed: readonly T[]): T | undefined {
  if (text === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(text)) throw new UsageError(`--${option}: "${text}" is not one of ${allowed.join(', ')}`);
  return text as T;
}

runTool('qpid-config', async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      broker: { type: 'string', short: 'b' },
      'ha-admin': { type: 'boolean', default: false },
      timeout: { type: 'string' },
      json: { type: 'boolean', default: false },
      durable: { type: 'boolean', default: false },
      replicate: { type: 'string' },
      'max-count': { type: 'string' },
      'max-size': { type: 'string' },
      'limit-policy': { type: 'string' },
      'alternate-exchange': { type: 'string' },
      'start-replica': { type: 'string' },
      'lvq-key': { type: 'string' },
      priorities: { type: 'string' },
      'group-header': { type: 'string' },
      'shared-groups': { type: 'boolean', default: false },
      'dedup-window': { type: 'string' },
      argument: { type: 'string', multiple: true, default: [] },
      'if-empty': { type: 'boolean', default: false },
      'if-unused': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const address = brokerAddress(values.broker);
  const options = { admin: values['ha-admin'], timeoutMs: parseTimeoutMs(values.timeout, 30_000), ...brokerLogin(values.broker) };
  const args: Record<string, string | number | boolean> = {};
  for (const pair of values.argument ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--argument: "${pair}" is not KEY=VALUE`);
    args[pair.slice(0, eq)] = argumentValue(pair.slice(eq + 1));
  }
  const replicate = oneOf(values.replicate, 'replicate', ['none', 'configuration', 'all'] as const);
  if (replicate) args['qpid.replicate'] = replicate;
  const [command, kind, ...rest] = positionals;
  let operation: string;
  let request: Record<string, unknown> = {};
  const need = (n: number, usage: string): void => {
    if (rest.length < n) throw new UsageError(`usage: qpid-config ${usage}`);
  };
  switch (command) {
    case 'add':
      if (kind === 'queue') {
        need(1, 'add queue NAME [options]');
        const maxCount = count(values['max-count'], 'max-count');
        const maxSize = count(values['max-size'], 'max-size');
        const policy = oneOf(values['limit-policy'], 'limit-policy', ['reject', 'ring'] as const);
        if (maxCount !== undefined) args['qpid.max_count'] = maxCount;
        if (maxSize !== undefined) args['qpid.max_size'] = maxSize;
        if (policy) args['qpid.policy_type'] = policy;
        if (values['start-replica']) args['qpid.replica-source'] = values['start-replica'];
        // qpidd's qpid-config names; the broker checks the values and their combinations.
        if (values['lvq-key'] !== undefined) args['qpid.last_value_queue_key'] = values['lvq-key'];
        const priorities = count(values.priorities, 'priorities');
        if (priorities !== undefined) args['qpid.priorities'] = priorities;
        if (values['group-header'] !== undefined) args['qpid.group_header_key'] = values['group-header'];
        if (values['shared-groups']) args['qpid.shared_msg_group'] = 1;
        const dedupWindow = count(values['dedup-window'], 'dedup-window');
        if (dedupWindow !== undefined) args['qpid.dedup_window'] = dedupWindow;
        operation = 'add-queue';
        request = { name: rest[0], durable: values.durable, alternateExchange: values['alternate-exchange'] ?? null, arguments: args };
      } else if (kind === 'exchange') {
        need(2, 'add exchange TYPE NAME [options]');
        const type = oneOf(rest[0], 'type', ['direct', 'topic', 'fanout', 'headers'] as const);
        operation = 'add-exchange';
        request = { type, name: rest[1], durable: values.durable, alternateExchange: values['alternate-exchange'] ?? null, arguments: args };
      } else throw new UsageError('usage: qpid-config add queue|exchange ...');
      break;
    case 'del':
      if (kind !== 'queue' && kind !== 'exchange') throw new UsageError('usage: qpid-config del queue|exchange NAME');
      need(1, `del ${kind} NAME`);
      operation = kind === 'queue' ? 'del-queue' : 'del-exchange';
      request = kind === 'queue' ? { name: rest[0], ifEmpty: values['if-empty'], ifUnused: values['if-unused'] } : { name: rest[0] };
      break;
    case 'bind':
    case 'unbind':
      if (kind === undefined || rest.length < 1) throw new UsageError(`usage: qpid-config ${command} EXCHANGE QUEUE [KEY]`);
      operation = command;
      request = { exchange: kind, queue: rest[0], key: rest[1] ?? '', ...(command === 'bind' ? { arguments: args } : {}) };
      break;
    case 'purge':
      if (!kind) throw new UsageError('usage: qpid-config purge QUEUE');
      operation = 'purge';
      request = { queue: kind };
      break;
    case 'queues':
    case 'exchanges':
    case 'bindings':
      operation = command;
      break;
    default:
      throw new UsageError(command ? `unknown command "${command}"\n${HELP}` : `a command is required\n${HELP}`);
  }
  // Listings come a page at a time: ask for every page.
  const listing = operation === 'queues' || operation === 'exchanges' || operation === 'bindings';
  const result = await withManagement(address, options, (client) => (listing ? client.requestAll(operation, request, options.timeoutMs) : client.request<unknown>(operation, request, options.timeoutMs)));
  if (values.json || !Array.isArray(result)) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    for (const row of result as Record<string, unknown>[]) {
      if (operation === 'queues') process.stdout.write(`${String(row['name'])}\t${row['durable'] ? 'durable' : 'transient'}\t${String(row['count'])} msgs\t${String(row['bytes'])} bytes\treplicate=${String(row['replicate'])}\n`);
      else if (operation === 'exchanges') process.stdout.write(`${String(row['name']) || '(default)'}\t${String(row['type'])}\t${row['durable'] ? 'durable' : 'transient'}\treplicate=${String(row['replicate'])}\n`);
      else process.stdout.write(`${String(row['exchange']) || '(default)'}\t${String(row['queue'])}\t${String(row['key'])}\n`);
    }
  }
  return 0;
});
