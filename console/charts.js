// Depth history and the uPlot charts drawn from it: a sparkline per queue row and a larger
// chart on a queue's page. Charts are kept per queue and moved into the re-rendered rows, so
// a table redraw every second does not rebuild them.
import uPlot from '/console/vendor/uPlot.esm.js';

/** Samples kept per queue (one per queues event: about two minutes). */
const HISTORY_MAX = 120;
const history = new Map();
const sparklines = new Map();

export function record(queues, atS) {
  for (const q of queues) {
    let h = history.get(q.name);
    if (!h) history.set(q.name, (h = { t: [], depth: [] }));
    h.t.push(atS);
    h.depth.push(q.depth);
    if (h.t.length > HISTORY_MAX) {
      h.t.shift();
      h.depth.shift();
    }
  }
}

function data(name) {
  const h = history.get(name) ?? { t: [], depth: [] };
  return [h.t, h.depth];
}

/** Puts the queue's sparkline into `cell`. */
export function sparkline(cell, name) {
  let plot = sparklines.get(name);
  if (!plot) {
    plot = new uPlot(
      {
        width: 120,
        height: 30,
        cursor: { show: false },
        legend: { show: false },
        axes: [{ show: false }, { show: false }],
        scales: { x: { time: false } },
        series: [{}, { stroke: '#2a6f97', fill: 'rgba(42,111,151,0.15)', width: 1 }],
      },
      data(name),
      cell,
    );
    sparklines.set(name, plot);
  } else {
    cell.appendChild(plot.root);
    plot.setData(data(name));
  }
}

let big = null;
/** The queue page's depth chart. */
export function depthChart(container, name) {
  if (big && big.name === name && container.contains(big.plot.root)) {
    big.plot.setData(data(name));
    return;
  }
  big?.plot.destroy();
  const plot = new uPlot(
    { width: 600, height: 200, title: `depth of ${name}`, series: [{}, { label: 'depth', stroke: '#2a6f97', width: 2 }] },
    data(name),
    container,
  );
  big = { name, plot };
}
