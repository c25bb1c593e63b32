// The qpidd web console: plain ES modules, no build step. Views (the hash is the route):
// #/cluster (every broker with its role, HA state, epoch and lag), #/queues (sortable and
// filterable, with rates, a sparkline and unreplicated bytes), #/queue/NAME (bindings,
// consumers, browsing messages) and #/connections (connections and links). Live figures come
// over the event stream (api.js); the other views poll their listing while shown.
import { ApiError, get, openEvents, setToken, token } from '/console/api.js';
import { depthChart, record, sparkline } from '/console/charts.js';

const state = { cluster: [], queues: [], overview: null, sort: { key: 'name', desc: false }, filter: '', browse: null };
const view = document.getElementById('view');
let poll = null;

const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (v) => (v === null || v === undefined ? '' : typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : String(v));

function banner(text) {
  const el = document.getElementById('banner');
  el.textContent = text ?? '';
  el.hidden = !text;
}

function table(columns, rows, options = {}) {
  const head = columns
    .map((c) => `<th data-key="${c.key}" class="${options.sortable ? 'sortable' : ''} ${options.sort?.key === c.key ? 'sorted' : ''}">${esc(c.header)}</th>`)
    .join('');
  const body = rows
    .map((r) => `<tr ${options.rowAttrs ? options.rowAttrs(r) : ''}>${columns.map((c) => `<td class="${c.num ? 'num' : ''}" data-col="${c.key}">${c.html ? c.html(r) : esc(c.num ? num(r[c.key]) : r[c.key])}</td>`).join('')}</tr>`)
    .join('');
  return `<table id="${options.id ?? ''}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

// Cluster ----------------------------------------------------------------------------------
function renderCluster() {
  const primary = state.cluster.find((m) => m.role === 'primary');
  // The managers' view: the leader the freshest report names, and each broker's last decision.
  const reports = state.cluster.map((m) => m.manager).filter((r) => r && !r.stale);
  const leader = reports.map((r) => r.leader).find((l) => l) ?? null;
  const paused = reports.some((r) => r.paused);
  const managerText = reports.length === 0
    ? 'no cluster manager reports to these brokers'
    : `leader: ${esc(leader ?? 'none')}${paused ? ' (automatic actions paused)' : ''}`;
  view.innerHTML = `<h2>Cluster</h2>
    <p id="primary">primary: ${primary ? `${esc(primary.name)} (${esc(primary.address)}, epoch ${esc(primary.epoch)})` : 'none'}</p>
    <p id="manager">manager ${managerText}</p>
    ${table(
      [
        { key: 'name', header: 'broker' },
        { key: 'address', header: 'address' },
        { key: 'role', header: 'role' },
        { key: 'state', header: 'HA state' },
        { key: 'epoch', header: 'epoch', num: true },
        { key: 'lastLsn', header: 'last LSN', num: true },
        { key: 'lagRecords', header: 'lag (records)', num: true },
        { key: 'decision', header: 'manager decision', html: (m) => managerCell(m.manager) },
      ],
      state.cluster,
      { id: 'cluster', rowAttrs: (m) => `data-broker="${esc(m.name ?? m.address)}" class="${m.role === 'primary' ? 'primary' : ''} ${m.state === 'unreachable' ? 'unreachable' : ''}"` },
    )}`;
}

/** A broker's manager and its last decision with the reason, or why there is none. */
function managerCell(report) {
  if (!report) return '<span class="note">no manager</span>';
  const d = report.decision;
  const what = d ? `${esc(d.decision)}: ${esc(d.reason)} <span class="note">(${esc(d.at)})</span>` : 'no decision yet';
  return `${esc(report.manager)}${report.leading ? ' (leading)' : ''}: ${what}${report.stale ? ` <span class="note">stale: last report ${esc(report.reportedAt)}</span>` : ''}`;
}

// Queues -----------------------------------------------------------------------------------
const QUEUE_COLUMNS = [
  { key: 'name', header: 'queue', html: (q) => `<a href="#/queue/${encodeURIComponent(q.name)}">${esc(q.name)}</a>` },
  { key: 'depth', header: 'depth', num: true },
  { key: 'bytes', header: 'bytes', num: true },
  { key: 'enqueueRate', header: 'in/s', num: true },
  { key: 'dequeueRate', header: 'out/s', num: true },
  { key: 'consumers', header: 'consumers', num: true },
  { key: 'flowStopped', header: 'flow', html: (q) => (q.flowStopped ? 'stopped' : '') },
  { key: 'unreplicatedBytes', header: 'unreplicated bytes', num: true },
  { key: 'spark', header: 'depth (2 min)', html: () => '<div class="spark"></div>' },
];
/** Sparklines are drawn for the first rows only: a chart per row of 1,000 would be slow. */
const SPARKLINES_MAX = 50;

function renderQueues() {
  const f = state.filter.toLowerCase();
  const { key, desc } = state.sort;
  const rows = state.queues
    .filter((q) => q.name.toLowerCase().includes(f))
    .sort((a, b) => {
      const x = a[key];
      const y = b[key];
      const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return desc ? -order : order;
    });
  let filter = document.getElementById('queue-filter');
  if (!filter) {
    view.innerHTML = '<h2>Queues</h2><input id="queue-filter" type="search" placeholder="filter by name"><div id="queues-table"></div>';
    filter = document.getElementById('queue-filter');
    filter.value = state.filter;
    filter.addEventListener('input', () => {
      state.filter = filter.value;
      renderQueues();
    });
  }
  const holder = document.getElementById('queues-table');
  holder.innerHTML = table(QUEUE_COLUMNS, rows, { id: 'queues', sortable: true, sort: state.sort, rowAttrs: (q) => `data-queue="${esc(q.name)}"` });
  holder.querySelectorAll('th.sortable').forEach((th) =>
    th.addEventListener('click', () => {
      const k = th.dataset.key;
      state.sort = { key: k, desc: state.sort.key === k ? !state.sort.desc : k !== 'name' };
      renderQueues();
    }),
  );
  holder.querySelectorAll('tbody tr').forEach((tr, i) => {
    if (i < SPARKLINES_MAX) sparkline(tr.querySelector('.spark'), tr.dataset.queue);
  });
}

// A queue's page ---------------------------------------------------------------------------
async function renderQueue(name) {
  let detail;
  try {
    detail = await get(`queues/${encodeURIComponent(name)}`);
  } catch (err) {
    view.innerHTML = `<h2>Queue ${esc(name)}</h2><p>${esc(err.message)}</p>`;
    return;
  }
  if (!document.getElementById('queue-page') || view.dataset.queue !== name) {
    view.dataset.queue = name;
    view.innerHTML = `<h2 id="queue-page">Queue ${esc(name)}</h2><div id="queue-figures"></div><div id="queue-chart"></div>
      <h3>Bindings</h3><div id="queue-bindings"></div><h3>Consumers</h3><div id="queue-consumers"></div>
      <h3>Messages</h3><button id="browse">Browse messages</button> <button id="browse-next" hidden>Next page</button><div id="queue-messages"></div>`;
    state.browse = null;
    document.getElementById('browse').addEventListener('click', () => browse(name, 0));
    document.getElementById('browse-next').addEventListener('click', () => browse(name, state.browse?.next ?? 0));
  }
  document.getElementById('queue-figures').innerHTML = table(
    ['depth', 'bytes', 'acquired', 'consumers', 'enqueueRate', 'dequeueRate', 'unreplicatedMessages', 'unreplicatedBytes', 'replicate'].map((k) => ({ key: k, header: k, num: typeof detail[k] === 'number' })),
    [detail],
    { id: 'queue-summary' },
  );
  depthChart(document.getElementById('queue-chart'), name);
  document.getElementById('queue-bindings').innerHTML = table([{ key: 'exchange', header: 'exchange' }, { key: 'key', header: 'key' }], detail.bindings, { id: 'bindings' });
  document.getElementById('queue-consumers').innerHTML = table([{ key: 'containerId', header: 'container' }, { key: 'address', header: 'client' }, { key: 'link', header: 'link' }, { key: 'browse', header: 'browse' }], detail.consumerLinks, { id: 'consumers' });
}

async function browse(name, after) {
  const page = await get(`queues/${encodeURIComponent(name)}/messages?after=${after}&limit=20`);
  state.browse = page;
  document.getElementById('browse-next').hidden = page.next === null;
  document.getElementById('queue-messages').innerHTML = table(
    [
      { key: 'position', header: 'position', num: true },
      { key: 'state', header: 'state' },
      { key: 'size', header: 'size', num: true },
      { key: 'properties', header: 'properties', html: (m) => esc(JSON.stringify(m.properties)) },
      { key: 'applicationProperties', header: 'application properties', html: (m) => esc(JSON.stringify(m.applicationProperties)) },
      { key: 'body', header: 'body', html: (m) => `<pre class="body">${esc(m.body)}${m.bodyTruncated ? '…' : ''}</pre>` },
    ],
    page.items,
    { id: 'messages' },
  );
}

// Connections ------------------------------------------------------------------------------
async function renderConnections() {
  const [connections, links] = await Promise.all([get('connections?limit=1000'), get('links?limit=1000')]);
  view.innerHTML = `<h2>Connections</h2>${table(
    [
      { key: 'id', header: 'connection' },
      { key: 'address', header: 'client' },
      { key: 'containerId', header: 'container' },
      { key: 'user', header: 'user' },
      { key: 'role', header: 'role' },
      { key: 'producers', header: 'producers', num: true },
      { key: 'consumers', header: 'consumers', num: true },
    ],
    connections.items,
    { id: 'connections' },
  )}<h2>Links</h2>${table(
    [
      { key: 'connection', header: 'connection' },
      { key: 'direction', header: 'direction' },
      { key: 'name', header: 'link' },
      { key: 'node', header: 'queue / exchange' },
      { key: 'browse', header: 'browse' },
    ],
    links.items,
    { id: 'links' },
  )}`;
}

// Routing and the event stream -------------------------------------------------------------
function route() {
  const hash = location.hash || '#/cluster';
  const [, name, arg] = hash.split('/');
  return { name: name || 'cluster', arg: arg ? decodeURIComponent(arg) : null };
}

function show() {
  const { name, arg } = route();
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('current', a.dataset.view === name || (name === 'queue' && a.dataset.view === 'queues'));
  clearInterval(poll);
  poll = null;
  const failed = (err) => banner(err instanceof ApiError && err.status === 401 ? 'sign in: the broker asks for credentials' : err.message);
  if (name === 'queues') {
    view.innerHTML = '';
    renderQueues();
  } else if (name === 'queue') {
    renderQueue(arg).catch(failed);
    poll = setInterval(() => renderQueue(arg).catch(failed), 2000);
  } else if (name === 'connections') {
    renderConnections().catch(failed);
    poll = setInterval(() => renderConnections().catch(failed), 2000);
  } else renderCluster();
}

let events = null;
function connectEvents() {
  events?.close();
  events = openEvents(
    {
      cluster: (d) => {
        state.cluster = d.members;
        if (route().name === 'cluster') renderCluster();
      },
      overview: (d) => {
        state.overview = d;
        document.getElementById('served-by').textContent = `served by ${d.name} (${d.state})`;
      },
      queues: (d) => {
        state.queues = d.items;
        record(d.items, Date.now() / 1000);
        banner(null);
        if (route().name === 'queues') renderQueues();
      },
      problem: (d) => banner(`queues unavailable: ${d.error}`),
    },
    (s) => (document.getElementById('stream-state').textContent = `updates: ${s}`),
  );
}

function showIdentity() {
  const signedIn = token() !== null;
  document.getElementById('identity').textContent = signedIn ? 'signed in (token)' : 'not signed in';
  document.getElementById('token').hidden = signedIn;
  document.getElementById('sign-in').hidden = signedIn;
  document.getElementById('sign-out').hidden = !signedIn;
}

document.getElementById('login').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = document.getElementById('token');
  setToken(input.value.trim() || null);
  input.value = '';
  showIdentity();
  connectEvents();
  show();
});
document.getElementById('sign-out').addEventListener('click', () => {
  setToken(null);
  showIdentity();
  connectEvents();
  show();
});
window.addEventListener('hashchange', show);
showIdentity();
connectEvents();
show();
