#!/usr/bin/env node
// qpid-receive: receives from ADDRESS through the failover client and checks qpid-send's sequence
// numbers per sender: gaps are loss, repeats are duplicates (expected after failover, reported
// separately, never counted as loss). Exits 1 if any message is missing (a gap, or fewer than -m
// received), or with --check-redelivered if a duplicate was not marked redelivered; 2 on bad usage.
import { connect, type Connection, type Delivery } from '../src/client/index.js';
import { parseAddress } from '../src/client/address.js';
import { parseConnectionOptions } from '../src/client/options.js';
import { intOption, numberOption, parseOptions, requiredString, runMain, stringOption, yesNoOption, type OptionTable } from './lib/args.js';
import { HistoryWriter } from './lib/history.js';
import { describeEvent, printSummary, Progress, ratePerS } from './lib/output.js';
import { SENDER_ID_PROPERTY, SequenceTracker, SN_PROPERTY } from './lib/sequence-tracker.js';

const TOOL = 'qpid-receive';
const EOS = 'eos';
/** Without -m, --timeout or --forever: stop after this long with nothing to receive. */
const DRAIN_IDLE_MS = 1000;
const GAPS_PRINTED_MAX = 20;

const OPTIONS: OptionTable = {
  broker: { type: 'string', short: 'b' },
  address: { type: 'string', short: 'a' },
  messages: { type: 'string', short: 'm' },
  timeout: { type: 'string' },
  forever: { type: 'boolean', short: 'f' },
  capacity: { type: 'string' },
  'ack-frequency': { type: 'string' },
  'ignore-duplicates': { type: 'boolean' },
  'check-redelivered': { type: 'boolean' },
  'verify-sequence': { type: 'boolean' },
  'print-content': { type: 'string' },
  'connection-options': { type: 'string' },
  'report-total': { type: 'boolean' },
  'failover-updates': { type: 'boolean' },
  history: { type: 'string' },
  id: { type: 'string', short: 'i' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const USAGE = `usage: ${TOOL} -b URL -a ADDRESS [-m COUNT] [options]
  -b, --broker URL              Qpid URL, e.g. amqp:host1:5672,host2:5672 (default 127.0.0.1:5672)
  -a, --address ADDRESS         name[; {create: always, mode: browse, ...}]
  -m, --messages COUNT          stop after COUNT messages (0: no limit; default 0)
      --timeout S               stop after S seconds connected without a message
                                (default: wait forever with -m, else ${DRAIN_IDLE_MS / 1000} s)
  -f, --forever                 ignore --timeout
      --capacity N              prefetch: credit granted to the broker (default 1000)
      --ack-frequency N         accept in batches of N; 0 never accepts (default 100)
      --ignore-duplicates       duplicates (by sender-id and sn) do not count toward -m
      --check-redelivered       fail if a duplicate is not marked redelivered
      --verify-sequence         fail on a gap (always on; accepted for compatibility)
      --print-content yes|no    print each body on stdout (default yes; never with --json)
      --connection-options MAP  e.g. "{reconnect: true, heartbeat: 1}"
      --report-total            add elapsed time and throughput to the summary
      --failover-updates        report each connect, failed attempt and disconnect on stderr
      --history FILE            append each receipt (before it is accepted) and connection change
                                to FILE, one JSON line each (README.md; qpid-check-history)
  -i, --id ID                   this receiver's name in the history (default qpid-receive-<pid>)
      --json                    print the summary as one JSON object (gaps listed)`;

/** Text for --print-content: strings as they are, binary (a data section) as UTF-8, else JSON. */
function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  const section = body as { typecode?: number; content?: unknown } | null;
  if (section && typeof section === 'object' && section.typecode === 0x75 && Buffer.isBuffer(section.content)) return section.content.toString('utf8');
  return JSON.stringify(body);
}

async function main(argv: readonly string[]): Promise<number> {
  const values = parseOptions(argv, OPTIONS);
  if (values['help']) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const url = stringOption(values, 'broker', '127.0.0.1:5672') as string;
  const address = requiredString(values, 'address');
  // A bad address is bad usage: report it before connecting. Summaries name the node only.
  const node = parseAddress(address).address;
  const limit = intOption(values, 'messages', 0);
  const forever = values['forever'] === true;
  const timeoutS = numberOption(values, 'timeout', undefined, 0);
  const idleMs = forever ? undefined : timeoutS !== undefined ? timeoutS * 1000 : limit > 0 ? undefined : DRAIN_IDLE_MS;
  const credit = Math.max(1, intOption(values, 'capacity', 1000));
  const ackFrequency = intOption(values, 'ack-frequency', 100);
  const ignoreDuplicates = values['ignore-duplicates'] === true;
  const checkRedelivered = values['check-redelivered'] === true;
  const json = values['json'] === true;
  const printContent = yesNoOption(values, 'print-content', true) && !json;
  const reportTotal = values['report-total'] === true;
  const failoverUpdates = values['failover-updates'] === true;
  const connectOptions = parseConnectionOptions(stringOption(values, 'connection-options', '') as string);
  const id = stringOption(values, 'id') ?? `${TOOL}-${process.pid}`;
  const historyFile = stringOption(values, 'history');
  const history = historyFile === undefined ? null : new HistoryWriter('', id, historyFile);

  const tracker = new SequenceTracker();
  const counts = { received: 0, counted: 0, redelivered: 0, unmarkedDuplicates: 0 };
  let failure: { code: string; message: string } | undefined;
  let timedOut = false;
  let connection: Connection | undefined;
  const startedMs = performance.now();
  const progress = new Progress(() => {
    const report = tracker.report();
    return `${TOOL}: received ${counts.received}${limit ? `/${limit}` : ''} duplicates ${report.duplicates} lost ${report.lost} reconnects ${connection?.stats.reconnects ?? 0}`;
  });

  let stopping = false;
  const stop = (): void => {
    stopping = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  const unacked: Delivery[] = [];
  const acknowledge = (): void => {
    for (const delivery of unacked.splice(0)) delivery.accept();
  };
  try {
    connection = await connect(url, {
      ...connectOptions,
      onEvent: (event) => {
        if (history) {
          if (event.kind === 'connected') history.write({ kind: 'connect', client: id, address: event.address, reconnect: event.reconnect });
          else if (event.kind === 'disconnected') history.write({ kind: 'disconnect', client: id, address: event.address, reason: event.reason });
        }
        if (failoverUpdates) process.stderr.write(`${describeEvent(TOOL, event)}\n`);
      },
    });
    progress.start();
    const receiver = await connection.receiver(address, { credit });
    while (!stopping && (limit === 0 || counts.counted < limit)) {
      const delivery = await receiver.receive(idleMs);
      if (delivery === undefined) {
        // Time spent reconnecting is not idleness: keep waiting while the client fails over.
        if (connection.isOpen) {
          timedOut = true;
          break;
        }
        continue;
      }
      counts.received++;
      if (delivery.redelivered) counts.redelivered++;
      const properties = (delivery.message.application_properties ?? {}) as Record<string, unknown>;
      // Before the accept: a message the broker counts as consumed is always in the history.
      history?.write({ kind: 'receive', consumer: id, queue: node, producer: String(properties[SENDER_ID_PROPERTY] ?? ''), sn: Number(properties[SN_PROPERTY] ?? -1), deliveryCount: delivery.deliveryCount });
      const result = tracker.track(String(properties[SENDER_ID_PROPERTY] ?? ''), properties[SN_PROPERTY]);
      if (result === 'duplicate' && !delivery.redelivered) counts.unmarkedDuplicates++;
      if (ackFrequency > 0) {
        unacked.push(delivery);
        if (unacked.length >= ackFrequency) acknowledge();
      }
      if (result === 'duplicate' && ignoreDuplicates) continue;
      if (delivery.message.body === EOS) break;
      counts.counted++;
      if (printContent) process.stdout.write(`${bodyText(delivery.message.body)}\n`);
    }
    if (ackFrequency > 0) acknowledge();
    receiver.close();
  } catch (error) {
    const coded = error as { code?: string; message?: string };
    if (coded.code === 'BAD_OPTION' || coded.code === 'BAD_ADDRESS') throw error;
    failure = { code: coded.code ?? 'ERROR', message: coded.message ?? String(error) };
  } finally {
    progress.stop();
  }
  const elapsedMs = Math.round(performance.now() - startedMs);
  const stats = connection?.stats;
  history?.write({ kind: 'done', client: id, detail: { received: counts.received } });
  history?.close();
  await connection?.close();

  const report = tracker.report();
  const shortfall = limit > 0 ? Math.max(0, limit - counts.counted) : 0;
  const gaps = report.senders.flatMap((sender) => sender.gaps.map(([from, to]) => ({ senderId: sender.senderId, from, to })));
  const summary = {
    address: node,
    received: counts.received,
    unique: report.unique,
    duplicates: report.duplicates,
    redelivered: counts.redelivered,
    lost: report.lost,
    shortfall,
    untracked: report.untracked,
    senders: report.senders.length,
    timedOut,
    reconnects: stats?.reconnects ?? 0,
    disconnectedMs: stats?.disconnectedMs ?? 0,
    ...(checkRedelivered ? { unmarkedDuplicates: counts.unmarkedDuplicates } : {}),
    ...(reportTotal || json ? { elapsedMs, ratePerS: ratePerS(counts.received, elapsedMs) } : {}),
    ...(failure ? { error: failure.code, errorMessage: failure.message } : {}),
    ...(json ? { gaps } : {}),
  };
  if (!json) {
    if (failure) process.stderr.write(`${TOOL}: ${failure.code}: ${failure.message}\n`);
    for (const gap of gaps.slice(0, GAPS_PRINTED_MAX)) {
      process.stderr.write(`${TOOL}: lost sn ${gap.from}${gap.to > gap.from ? `-${gap.to}` : ''} from sender ${gap.senderId || '(none)'}\n`);
    }
    if (gaps.length > GAPS_PRINTED_MAX) process.stderr.write(`${TOOL}: ... and ${gaps.length - GAPS_PRINTED_MAX} more gaps\n`);
    if (shortfall > 0) process.stderr.write(`${TOOL}: received ${counts.counted} of ${limit} messages\n`);
  }
  printSummary(TOOL, summary, json);
  const missing = report.lost > 0 || shortfall > 0;
  return failure || missing || (checkRedelivered && counts.unmarkedDuplicates > 0) ? 1 : 0;
}

runMain(TOOL, () => main(process.argv.slice(2)));
