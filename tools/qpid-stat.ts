#!/usr/bin/env node
// qpid-stat: broker statistics: -g general (default), -q queues, -e exchanges.
import { parseArgs } from 'node:util';
import { brokerAddress, brokerLogin, parseTimeoutMs, runTool, withManagement } from './lib/management-cli.js';

runTool('qpid-stat', async () => {
  const { values } = parseArgs({
    options: {
      broker: { type: 'string', short: 'b' },
      'ha-admin': { type: 'boolean', default: false },
      timeout: { type: 'string' },
      json: { type: 'boolean', default: false },
      general: { type: 'boolean', short: 'g', default: false },
      queues: { type: 'boolean', short: 'q', default: false },
      exchanges: { type: 'boolean', short: 'e', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: qpid-stat [-b ADDR] [--ha-admin] [-g | -q | -e] [--json]\n');
    return 0;
  }
  const operation = values.queues ? 'queues' : values.exchanges ? 'exchanges' : 'stats';
  const address = brokerAddress(values.broker);
  const timeoutMs = parseTimeoutMs(values.timeout, 10_000);
  // Queues and exchanges come a page at a time: ask for every page.
  const result = await withManagement(address, { admin: values['ha-admin'], timeoutMs, ...brokerLogin(values.broker) }, (client) => (operation === 'stats' ? client.request<unknown>(operation, {}, timeoutMs) : client.requestAll(operation, {}, timeoutMs)));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  }
  if (Array.isArray(result)) {
    const rows = result as Record<string, unknown>[];
    const columns = operation === 'queues' ? ['name', 'durable', 'count', 'bytes', 'acquired', 'consumers', 'replicate', 'flowStopped'] : ['name', 'type', 'durable', 'bindings', 'replicate'];
    process.stdout.write(`${columns.join('\t')}\n`);
    for (const row of rows) process.stdout.write(`${columns.map((c) => String(row[c] ?? '')).join('\t')}\n`);
  } else {
    for (const [key, value] of Object.entries(result as Record<string, unknown>)) {
      process.stdout.write(`${key}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}\n`);
    }
  }
  return 0;
});
