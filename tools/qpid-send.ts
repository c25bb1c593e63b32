#!/usr/bin/env node
// qpid-send: sends COUNT messages to ADDRESS, each with application properties `sn` (1, 2, ...) and
// `sender-id`, through the failover client; a message the broker had not settled when a connection
// dropped is sent again. Prints sent, accepted, rejected, released and resent counts; exits 0 only
// when every message was accepted, 1 otherwise, 2 on bad usage. Options follow the reference tool.
import { randomUUID } from 'node:crypto';
import { connect, type Connection, type SendOutcome } from '../src/client/index.js';
import { parseAddress } from '../src/client/address.js';
import { parseConnectionOptions } from '../src/client/options.js';
import {
  intOption,
  listOption,
  numberOption,
  parseOptions,
  requiredString,
  runMain,
  stringOption,
  UsageError,
  yesNoOption,
  type OptionTable,
} from './lib/args.js';
import { HistoryWriter } from './lib/history.js';
import { describeEvent, printSummary, Progress, ratePerS } from './lib/output.js';
import { SENDER_ID_PROPERTY, SN_PROPERTY } from './lib/sequence-tracker.js';

const TOOL = 'qpid-send';

const OPTIONS: OptionTable = {
  broker: { type: 'string', short: 'b' },
  address: { type: 'string', short: 'a' },
  messages: { type: 'string', short: 'm' },
  id: { type: 'string', short: 'i' },
  durable: { type: 'string' },
  'content-size': { type: 'string' },
  'content-string': { type: 'string' },
  rate: { type: 'string' },
  'send-rate': { type: 'string' },
  capacity: { type: 'string' },
  'connection-options': { type: 'string' },
  'report-total': { type: 'boolean' },
  'report-every': { type: 'string' },
  'failover-updates': { type: 'boolean' },
  'send-eos': { type: 'string' },
  ttl: { type: 'string' },
  priority: { type: 'string' },
  property: { type: 'string', short: 'P', multiple: true },
  history: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const USAGE = `usage: ${TOOL} -b URL -a ADDRESS [-m COUNT] [options]
  -b, --broker URL              Qpid URL, e.g. amqp:host1:5672,host2:5672 (default 127.0.0.1:5672)
  -a, --address ADDRESS         name[/subject][; {create: always, node: {durable: true, ...}}]
  -m, --messages COUNT          messages to send; 0 sends until SIGINT/SIGTERM (default 1)
  -i, --id ID                   sender id carried in property sender-id (default a UUID)
      --durable yes|no          mark messages durable (default no)
      --content-size N          N-byte body of 'X' (default: --content-string, else empty)
      --content-string TEXT     body text
      --rate R                  at most R messages per second (alias --send-rate)
      --capacity N              most messages unsettled at once (default 1000)
      --connection-options MAP  e.g. "{reconnect: true, heartbeat: 1, reconnect_urls: [h2:5672]}"
      --send-eos N              then send N messages with body "eos"
      --ttl MS, --priority N    message header fields
  -P, --property NAME=VALUE     extra application property (repeatable)
      --report-total            add elapsed time and throughput to the summary
      --report-every N          print a progress summary each time N more messages are accepted
      --failover-updates        report each connect, failed attempt and disconnect on stderr
      --history FILE            append each send, settlement and connection change to FILE, one
                                JSON line each (README.md: the history format; qpid-check-history)
      --json                    print the summary as one JSON object`;

function parseProperty(text: string): [string, string | number | boolean] {
  const equals = text.indexOf('=');
  if (equals <= 0) throw new UsageError(`--property: "${text}" is not NAME=VALUE`);
  const raw = text.slice(equals + 1);
  const value = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  return [text.slice(0, equals), value];
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
  const count = intOption(values, 'messages', 1);
  const id = stringOption(values, 'id') ?? randomUUID();
  const durable = yesNoOption(values, 'durable', false);
  const contentSize = intOption(values, 'content-size', 0);
  const body = contentSize > 0 ? 'X'.repeat(contentSize) : (stringOption(values, 'content-string') ?? '');
  const rate = numberOption(values, 'rate', numberOption(values, 'send-rate', undefined, 0), 0);
  const capacity = intOption(values, 'capacity', 1000, 1);
  const eosCount = intOption(values, 'send-eos', 0);
  const ttlMs = intOption(values, 'ttl', 0);
  const priority = intOption(values, 'priority', 0, 0, 255);
  const extra = Object.fromEntries(listOption(values, 'property').map(parseProperty));
  const json = values['json'] === true;
  const reportTotal = values['report-total'] === true;
  const reportEvery = intOption(values, 'report-every', 0);
  const failoverUpdates = values['failover-updates'] === true;
  const connectOptions = parseConnectionOptions(stringOption(values, 'connection-options', '') as string);
  const historyFile = stringOption(values, 'history');
  const history = historyFile === undefined ? null : new HistoryWriter('', id, historyFile);

  const counts = { sent: 0, accepted: 0, rejected: 0, released: 0 };
  let failure: { code: string; message: string } | undefined;
  let connection: Connection | undefined;
  const startedMs = performance.now();
  const summary = (): Record<string, unknown> => {
    const elapsedMs = Math.round(performance.now() - startedMs);
    const stats = connection?.stats;
    return {
      id,
      address: node,
      ...counts,
      resent: stats?.resent ?? 0,
      reconnects: stats?.reconnects ?? 0,
      disconnectedMs: stats?.disconnectedMs ?? 0,
      ...(reportTotal || json ? { elapsedMs, ratePerS: ratePerS(counts.accepted, elapsedMs) } : {}),
      ...(failure ? { error: failure.code, errorMessage: failure.message } : {}),
    };
  };
  const progress = new Progress(() => {
    const s = summary();
    return `${TOOL}: sent ${s['sent']}${count ? `/${count}` : ''} accepted ${s['accepted']} resent ${s['resent']} reconnects ${s['reconnects']}`;
  });

  let stopping = false;
  const stop = (): void => {
    stopping = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

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
    const sender = await connection.sender(address, { capacity });
    let sendFailure: unknown;
    const record = (outcome: SendOutcome): void => {
      if (outcome.outcome === 'accepted') {
        counts.accepted++;
        if (reportEvery > 0 && counts.accepted % reportEvery === 0) printSummary(TOOL, { progress: true, ...summary() } as never, json);
      }
      else if (outcome.outcome === 'rejected') counts.rejected++;
      else counts.released++;
    };
    const total = count === 0 ? Number.POSITIVE_INFINITY : count;
    const sendOne = async (sn: number, content: string): Promise<void> => {
      await sender.waitForCapacity();
      if (rate) {
        const dueMs = startedMs + ((sn - 1) * 1000) / rate;
        const waitMs = dueMs - performance.now();
        if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
      const message = {
        body: content,
        durable,
        message_id: `${id}:${sn}`,
        ...(ttlMs ? { ttl: ttlMs } : {}),
        ...(priority ? { priority } : {}),
        application_properties: { ...extra, [SN_PROPERTY]: sn, [SENDER_ID_PROPERTY]: id },
      };
      counts.sent++;
      // Written before the send: a message the broker may hold is always in the history.
      history?.write({ kind: 'send', producer: id, queue: node, sn });
      // A send rejects only when the client gives up; flush() below reports that failure.
      sender.send(message).then(
        (outcome) => {
          history?.write({ kind: 'settle', producer: id, queue: node, sn, outcome: outcome.outcome });
          record(outcome);
        },
        (error: unknown) => {
          history?.write({ kind: 'settle', producer: id, queue: node, sn, outcome: 'failed' });
          sendFailure ??= error;
        },
      );
    };
    let sn = 0;
    while (sn < total && !stopping && sendFailure === undefined) await sendOne(++sn, body);
    for (let eos = 0; eos < eosCount && sendFailure === undefined; eos++) await sendOne(++sn, 'eos');
    await sender.flush();
    if (sendFailure !== undefined) throw sendFailure;
  } catch (error) {
    const coded = error as { code?: string; message?: string };
    if (coded.code === 'BAD_OPTION' || coded.code === 'BAD_ADDRESS') throw error;
    failure = { code: coded.code ?? 'ERROR', message: coded.message ?? String(error) };
  } finally {
    progress.stop();
  }
  const result = summary();
  history?.write({ kind: 'done', client: id, detail: result });
  history?.close();
  await connection?.close();
  if (failure && !json) process.stderr.write(`${TOOL}: ${failure.code}: ${failure.message}\n`);
  printSummary(TOOL, result as never, json);
  const allAccepted = counts.accepted === counts.sent && counts.sent > 0;
  return failure || !allAccepted ? 1 : 0;
}

runMain(TOOL, () => main(process.argv.slice(2)));
