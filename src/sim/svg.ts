/**
 * The SVG primitives of the swarm lab's charts (see plot.ts): the palette, XML text escaping,
 * fixed-decimal numbers, axis ticks and their labels, the layout of a chart and its frame (grid,
 * ticks, axis labels, legend). Deterministic: same input, byte-identical text; never `NaN`.
 */
/**
 * The Okabe–Ito colour-blind-safe palette, in the order series are coloured (the low-contrast yellow last).
 * Series beyond its length cycle through it again (dashed, while a legend is shown).
 */
export const PALETTE: readonly string[] = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#D55E00',
  '#CC79A7',
  '#56B4E9',
  '#000000',
  '#F0E442',
];

const DASHES = ['', '6 3', '2 2'];
const DEFAULT_WIDTH = 800;
const DEFAULT_HEIGHT = 480;
/** Values beyond this magnitude are treated as non-finite (keeps all arithmetic finite). */
const MAX_ABS = 1e300;
/** Most series (or groups) with a legend; above it the chart says "N series". */
export const LEGEND_MAX = 12;
/** Polyline vertices across all series of one chart, before downsampling coarsens the pixel columns. */
export const POINT_BUDGET = 160_000;
/** Most bar labels drawn; above it every k-th label is shown. */
export const MAX_BAR_LABELS = 40;
/** Approximate advance of one character at font-size 12 (sans-serif), in pixels. */
export const CHAR_W = 6.6;
/** Most ticks on an axis. */
const MAX_TICKS = 8;

// ---------------------------------------------------------------------------------------------
// Text and numbers

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/**
 * Escapes `text` for XML text or attribute values (`& < > " '`), replacing characters XML 1.0 cannot
 * carry (control characters, lone surrogates, U+FFFE/U+FFFF) with U+FFFD.
 */
export function escapeXml(text: string): string {
  const s = String(text);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s.charAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += ch + s.charAt(i + 1);
        i++;
      } else {
        out += '\uFFFD';
      }
    } else if (
      (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) ||
      (c >= 0xdc00 && c <= 0xdfff) ||
      c === 0xfffe ||
      c === 0xffff
    ) {
      out += '\uFFFD';
    } else {
      out += ENTITIES[ch] ?? ch;
    }
  }
  return out;
}

/** Shortens `text` to at most `max` characters (code points), ending in "…" when cut. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(String(text));
  if (chars.length <= max) return chars.join('');
  return `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

export function charCount(text: string): number {
  return Array.from(String(text)).length;
}

/** A coordinate with at most `decimals` decimals, trailing zeros dropped; never NaN/Infinity. */
export function num(v: number, decimals = 2): string {
  const x = Number.isFinite(v) ? Math.min(1e6, Math.max(-1e6, v)) : 0;
  let s = x.toFixed(decimals);
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

export function usable(v: number): boolean {
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= MAX_ABS;
}

/** `n × 10^e`, computed so that decimal steps stay as exact as doubles allow (3 × 0.1 → 0.3). */
function scaled(n: number, e: number): number {
  return e >= 0 ? n * 10 ** e : n / 10 ** -e;
}

/** The decimal exponent of `v` (> 0): `10^e <= v < 10^(e+1)`, robust to `Math.log10` rounding. */
function exponentOf(v: number): number {
  let e = Math.floor(Math.log10(v));
  if (scaled(1, e + 1) <= v * (1 + 1e-12)) e++;
  else if (scaled(1, e) > v * (1 + 1e-12)) e--;
  return e;
}

export interface Ticks {
  values: number[];
  step: number;
  /** Decimal exponent of `step`. */
  exp: number;
}

/** Widens a degenerate or invalid interval into one ticks can be placed on. */
export function sane(min: number, max: number): [number, number] {
  let lo = min;
  let hi = max;
  if (!usable(lo) || !usable(hi)) return [0, 1];
  if (lo > hi) [lo, hi] = [hi, lo];
  if (hi - lo <= Math.max(Math.abs(lo), Math.abs(hi)) * 1e-9) {
    const c = (lo + hi) / 2;
    const d = Math.abs(c) * 0.1;
    if (!(d > 0) || !Number.isFinite(d)) return c === 0 || !usable(c) ? [0, 1] : [c - 1, c + 1];
    return [c - d, c + d];
  }
  return [lo, hi];
}

export function ticksOf(min: number, max: number): Ticks {
  const [lo, hi] = sane(min, max);
  let e = exponentOf(hi - lo) - 2;
  for (let guard = 0; guard < 40; guard++, e++) {
    for (const m of [1, 2, 5]) {
      const step = scaled(m, e);
      const a = Math.floor(lo / step + 1e-9);
      const b = Math.ceil(hi / step - 1e-9);
      if (b - a + 1 <= MAX_TICKS) {
        const values: number[] = [];
        for (let k = a; k <= b; k++) values.push(scaled(k * m, e) || 0);
        return { values, step, exp: e };
      }
    }
  }
  return { values: [lo, hi], step: hi - lo, exp: exponentOf(hi - lo) };
}

/**
 * "Nice" tick values covering `[min, max]`: a 1-2-5 step (× a power of ten) giving at most 8 ticks,
 * from a multiple of the step at or below `min` to one at or above `max`. For example 0..97 gives
 * 0, 20, 40, 60, 80, 100. A zero or invalid range is widened first.
 */
export function niceTicks(min: number, max: number): number[] {
  return ticksOf(min, max).values;
}

const SUFFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

function tickLabel(v: number, exp: number): string {
  if (v === 0 || !Number.isFinite(v)) return '0';
  const a = Math.abs(v);
  let tier = 0;
  while (tier < SUFFIXES.length - 1 && a >= scaled(1, 3 * (tier + 1))) tier++;
  const decimals = Math.max(0, 3 * tier - exp);
  if (a >= 1e21 || (tier === 0 && decimals > 4) || decimals > 20) {
    const digits = Math.min(20, Math.max(0, exponentOf(a) - exp));
    const [mant = '0', pow = '0'] = v.toExponential(digits).split('e');
    const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
    return `${m}e${pow.replace('+', '')}`;
  }
  let s = (v / scaled(1, 3 * tier)).toFixed(decimals);
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  if (s === '-0' || s === '0') return '0';
  return s + (SUFFIXES[tier] ?? '');
}

/**
 * A compact label for tick `value` on an axis with tick spacing `step`: SI suffixes (1.5k, 2M, 1T),
 * just enough decimals to tell ticks apart (0.25), exponent form for very small or huge values (2e-7).
 */
export function formatTick(value: number, step: number): string {
  const s = Math.abs(step);
  return tickLabel(value, usable(s) && s > 0 ? exponentOf(s) : 0);
}

/** A value for a hover tooltip: up to 6 significant digits. */
export function formatValue(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(6))) : '';
}

// ---------------------------------------------------------------------------------------------
// Layout and frame

export interface LegendItem {
  label: string;
  color: string;
  dash: string;
  kind: 'line' | 'box';
}

export interface Layout {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
  legendWidth: number;
  legendChars: number;
  /** Where the rotated y axis label is centred horizontally. */
  yLabelX: number;
}

function dimension(v: number | undefined, fallback: number, min: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) return fallback;
  return Math.min(20_000, Math.max(min, Math.round(v)));
}

export function layout(
  options: { width?: number; height?: number },
  yTicks: Ticks,
  legend: readonly LegendItem[],
  bottomSpace: number,
  minLeft = 0,
): Layout {
  const width = dimension(options.width, DEFAULT_WIDTH, 240);
  const height = dimension(options.height, DEFAULT_HEIGHT, 180);
  const yChars = Math.max(1, ...yTicks.values.map((v) => tickLabel(v, yTicks.exp).length));
  const left = Math.round(Math.min(width * 0.3, Math.max(minLeft, 34 + yChars * CHAR_W)));
  let legendWidth = 0;
  let legendChars = 0;
  if (legend.length > 0 && legend.length <= LEGEND_MAX) {
    const longest = legend.reduce((m, l) => Math.max(m, charCount(l.label)), 1);
    const room = Math.max(3, Math.floor((Math.max(80, width * 0.3) - 36) / CHAR_W));
    legendChars = Math.min(longest, room);
    legendWidth = Math.ceil(36 + legendChars * CHAR_W);
  }
  const right = width - 20 - legendWidth;
  const top = 44;
  const bottom = Math.max(top + 40, height - Math.round(bottomSpace));
  const yLabelX = Math.round(Math.max(16, left - yChars * CHAR_W - 18));
  return { width, height, left, right, top, bottom, legendWidth, legendChars, yLabelX };
}

interface FrameParts {
  options: { title: string; xLabel: string; yLabel: string };
  box: Layout;
  yTicks: Ticks;
  /** Numeric x axis ticks; bar charts draw their own labels instead. */
  xTicks?: Ticks;
  legend: readonly LegendItem[];
  noun: string;
  body: string[];
  /** Drawn after the body, outside the clip (e.g. bar labels). */
  after?: string[];
  empty: boolean;
}

export function sy(box: Layout, t: Ticks, v: number): number {
  const lo = t.values[0] ?? 0;
  const hi = t.values[t.values.length - 1] ?? 1;
  return box.bottom - ((v - lo) / (hi - lo)) * (box.bottom - box.top);
}

export function sx(box: Layout, t: Ticks, v: number): number {
  const lo = t.values[0] ?? 0;
  const hi = t.values[t.values.length - 1] ?? 1;
  return box.left + ((v - lo) / (hi - lo)) * (box.right - box.left);
}

export function frame(p: FrameParts): string {
  const { box, yTicks, xTicks } = p;
  const { width: w, height: h, left, right, top, bottom } = box;
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8" standalone="no"?>');
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<title>${escapeXml(p.options.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${w}" height="${h}" fill="#ffffff"/>`);
  out.push(
    `<defs><clipPath id="plot-area"><rect x="${num(left)}" y="${num(top)}" width="${num(right - left)}" height="${num(bottom - top)}"/></clipPath></defs>`,
  );

  // Gridlines.
  out.push('<g class="grid" stroke="#e3e3e3" stroke-width="1" shape-rendering="crispEdges">');
  for (const v of yTicks.values) {
    const y = num(sy(box, yTicks, v));
    out.push(`<line x1="${num(left)}" y1="${y}" x2="${num(right)}" y2="${y}"/>`);
  }
  if (xTicks) {
    for (const v of xTicks.values) {
      const x = num(sx(box, xTicks, v));
      out.push(`<line x1="${x}" y1="${num(top)}" x2="${x}" y2="${num(bottom)}"/>`);
    }
  }
  out.push('</g>');

  // Tick labels.
  out.push('<g class="y-ticks" fill="#333333" font-size="11" text-anchor="end">');
  for (const v of yTicks.values) {
    const y = sy(box, yTicks, v);
    out.push(`<text x="${num(left - 6)}" y="${num(y + 4)}">${escapeXml(tickLabel(v, yTicks.exp))}</text>`);
  }
  out.push('</g>');
  if (xTicks) {
    out.push('<g class="x-ticks" fill="#333333" font-size="11" text-anchor="middle">');
    for (const v of xTicks.values) {
      const x = sx(box, xTicks, v);
      out.push(`<text x="${num(x)}" y="${num(bottom + 16)}">${escapeXml(tickLabel(v, xTicks.exp))}</text>`);
    }
    out.push('</g>');
  }

  // Data.
  out.push('<g class="data" clip-path="url(#plot-area)">');
  for (const s of p.body) out.push(s);
  out.push('</g>');
  if (p.after) for (const s of p.after) out.push(s);
  if (p.empty) {
    out.push(
      `<text x="${num((left + right) / 2)}" y="${num((top + bottom) / 2)}" text-anchor="middle" fill="#777777">no data</text>`,
    );
  }
  out.push(
    `<rect x="${num(left)}" y="${num(top)}" width="${num(right - left)}" height="${num(bottom - top)}" fill="none" stroke="#888888" stroke-width="1" shape-rendering="crispEdges"/>`,
  );

  // Title and axis labels.
  out.push(
    `<text class="title" x="${num(w / 2)}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(p.options.title)}</text>`,
  );
  out.push(
    `<text class="x-label" x="${num((left + right) / 2)}" y="${num(h - 12)}" text-anchor="middle">${escapeXml(p.options.xLabel)}</text>`,
  );
  const my = num((top + bottom) / 2);
  out.push(
    `<text class="y-label" x="${box.yLabelX}" y="${my}" text-anchor="middle" transform="rotate(-90 ${box.yLabelX} ${my})">${escapeXml(p.options.yLabel)}</text>`,
  );

  // Legend, or a note when there are too many entries for one.
  if (box.legendWidth > 0) {
    out.push('<g class="legend">');
    p.legend.forEach((item, i) => {
      const x = right + 14;
      const y = top + 10 + i * 18;
      if (item.kind === 'line') {
        const dash = item.dash ? ` stroke-dasharray="${item.dash}"` : '';
        out.push(
          `<line x1="${num(x)}" y1="${num(y)}" x2="${num(x + 22)}" y2="${num(y)}" stroke="${item.color}" stroke-width="2"${dash}/>`,
        );
      } else {
        out.push(`<rect x="${num(x + 5)}" y="${num(y - 6)}" width="12" height="12" fill="${item.color}"/>`);
      }
      out.push(
        `<text class="legend-label" x="${num(x + 28)}" y="${num(y + 4)}">${escapeXml(truncate(item.label, box.legendChars))}</text>`,
      );
    });
    out.push('</g>');
  } else if (p.legend.length > LEGEND_MAX) {
    out.push(
      `<text class="note" x="${num(right)}" y="${num(top - 6)}" text-anchor="end" font-size="11" fill="#555555">${p.legend.length} ${escapeXml(p.noun)}</text>`,
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export function lineStyle(i: number, many: boolean): { color: string; dash: string } {
  const color = PALETTE[i % PALETTE.length] ?? '#000000';
  const dash = many ? '' : (DASHES[Math.floor(i / PALETTE.length) % DASHES.length] ?? '');
  return { color, dash };
}
