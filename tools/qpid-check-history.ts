#!/usr/bin/env node
// qpid-check-history: the crash suite's history checker as a tool (issue 16). Reads the JSONL
// histories that qpid-send and qpid-receive write with --history FILE (format: README.md, "For
// crash-suite authors"; any tool may write it) and reports, per queue: accepted, received, lost
// (accepted and never received), duplicates, unmarked redeliveries, phantoms (received and never
// sent to that queue) and order violations. Exit 1 on loss or phantoms, 0 otherwise (duplicates
// are expected after failover and are no failure); 2 on bad usage.
//
//   qpid-check-history FILE... [--json]
import { existsSync } from 'node:fs';
import { checkByQueue, type QueueVerdict } from './lib/history-checker.js';
import { readHistoryFiles } from './lib/history.js';
import { parseOptions, runMain, UsageError } from './lib/args.js';

const TOOL = 'qpid-check-history';
const USAGE = `usage: ${TOOL} FILE... [--json]
  FILE    a history written by qpid-send/qpid-receive --history (one JSON event per line)
  --json  print the report as one JSON object
exit status: 1 when a message accepted by the broker was never received, or a message was
received that was never sent to that queue; 0 otherwise (duplicates are reported, not failures)`;

function line(v: QueueVerdict): string {
  const c = v.counts;
  return `${v.queue}: accepted ${c.accepted}, received ${c.unique} (${c.receipts} receipts), lost ${c.lost}, duplicates ${c.duplicates}, unmarked redeliveries ${c.unmarkedRedeliveries}, phantoms ${c.phantoms}, order violations ${c.orderViolations}`;
}

async function main(argv: readonly string[]): Promise<number> {
  const values = parseOptions(argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, { allowPositionals: true });
  if (values['help']) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const files = (values['_'] as string[] | undefined) ?? [];
  if (files.length === 0) throw new UsageError(`at least one history file is needed\n${USAGE}`);
  for (const f of files) if (!existsSync(f)) throw new UsageError(`${f}: no such file`);
  let verdicts: QueueVerdict[];
  try {
    verdicts = checkByQueue(readHistoryFiles(files));
  } catch (err) {
    process.stderr.write(`${TOOL}: ${(err as Error).message}\n`);
    return 1;
  }
  const failed = verdicts.some((v) => v.counts.lost > 0 || v.counts.phantoms > 0);
  if (values['json']) {
    process.stdout.write(`${JSON.stringify({ ok: !failed, queues: verdicts })}\n`);
  } else {
    for (const v of verdicts) {
      process.stdout.write(`${line(v)}\n`);
      for (const m of v.lost.slice(0, 20)) process.stdout.write(`  lost: ${m.producer} sn ${m.sn}\n`);
      for (const p of v.phantoms.slice(0, 20)) process.stdout.write(`  phantom: ${p.producer} sn ${p.sn} received by ${p.consumer} (${p.reason})\n`);
      for (const o of v.orderViolations.slice(0, 20)) process.stdout.write(`  out of order: ${o.producer} sn ${o.sn} after sn ${o.after} (delivery-count ${o.deliveryCount})\n`);
    }
    if (verdicts.length === 0) process.stdout.write('no sends or receipts in the history\n');
    process.stdout.write(failed ? 'FAILED: messages were lost or received without being sent\n' : 'ok: nothing accepted was lost, nothing received was not sent\n');
  }
  return failed ? 1 : 0;
}

runMain(TOOL, () => main(process.argv.slice(2)));
