// Hand-written SVG charts, no dependency: a grouped bar chart (one group per configuration, one bar
// per series, e.g. relay / transient / durable) and a line chart (a value over time or over load,
// for the soak and catch-up scenarios to come). Pure functions from a spec to an SVG string.

export interface BarSeries {
  readonly name: string;
  /** One value per category; null leaves a gap (a row that was skipped). */
  readonly values: readonly (number | null)[];
}

export interface LineSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export type ChartSpec =
  | {
      readonly kind: 'bar';
      readonly title: string;
      readonly yLabel: string;
      readonly categories: readonly string[];
      readonly series: readonly BarSeries[];
    }
  | {
      readonly kind: 'line';
      readonly title: string;
      readonly xLabel: string;
      readonly yLabel: string;
      readonly series: readonly LineSeries[];
    };

const WIDTH = 900;
const HEIGHT = 480;
const MARGIN = { top: 48, right: 24, bottom: 92, left: 84 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
const COLOURS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#9c755f'];
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** Round tick values covering [0, max]: steps of 1, 2 or 5 times a power of ten, about five ticks. */
export function niceTicks(max: number, target = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const rough = max / target;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) as number;
  const ticks: number[] = [];
  for (let v = 0; v < max + step - 1e-9 * step; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

export function formatTick(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${Number((value / 1e6).toPrecision(3))}M`;
  if (abs >= 1e4) return `${Number((value / 1e3).toPrecision(3))}k`;
  return String(Number(value.toPrecision(4)));
}

function frame(title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="28" text-anchor="middle" font-size="18" ${FONT}>${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function yAxis(ticks: readonly number[], yLabel: string): string[] {
  const top = ticks[ticks.length - 1] as number;
  const out: string[] = [];
  for (const tick of ticks) {
    const y = MARGIN.top + PLOT_H - (tick / top) * PLOT_H;
    out.push(`<line x1="${MARGIN.left}" y1="${y.toFixed(1)}" x2="${MARGIN.left + PLOT_W}" y2="${y.toFixed(1)}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${MARGIN.left - 8}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="12" ${FONT}>${formatTick(tick)}</text>`);
  }
  const midY = MARGIN.top + PLOT_H / 2;
  out.push(`<text x="20" y="${midY}" text-anchor="middle" font-size="13" ${FONT} transform="rotate(-90 20 ${midY})">${escapeXml(yLabel)}</text>`);
  out.push(`<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + PLOT_H}" stroke="#333"/>`);
  out.push(`<line x1="${MARGIN.left}" y1="${MARGIN.top + PLOT_H}" x2="${MARGIN.left + PLOT_W}" y2="${MARGIN.top + PLOT_H}" stroke="#333"/>`);
  return out;
}

function legend(names: readonly string[]): string[] {
  const out: string[] = [];
  let x = MARGIN.left;
  const y = HEIGHT - 18;
  names.forEach((name, i) => {
    out.push(`<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/>`);
    out.push(`<text x="${x + 16}" y="${y}" font-size="12" ${FONT}>${escapeXml(name)}</text>`);
    x += 28 + name.length * 7;
  });
  return out;
}

function barChart(spec: Extract<ChartSpec, { kind: 'bar' }>): string {
  const values = spec.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const ticks = niceTicks(Math.max(0, ...values));
  const top = ticks[ticks.length - 1] as number;
  const body = yAxis(ticks, spec.yLabel);
  const groupW = PLOT_W / Math.max(1, spec.categories.length);
  const barW = (groupW * 0.8) / Math.max(1, spec.series.length);
  spec.categories.forEach((category, c) => {
    const groupX = MARGIN.left + c * groupW + groupW * 0.1;
    spec.series.forEach((series, s) => {
      const value = series.values[c];
      if (value === null || value === undefined || !Number.isFinite(value)) return;
      const h = (Math.max(0, value) / top) * PLOT_H;
      const x = groupX + s * barW;
      const y = MARGIN.top + PLOT_H - h;
      body.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW * 0.92).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLOURS[s % COLOURS.length]}"><title>${escapeXml(`${series.name}, ${category}: ${value}`)}</title></rect>`,
      );
    });
    const labelX = MARGIN.left + c * groupW + groupW / 2;
    body.push(`<text x="${labelX.toFixed(1)}" y="${MARGIN.top + PLOT_H + 18}" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(category)}</text>`);
  });
  body.push(...legend(spec.series.map((s) => s.name)));
  return frame(spec.title, body);
}

function lineChart(spec: Extract<ChartSpec, { kind: 'line' }>): string {
  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = spec.series.flatMap((s) => s.points.map((p) => p[1]));
  const yTicks = niceTicks(Math.max(0, ...ys.filter(Number.isFinite)));
  const xTicks = niceTicks(Math.max(0, ...xs.filter(Number.isFinite)));
  const yTop = yTicks[yTicks.length - 1] as number;
  const xTop = xTicks[xTicks.length - 1] as number;
  const body = yAxis(yTicks, spec.yLabel);
  for (const tick of xTicks) {
    const x = MARGIN.left + (tick / xTop) * PLOT_W;
    body.push(`<text x="${x.toFixed(1)}" y="${MARGIN.top + PLOT_H + 18}" text-anchor="middle" font-size="12" ${FONT}>${formatTick(tick)}</text>`);
  }
  body.push(`<text x="${MARGIN.left + PLOT_W / 2}" y="${MARGIN.top + PLOT_H + 40}" text-anchor="middle" font-size="13" ${FONT}>${escapeXml(spec.xLabel)}</text>`);
  spec.series.forEach((series, s) => {
    const points = series.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
      .map(([x, y]) => `${(MARGIN.left + (x / xTop) * PLOT_W).toFixed(1)},${(MARGIN.top + PLOT_H - (y / yTop) * PLOT_H).toFixed(1)}`);
    if (points.length > 0) {
      body.push(`<polyline fill="none" stroke="${COLOURS[s % COLOURS.length]}" stroke-width="2" points="${points.join(' ')}"><title>${escapeXml(series.name)}</title></polyline>`);
    }
  });
  body.push(...legend(spec.series.map((s) => s.name)));
  return frame(spec.title, body);
}

export function renderChart(spec: ChartSpec): string {
  return spec.kind === 'bar' ? barChart(spec) : lineChart(spec);
}
