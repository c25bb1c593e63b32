// Issue 18's cluster view with issue 17's manager: each broker's qpid-ha-manager reports its
// view to its broker (`manager-report`: the leader and its last decision with the reason), and
// /api/v1/cluster and the web console show it beside each broker. Real etcd, brokers and
// managers; the console in Debian's chromium. After kill -9 of the primary, the console names
// the new leader.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { managedClusters } from '../helpers/managers.js';
import { waitFor } from '../helpers/broker-process.js';

const files = managedClusters();
let browser: Browser | null = null;
after(async () => {
  await browser?.close();
});

interface Member {
  readonly name: string | null;
  readonly state: string;
  readonly manager: { manager: string; leader: string | null; leading: boolean; stale: boolean; decision: { decision: string; reason: string } | null } | null;
}

async function pageText(page: Page, selector: string, check: (text: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = (await page.locator(selector).first().innerText({ timeout: 1000 }).catch(() => '')) ?? '';
    if (check(text)) return text;
    await page.waitForTimeout(50);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms; ${selector} shows: ${text.slice(0, 400)}`);
}

test('the cluster view shows each broker\'s manager, the leader and the last decision; after a kill, the new leader', async () => {
  const { cluster: c, managers: m } = await files.start({ size: 3, heartbeatS: 0.5, extraArgs: ['--http-port', '0'] }, { ttlS: 2 });
  m.startAll();
  const leader = await m.waitForActiveLeader();
  for (let j = 0; j < 3; j++) if (j !== leader) await c.waitForState(j, 'ready');
  // The console is served by a backup, so that it outlives the primary.
  const viewer = (leader + 1) % 3;
  const listening = await c.broker(viewer).waitForLog((l) => l.msg === 'listening');
  const http = `http://127.0.0.1:${String(listening['httpPort'])}`;

  const members = await waitFor(async () => {
    const answer = (await (await fetch(`${http}/api/v1/cluster`)).json()) as { members: Member[] };
    const all = answer.members;
    return all.length === 3 && all.every((e) => e.manager !== null && e.manager.leader === c.name(leader) && !e.manager.stale) ? all : null;
  }, 'every broker to show its manager naming the leader', 15_000);
  const leading = members.find((e) => e.name === c.name(leader));
  assert.equal(leading?.manager?.leading, true, JSON.stringify(leading));
  assert.equal(leading?.manager?.decision?.decision, 'leading', JSON.stringify(leading));
  for (const e of members) {
    assert.equal(e.manager?.manager, e.name, 'each broker shows its own manager');
    if (e.name !== c.name(leader)) assert.equal(e.manager?.leading, false, JSON.stringify(e));
  }

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const page = await browser.newPage();
  await page.goto(`${http}/`);
  await page.fill('#token', 'console-manager-token');
  await page.click('#sign-in');
  await pageText(page, '#manager', (t) => t.includes(`leader: ${c.name(leader)}`), 'the console to name the leader');
  const rows = await pageText(page, '#cluster', (t) => new RegExp(`${c.name(leader)} \\(leading\\): leading`).test(t), 'the leader\'s row to show its decision');
  assert.match(rows, new RegExp(`^${c.name(viewer)}\\b[^\\n]*${c.name(viewer)}: [a-z ]+:`, 'm'), rows);

  // kill -9 of the primary: the managers elect another, and the console says so.
  await c.kill(leader);
  const next = await m.waitForActiveLeader(30_000, leader);
  await pageText(page, '#manager', (t) => t.includes(`leader: ${c.name(next)}`), 'the console to name the new leader', 10_000);
  await pageText(page, '#cluster', (t) => new RegExp(`${c.name(next)} \\(leading\\): leading`).test(t), 'the new leader\'s row to show it leading', 10_000);
});
