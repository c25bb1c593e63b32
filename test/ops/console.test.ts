// Issue 18, the web console end to end in a real browser (Debian's chromium driven by
// playwright-core, nothing downloaded) against a real 3-broker cluster, served by a backup so
// that it outlives the primary: sign in (the token is sent as a bearer header, and as
// access_token on the event stream only); see the three brokers; load a queue with a real
// client and watch its depth change live; open the queue's page (bindings, consumers, browsed
// messages) and the connections; kill the primary, promote a backup by hand, and the cluster
// view shows the new primary within 2 s. A screenshot is taken at each step (to a temporary
// directory, printed); the test checks the page's text, not pixels.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connect, openSender, type TestConnection } from '../helpers/amqp.js';
import { Cluster } from '../helpers/cluster.js';
import { tempDir } from '../helpers/broker-process.js';

let cluster: Cluster | null = null;
let browser: Browser | null = null;
let client: TestConnection | null = null;
after(async () => {
  await client?.close().catch(() => {});
  await browser?.close();
  await cluster?.stop();
});

const shots = tempDir('qpidd-console-shots-');
let step = 0;
async function screenshot(page: Page, what: string): Promise<void> {
  const path = join(shots, `${String(++step).padStart(2, '0')}-${what}.png`);
  await page.screenshot({ path, fullPage: true });
  process.stdout.write(`# screenshot ${path}\n`);
}

/** Waits until the text of `selector` satisfies `check`, polling the page. */
async function waitForText(page: Page, selector: string, check: (text: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = (await page.locator(selector).first().innerText({ timeout: 1000 }).catch(() => '')) ?? '';
    if (check(text)) return text;
    await page.waitForTimeout(50);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms; ${selector} shows: ${text.slice(0, 400)}`);
}

test('the console: a 3-broker cluster, a queue filling live, and a failover shown within 2 s', async () => {
  cluster = await Cluster.start({ size: 3, extraArgs: ['--http-port', '0'] });
  const c = cluster;
  await c.promoteAndWait(0);
  const listening = await c.broker(1).waitForLog((l) => l.msg === 'listening');
  const consoleUrl = `http://127.0.0.1:${String(listening['httpPort'])}/`;

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const sent: { url: string; authorization: string | undefined }[] = [];
  page.on('request', (r) => sent.push({ url: r.url(), authorization: r.headers()['authorization'] }));
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(consoleUrl);
  await screenshot(page, 'opened');

  // Sign in: the token is stored and sent with every request from then on.
  await page.fill('#token', 'console-test-token');
  await page.click('#sign-in');
  await waitForText(page, '#identity', (t) => t.includes('signed in'), 'the console to say it is signed in');

  // The cluster: three brokers, b0 the primary, b1 and b2 ready backups.
  const clusterText = await waitForText(page, '#cluster', (t) => /b0[^\n]*primary[^\n]*active/.test(t) && /b1[^\n]*backup[^\n]*ready/.test(t) && /b2[^\n]*backup[^\n]*ready/.test(t), 'the cluster view to show the three brokers');
  assert.equal((clusterText.match(/^b\d/gm) ?? []).length, 3, clusterText);
  await screenshot(page, 'cluster');
  const events = sent.find((r) => r.url.includes('/api/v1/events') && r.url.includes('access_token=console-test-token'));
  assert.ok(events, 'the event stream carries the token as access_token');

  // A real client fills a queue on the primary; the queues view (served by the backup, figures
  // from the primary) follows its depth.
  await page.click('a[data-view="queues"]');
  client = await connect(c.ports[0] as number, { containerId: 'console-load' });
  const sender = await openSender(client.connection, { address: 'live-orders', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  const send = (n: number, from: number): void => {
    for (let i = 0; i < n; i++) sender.send({ durable: true, subject: 'order', application_properties: { n: from + i }, body: `order ${from + i}` });
  };
  send(100, 0);
  const row = 'tr[data-queue="live-orders"]';
  await waitForText(page, `${row} td[data-col="depth"]`, (t) => t === '100', 'the queue to show depth 100');
  await screenshot(page, 'queue-100');
  send(150, 100);
  await waitForText(page, `${row} td[data-col="depth"]`, (t) => t === '250', 'the depth to change live to 250');
  assert.ok(await page.locator(`${row} .spark canvas`).count() > 0, 'a uPlot sparkline in the row');
  await page.fill('#queue-filter', 'no-such-queue');
  assert.equal(await page.locator(row).count(), 0, 'the filter hides it');
  await page.fill('#queue-filter', 'live');
  assert.equal(await page.locator(row).count(), 1);
  await screenshot(page, 'queue-250');

  // The queue's page: figures, bindings, consumers, and browsing its messages.
  await page.click(`${row} a`);
  await waitForText(page, '#queue-summary', (t) => t.includes('250'), 'the queue page figures');
  await waitForText(page, '#bindings', (t) => t.includes('live-orders') || t.includes('exchange'), 'the bindings table');
  await page.click('#browse');
  const messages = await waitForText(page, '#messages', (t) => t.includes('order 0') && t.includes('"subject":"order"'), 'browsed messages with headers and bodies');
  assert.match(messages, /"n":0/);
  await screenshot(page, 'queue-page');

  await page.click('a[data-view="connections"]');
  await waitForText(page, '#connections', (t) => t.includes('console-load'), 'the load client in the connections view');
  await waitForText(page, '#links', (t) => t.includes('live-orders'), 'its link');
  await screenshot(page, 'connections');

  // Failover by hand: the primary is killed, b2 promoted; the console (on b1) shows it.
  await page.click('a[data-view="cluster"]');
  await client.close().catch(() => {});
  client = null;
  await c.kill(0);
  await waitForText(page, '#cluster', (t) => /b0[^\n]*unreachable/.test(t), 'the killed primary to show unreachable');
  await c.promote(2);
  const promotedAt = Date.now();
  await waitForText(page, '#primary', (t) => t.includes('b2'), 'the new primary in the cluster view', 2000);
  const shownMs = Date.now() - promotedAt;
  process.stdout.write(`# new primary shown ${shownMs} ms after the promotion\n`);
  await screenshot(page, 'failover');
  assert.match(await page.locator('#stream-state').innerText(), /live/, 'the event stream stayed open through the failover');
  // The queues now come from the new primary, with every message accepted before.
  await page.click('a[data-view="queues"]');
  await waitForText(page, `${row} td[data-col="depth"]`, (t) => t === '250', 'the queue on the new primary');
  await screenshot(page, 'queues-after-failover');
  assert.deepEqual(pageErrors, [], 'no script errors on the page');
  const authorized = sent.filter((r) => r.url.includes('/api/v1/') && !r.url.includes('/events'));
  assert.ok(authorized.length > 0 && authorized.every((r) => r.authorization === 'Bearer console-test-token'), 'every API request carried the bearer token');
});
