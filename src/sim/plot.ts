/**
 * Dependency-free SVG chart writer for simulator output: line charts, empirical CDFs and bar charts,
 * each returned as a complete standalone SVG 1.1 document a browser can open directly.
 *
 * Output is deterministic (same input, byte-identical string): coordinates are written with fixed
 * decimals, nothing depends on time, randomness or the environment. Non-finite inputs are skipped, so
 * the text never contains `NaN` or `Infinity`.
 *
 * This file holds the public chart types and the charts; the SVG primitives (text, numbers,
 * ticks, layout and frame) are in svg.ts.
 */

import {
  CHAR_W,
  charCount,
  escapeXml,
  formatValue,
  frame,
  type Layout,
  LEGEND_MAX,
  type LegendItem,
  layout,
  lineStyle,
  MAX_BAR_LABELS,
  num,
  PALETTE,
  POINT_BUDGET,
  sane,
  sx,
  sy,
  type Ticks,
  ticksOf,
  truncate,
  usable,
} from './svg.js';

export { escapeXml, formatTick, niceTicks, PALETTE } from './svg.js';

/** One named line of `[x, y]` points. Points with a non-finite coordinate are skipped; points are drawn in x order. */
export interface Series {
  /** Shown in the legend and as the line's hover tooltip. */
  name: string;
  /** `[x, y]` pairs, in any order. */
  points: ReadonlyArray<readonly [number, number]>;
}

/** Options shared by every chart. */
export interface ChartOptions {
  /** Drawn above the plot and used as the document's `<title>`. */
  title: string;
  /** Label under the x axis. */
  xLabel: string;
  /** Label beside the y axis. */
  yLabel: string;
  /** Document width in pixels (default 800, at least 240). */
  width?: number;
  /** Document height in pixels (default 480, at least 180). */
  height?: number;
}

/** Options of {@link lineChart}. */
export interface LineChartOptions extends ChartOptions {
  /** One polyline each; more than 12 are drawn thin and translucent, without a legend. */
  series: readonly Series[];
  /** draw as steps (value holds until the next point) */
  step?: boolean;
  /** force y axis to start at 0 (default true) */
  yFromZero?: boolean;
}

/** Options of {@link cdfChart}. */
export interface CdfChartOptions extends Omit<ChartOptions, 'yLabel'> {
  /** One curve each; `values` may hold non-finite entries for peers that never finished. */
  series: ReadonlyArray<{ name: string; values: readonly number[] }>;
  /** default 'fraction of peers' */
  yLabel?: string;
}

/** Options of {@link barChart}. */
export interface BarChartOptions extends ChartOptions {
  /** In drawing order, left to right; a non-finite `value` leaves an empty slot. */
  bars: ReadonlyArray<{ label: string; value: number; group?: string }>;
}

// ---------------------------------------------------------------------------------------------
// Polylines

/**
 * Min/max downsampling: when there are more vertices than pixel columns of width `bucket`, keeps
 * per column the lowest and highest vertex (in their original order), plus the first and last vertex
 * overall, so spikes stay visible. Vertices must be in x order.
 */
function decimate(
  px: number[],
  py: number[],
  origin: number,
  plotWidth: number,
  bucket: number,
): [number[], number[]] {
  const n = px.length;
  if (n <= Math.max(2, plotWidth / bucket)) return [px, py];
  const keep: number[] = [0];
  let i = 0;
  while (i < n) {
    const col = Math.floor(((px[i] ?? 0) - origin) / bucket);
    let lo = i;
    let hi = i;
    let j = i + 1;
    while (j < n && Math.floor(((px[j] ?? 0) - origin) / bucket) === col) {
      if ((py[j] ?? 0) < (py[lo] ?? 0)) lo = j;
      if ((py[j] ?? 0) > (py[hi] ?? 0)) hi = j;
      j++;
    }
    for (const k of lo < hi ? [lo, hi] : [hi, lo]) {
      if (k !== keep[keep.length - 1]) keep.push(k);
    }
    i = j;
  }
  if (keep[keep.length - 1] !== n - 1) keep.push(n - 1);
  return [keep.map((k) => px[k] ?? 0), keep.map((k) => py[k] ?? 0)];
}

/** A polyline (or a dot for a single distinct vertex) with consecutive duplicate vertices dropped. */
function polyline(
  px: number[],
  py: number[],
  color: string,
  dash: string,
  name: string,
  decimals: number,
): string {
  const pts: string[] = [];
  let last = '';
  for (let i = 0; i < px.length; i++) {
    const p = `${num(px[i] ?? 0, decimals)},${num(py[i] ?? 0, decimals)}`;
    if (p !== last) pts.push(p);
    last = p;
  }
  const title = `<title>${escapeXml(name)}</title>`;
  if (pts.length === 0) return '';
  if (pts.length === 1) {
    const [x = '0', y = '0'] = (pts[0] ?? '0,0').split(',');
    return `<circle cx="${x}" cy="${y}" r="3" fill="${color}" stroke="none">${title}</circle>`;
  }
  const d = dash ? ` stroke-dasharray="${dash}"` : '';
  return `<polyline stroke="${color}"${d} points="${pts.join(' ')}">${title}</polyline>`;
}

interface Line {
  name: string;
  xs: number[];
  ys: number[];
}

/** Pixel-column width for downsampling, so that all lines together stay within {@link POINT_BUDGET}. */
function bucketWidth(box: Layout, lines: readonly Line[]): number {
  const drawn = lines.filter((l) => l.xs.length > 0).length;
  if (drawn === 0) return 1;
  const columns = Math.max(16, Math.floor(POINT_BUDGET / drawn / 2) - 2);
  return Math.max(1, (box.right - box.left) / columns);
}

function drawLines(box: Layout, xT: Ticks, yT: Ticks, lines: readonly Line[]): string[] {
  const many = lines.length > LEGEND_MAX;
  const bucket = bucketWidth(box, lines);
  const decimals = many ? 1 : 2;
  const opacity = many ? Math.max(0.1, Math.min(0.5, 20 / lines.length)) : 1;
  const body: string[] = [
    many
      ? `<g fill="none" stroke-width="0.75" stroke-opacity="${num(opacity)}" stroke-linejoin="round">`
      : '<g fill="none" stroke-width="1.5" stroke-linejoin="round">',
  ];
  lines.forEach((line, i) => {
    if (line.xs.length === 0) return;
    const { color, dash } = lineStyle(i, many);
    const px = line.xs.map((x) => sx(box, xT, x));
    const py = line.ys.map((y) => sy(box, yT, y));
    const [dx, dy] = decimate(px, py, box.left, box.right - box.left, bucket);
    const s = polyline(dx, dy, color, dash, line.name, decimals);
    if (s) body.push(s);
  });
  body.push('</g>');
  return body;
}

function extent(values: Iterable<number>): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** The data range to put ticks on: `[0, 1]` for no data, 0 included when `fromZero`. */
function domain(lo: number, hi: number, fromZero: boolean): [number, number] {
  if (!(lo <= hi)) return [0, 1];
  let a = lo;
  let b = hi;
  if (fromZero) {
    a = Math.min(a, 0);
    b = Math.max(b, 0);
    if (a === 0 && b === 0) return [0, 1];
  }
  return sane(a, b);
}

// ---------------------------------------------------------------------------------------------
// Charts

/** Legend, layout and frame of a chart made of polylines (line charts and CDFs). */
function linesFrame(options: ChartOptions, lines: Line[], xT: Ticks, yT: Ticks): string {
  const many = lines.length > LEGEND_MAX;
  const legend: LegendItem[] = lines.map((l, i) => ({ label: l.name, ...lineStyle(i, many), kind: 'line' }));
  const box = layout(options, yT, legend, 50);
  return frame({
    options,
    box,
    yTicks: yT,
    xTicks: xT,
    legend,
    noun: 'series',
    body: drawLines(box, xT, yT, lines),
    empty: lines.every((l) => l.xs.length === 0),
  });
}

/** A line chart (one polyline per series) as a complete standalone SVG document string. */
export function lineChart(options: LineChartOptions): string {
  const series = options.series ?? [];
  const lines: Line[] = series.map((s) => {
    const pts: Array<readonly [number, number]> = [];
    for (const p of s.points ?? []) {
      if (p && usable(p[0]) && usable(p[1])) pts.push(p);
    }
    pts.sort((a, b) => a[0] - b[0]);
    const xs: number[] = [];
    const ys: number[] = [];
    pts.forEach(([x, y], i) => {
      const next = pts[i + 1];
      xs.push(x);
      ys.push(y);
      if (options.step && next && next[0] !== x) {
        xs.push(next[0]);
        ys.push(y);
      }
    });
    return { name: String(s.name), xs, ys };
  });
  const xT = ticksOf(...domain(...extent(lines.flatMap((l) => l.xs)), false));
  const yT = ticksOf(...domain(...extent(lines.flatMap((l) => l.ys)), options.yFromZero ?? true));
  return linesFrame(options, lines, xT, yT);
}

/**
 * Empirical CDF (step from 0 to 1) of each series' values. Non-finite values (peers that never finished) are
 * left out of the curve but still count in the denominator, so the curve tops out below 1 — say so in the legend
 * as "name (k of n)".
 */
export function cdfChart(options: CdfChartOptions): string {
  const series = options.series ?? [];
  const sorted = series.map((s) => {
    const all = s.values ?? [];
    const finite = all.filter(usable).sort((a, b) => a - b);
    return { name: String(s.name), finite, n: all.length };
  });
  const xT = ticksOf(...domain(...extent(sorted.flatMap((s) => s.finite)), false));
  const yT = ticksOf(0, 1);
  const x0 = xT.values[0] ?? 0;
  const x1 = xT.values[xT.values.length - 1] ?? 1;
  const lines: Line[] = sorted.map(({ name, finite, n }) => {
    const label = `${name} (${finite.length} of ${n})`;
    if (n === 0) return { name: label, xs: [], ys: [] };
    const xs = [x0];
    const ys = [0];
    let i = 0;
    while (i < finite.length) {
      const v = finite[i] ?? 0;
      let j = i + 1;
      while (j < finite.length && finite[j] === v) j++;
      xs.push(v, v);
      ys.push(i / n, j / n);
      i = j;
    }
    xs.push(x1);
    ys.push(finite.length / n);
    return { name: label, xs, ys };
  });
  return linesFrame({ ...options, yLabel: options.yLabel ?? 'fraction of peers' }, lines, xT, yT);
}

/**
 * Vertical bars, one per entry, coloured by group (legend per group); labels under bars are thinned when there are
 * too many to read (e.g. > 40: show every k-th). Negative values go below a zero line.
 */
export function barChart(options: BarChartOptions): string {
  const bars = options.bars ?? [];
  const groups: string[] = [];
  const groupIndex = new Map<string, number>();
  for (const b of bars) {
    const g = b.group === undefined ? '' : String(b.group);
    if (!groupIndex.has(g)) {
      groupIndex.set(g, groups.length);
      groups.push(g);
    }
  }
  const named = groups.some((g) => g !== '');
  const colorOf = (g: number): string => PALETTE[g % PALETTE.length] ?? '#000000';
  const legend: LegendItem[] = named
    ? groups.map((g, i) => ({ label: g === '' ? '(no group)' : g, color: colorOf(i), dash: '', kind: 'box' }))
    : [];

  const yT = ticksOf(...domain(...extent(bars.map((b) => b.value).filter(usable)), true));
  const count = bars.length;
  const every = count > MAX_BAR_LABELS ? Math.ceil(count / MAX_BAR_LABELS) : 1;
  const labels = bars.map((b) => truncate(String(b.label), 24));
  const longest = labels.reduce((m, l) => Math.max(m, charCount(l)), 0) * CHAR_W * (11 / 12);

  // Rotate labels when they do not fit side by side; estimate the plot width first.
  const probe = layout(options, yT, legend, 50);
  const slotGuess = count > 0 ? (probe.right - probe.left) / count : 0;
  const rotate = count > 0 && longest > slotGuess * every - 4;
  const box = rotate ? layout(options, yT, legend, 34 + longest * 0.72 + 8, longest * 0.72 + 4) : probe;

  const slot = count > 0 ? (box.right - box.left) / count : 0;
  const gap = slot >= 3 ? slot * 0.1 : 0;
  const zero = sy(box, yT, 0);
  const body: string[] = [];
  bars.forEach((b, i) => {
    if (!usable(b.value)) return;
    const y = sy(box, yT, b.value);
    const g = groupIndex.get(b.group === undefined ? '' : String(b.group)) ?? 0;
    body.push(
      `<rect x="${num(box.left + i * slot + gap)}" y="${num(Math.min(y, zero))}" width="${num(slot - 2 * gap)}" height="${num(Math.abs(zero - y))}" fill="${colorOf(g)}"><title>${escapeXml(`${b.label}: ${formatValue(b.value)}`)}</title></rect>`,
    );
  });
  body.push(
    `<line class="zero" x1="${num(box.left)}" y1="${num(zero)}" x2="${num(box.right)}" y2="${num(zero)}" stroke="#333333" stroke-width="1"/>`,
  );

  const after: string[] = [
    `<g class="bar-labels" fill="#333333" font-size="11" text-anchor="${rotate ? 'end' : 'middle'}">`,
  ];
  for (let i = 0; i < count; i += every) {
    const x = num(box.left + (i + 0.5) * slot);
    const y = num(box.bottom + (rotate ? 10 : 16));
    const t = rotate ? ` transform="rotate(-45 ${x} ${y})"` : '';
    after.push(`<text class="bar-label" x="${x}" y="${y}"${t}>${escapeXml(labels[i] ?? '')}</text>`);
  }
  after.push('</g>');

  return frame({
    options,
    box,
    yTicks: yT,
    legend,
    noun: 'groups',
    body,
    after,
    empty: !bars.some((b) => usable(b.value)),
  });
}
