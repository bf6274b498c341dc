import { describe, expect, it } from 'vitest';
import {
  barChart,
  cdfChart,
  escapeXml,
  formatTick,
  lineChart,
  niceTicks,
  PALETTE,
  type Series,
} from '../../src/sim/plot.js';

// ---------------------------------------------------------------------------------------------
// A small XML well-formedness checker: declaration, one root, matching tag stack, double-quoted
// attributes without raw `<`, `>` or stray `&`, unique attribute names, escaped text.

const ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
const NAME = '[A-Za-z_][\\w.:-]*';
const OPEN_TAG = new RegExp(`^(${NAME})((?:\\s+${NAME}="[^"<>]*")*)\\s*(/?)$`);
const ATTR = new RegExp(`(${NAME})="([^"<>]*)"`, 'g');

function wellFormed(xml: string): void {
  const decl = /^<\?xml version="1\.0" encoding="UTF-8"(?: standalone="no")?\?>\n/.exec(xml);
  if (!decl) throw new Error('missing XML declaration');
  let i = decl[0].length;
  const stack: string[] = [];
  let roots = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = lt < 0 ? xml.slice(i) : xml.slice(i, lt);
    if (stack.length === 0 && text.trim() !== '') throw new Error(`text outside the root: ${text}`);
    if (ENTITY.test(text) || text.includes('>')) throw new Error(`unescaped text: ${text}`);
    if (lt < 0) break;
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 3;
      continue;
    }
    const gt = xml.indexOf('>', lt);
    if (gt < 0) throw new Error('unterminated tag');
    const tag = xml.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith('/')) {
      const open = stack.pop();
      if (open !== tag.slice(1)) throw new Error(`</${tag.slice(1)}> closes <${open}>`);
      continue;
    }
    const m = OPEN_TAG.exec(tag);
    if (!m) throw new Error(`malformed tag: <${tag}>`);
    const names = new Set<string>();
    for (const a of (m[2] ?? '').matchAll(ATTR)) {
      const [, name = '', value = ''] = a;
      if (names.has(name)) throw new Error(`duplicate attribute ${name} in <${tag}>`);
      if (ENTITY.test(value)) throw new Error(`unescaped & in ${name}="${value}"`);
      names.add(name);
    }
    if (stack.length === 0) {
      roots++;
      if (roots > 1) throw new Error('more than one root element');
    }
    if (m[3] !== '/') stack.push(m[1] ?? '');
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('> <')}>`);
  if (roots !== 1) throw new Error('no root element');
}

/** The well-formedness checks every chart must pass, plus the standalone-SVG header. */
function expectValidSvg(svg: string, width = 800, height = 480): void {
  expect(() => wellFormed(svg)).not.toThrow();
  expect(svg).toContain(
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"`,
  );
  expect(svg).toContain(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  expect(svg).not.toMatch(/NaN|Infinity|undefined|null/);
}

// ---------------------------------------------------------------------------------------------
// Reading charts back

function polylines(svg: string): Array<Array<[number, number]>> {
  return [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) =>
    (m[1] ?? '').split(' ').map((p) => {
      const [x = '', y = ''] = p.split(',');
      return [Number(x), Number(y)];
    }),
  );
}

function texts(svg: string, cls: string): string[] {
  return [...svg.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, 'g'))].map(
    (m) => m[1] ?? '',
  );
}

/** Tick label → its gridline's pixel coordinate (labels are drawn 4 px below the y gridline). */
function yTicks(svg: string): Map<string, number> {
  const group = /<g class="y-ticks"[^>]*>([\s\S]*?)<\/g>/.exec(svg)?.[1] ?? '';
  return new Map(
    [...group.matchAll(/<text x="[^"]*" y="([^"]*)">([^<]*)<\/text>/g)].map((m) => [
      m[2] ?? '',
      Number(m[1]) - 4,
    ]),
  );
}

function xTickLabels(svg: string): string[] {
  const group = /<g class="x-ticks"[^>]*>([\s\S]*?)<\/g>/.exec(svg)?.[1] ?? '';
  return [...group.matchAll(/>([^<]*)<\/text>/g)].map((m) => m[1] ?? '');
}

function plotArea(svg: string): { x: number; y: number; width: number; height: number } {
  const m = /<clipPath id="plot-area"><rect x="([^"]*)" y="([^"]*)" width="([^"]*)" height="([^"]*)"\/>/.exec(
    svg,
  );
  if (!m) throw new Error('no plot area');
  return { x: Number(m[1]), y: Number(m[2]), width: Number(m[3]), height: Number(m[4]) };
}

const base = { title: 'chart', xLabel: 'x', yLabel: 'y' };

/** Deterministic pseudo-random numbers in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

// ---------------------------------------------------------------------------------------------

describe('the well-formedness checker', () => {
  it('rejects broken documents', () => {
    const head = '<?xml version="1.0" encoding="UTF-8"?>\n';
    expect(() => wellFormed(`${head}<svg><g></svg>`)).toThrow(/closes/);
    expect(() => wellFormed(`${head}<svg a=1/>`)).toThrow(/malformed/);
    expect(() => wellFormed(`${head}<svg a="1" a="2"/>`)).toThrow(/duplicate/);
    expect(() => wellFormed(`${head}<svg>a & b</svg>`)).toThrow(/unescaped/);
    expect(() => wellFormed(`${head}<svg><text>a < b</text></svg>`)).toThrow();
    expect(() => wellFormed(`${head}<svg/><svg/>`)).toThrow(/root/);
    expect(() => wellFormed('<svg/>')).toThrow(/declaration/);
    expect(() => wellFormed(`${head}<svg><g/></svg>`)).not.toThrow();
  });
});

describe('lineChart', () => {
  const series: Series[] = [
    { name: 'a', points: Array.from({ length: 50 }, (_, i) => [i, (i * 7) % 13] as const) },
    {
      name: 'b',
      points: [
        [0, 1],
        [10, 4],
        [20, 2],
      ],
    },
  ];

  it('is a well-formed standalone SVG with title, axis labels, legend and gridlines', () => {
    const svg = lineChart({ ...base, title: 'Rates', xLabel: 'time (s)', yLabel: 'rate (B/s)', series });
    expectValidSvg(svg);
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<svg ')).toBe(true);
    expect(svg).toContain('<title>Rates</title>');
    expect(texts(svg, 'title')).toEqual(['Rates']);
    expect(texts(svg, 'x-label')).toEqual(['time (s)']);
    expect(texts(svg, 'y-label')).toEqual(['rate (B/s)']);
    expect(texts(svg, 'legend-label')).toEqual(['a', 'b']);
    expect(polylines(svg).map((p) => p.length)).toEqual([50, 3]);
    // y from zero (default): 0..12 → 0, 2, ..., 12; x 0..49 → 0, 10, ..., 50.
    expect([...yTicks(svg).keys()]).toEqual(['0', '2', '4', '6', '8', '10', '12']);
    expect(xTickLabels(svg)).toEqual(['0', '10', '20', '30', '40', '50']);
    const gridlines = /<g class="grid"[^>]*>([\s\S]*?)<\/g>/.exec(svg)?.[1]?.match(/<line /g) ?? [];
    expect(gridlines).toHaveLength(7 + 6);
  });

  it('honours width and height', () => {
    expectValidSvg(lineChart({ ...base, series, width: 1200, height: 300 }), 1200, 300);
    expectValidSvg(lineChart({ ...base, series, width: Number.NaN, height: 10 }), 800, 180);
  });

  it('escapes every piece of text', () => {
    const name = '<a & "b">';
    const svg = lineChart({
      title: "it's <x>",
      xLabel: 'a&b',
      yLabel: '"y"',
      series: [
        {
          name,
          points: [
            [0, 1],
            [1, 2],
          ],
        },
      ],
    });
    expectValidSvg(svg);
    expect(svg).not.toContain(name);
    expect(texts(svg, 'legend-label')).toEqual(['&lt;a &amp; &quot;b&quot;&gt;']);
    expect(svg).toContain('<title>&lt;a &amp; &quot;b&quot;&gt;</title>');
    expect(texts(svg, 'title')).toEqual(['it&apos;s &lt;x&gt;']);
    expect(texts(svg, 'x-label')).toEqual(['a&amp;b']);
    expect(texts(svg, 'y-label')).toEqual(['&quot;y&quot;']);
  });

  it('is deterministic', () => {
    const make = () =>
      lineChart({
        ...base,
        step: true,
        series: [0, 1, 2].map((k) => {
          const rnd = lcg(k + 1);
          return {
            name: `s${k}`,
            points: Array.from({ length: 3000 }, (_, i) => [i / 3, rnd() * 1e6] as const),
          };
        }),
      });
    const a = make();
    const b = make();
    expect(a).toBe(b);
    expect(a.length).toBeGreaterThan(1000);
    // Coordinates carry at most two decimals.
    for (const line of polylines(a)) {
      for (const [x, y] of line) {
        expect(Math.round(x * 100) / 100).toBe(x);
        expect(Math.round(y * 100) / 100).toBe(y);
      }
    }
  });

  it('survives degenerate input without NaN or Infinity in the output', () => {
    const cases: Series[][] = [
      [],
      [{ name: 'empty', points: [] }],
      [{ name: 'one', points: [[3, 4]] }],
      [{ name: 'origin', points: [[0, 0]] }],
      [
        {
          name: 'flat',
          points: [
            [0, 5],
            [1, 5],
            [2, 5],
          ],
        },
      ],
      [
        {
          name: 'vertical',
          points: [
            [7, 1],
            [7, 2],
          ],
        },
      ],
      [
        {
          name: 'huge',
          points: [
            [0, 1e12],
            [1e12, 3e12],
          ],
        },
      ],
      [
        {
          name: 'negative',
          points: [
            [-5, -1e9],
            [5, -2e9],
          ],
        },
      ],
      [
        {
          name: 'bad',
          points: [
            [Number.NaN, 1],
            [1, Number.POSITIVE_INFINITY],
            [Number.NEGATIVE_INFINITY, 2],
            [2, Number.NaN],
          ],
        },
      ],
      [
        {
          name: 'mixed',
          points: [
            [0, 1],
            [Number.NaN, 5],
            [2, 3],
            [3, Number.POSITIVE_INFINITY],
          ],
        },
      ],
      [
        {
          name: 'beyond 1e300',
          points: [
            [0, 1e308],
            [1, 2],
          ],
        },
      ],
      [
        {
          name: 'tiny',
          points: [
            [0, 1e-300],
            [1, 2e-300],
          ],
        },
      ],
    ];
    for (const series of cases) {
      for (const step of [false, true]) {
        for (const yFromZero of [false, true]) {
          const svg = lineChart({ ...base, series, step, yFromZero });
          expectValidSvg(svg);
        }
      }
    }
    const nothing = lineChart({ ...base, series: [] });
    expect(nothing).toContain('>no data</text>');
    expect(polylines(nothing)).toEqual([]);

    const one = lineChart({ ...base, series: [{ name: 'one', points: [[3, 4]] }] });
    expect(one).toMatch(/<circle [^>]*fill="#0072B2"/);

    const mixed = lineChart({ ...base, series: cases[9] ?? [] });
    expect(polylines(mixed)[0]).toHaveLength(2);

    const huge = lineChart({ ...base, series: cases[6] ?? [] });
    expect([...yTicks(huge).keys()]).toEqual(['0', '500G', '1T', '1.5T', '2T', '2.5T', '3T']);
    expect(xTickLabels(huge)).toEqual(['0', '200G', '400G', '600G', '800G', '1T']);

    const flat = lineChart({ ...base, yFromZero: false, series: cases[4] ?? [] });
    expect([...yTicks(flat).keys()]).toEqual(['4.4', '4.6', '4.8', '5', '5.2', '5.4', '5.6']);
  });

  it('sorts points by x and draws steps that hold each value until the next point', () => {
    const svg = lineChart({
      ...base,
      step: true,
      series: [
        {
          name: 's',
          points: [
            [2, 2],
            [0, 1],
            [1, 3],
          ],
        },
      ],
    });
    const [line = []] = polylines(svg);
    expect(line).toHaveLength(5);
    const ys = line.map(([, y]) => y);
    const xs = line.map(([x]) => x);
    // (0,1) (1,1) (1,3) (2,3) (2,2)
    expect(ys[0]).toBe(ys[1]);
    expect(ys[2]).toBe(ys[3]);
    expect(xs[1]).toBe(xs[2]);
    expect(xs[3]).toBe(xs[4]);
    const ticks = yTicks(svg);
    expect(ys[4]).toBe(ticks.get('2'));
    expect(ys[2]).toBe(ticks.get('3'));
  });

  it('downsamples long series to about two points per pixel column, keeping spikes', () => {
    const rnd = lcg(7);
    const points = Array.from({ length: 100_000 }, (_, i) => [i, rnd() * 10] as [number, number]);
    points[54_321] = [54_321, 1000];
    points[77_777] = [77_777, -500];
    const svg = lineChart({ ...base, yFromZero: false, series: [{ name: 'long', points }] });
    expectValidSvg(svg);
    const area = plotArea(svg);
    const [line = []] = polylines(svg);
    expect(line.length).toBeGreaterThan(area.width);
    expect(line.length).toBeLessThanOrEqual(2 * (area.width + 1) + 2);
    const ys = line.map(([, y]) => y);
    const ticks = yTicks(svg);
    expect(Math.min(...ys)).toBe(ticks.get('1k'));
    expect(Math.max(...ys)).toBe(ticks.get('-500'));
    expect(svg.length).toBeLessThan(40_000);
    // First and last points survive.
    expect(line[0]?.[0]).toBe(area.x);
    expect(line[line.length - 1]?.[0]).toBeCloseTo(area.x + (99_999 / 100_000) * area.width, 1);
  });

  it('draws 1,000 series as thin translucent lines, with a note instead of a legend, in a few MB', () => {
    const series: Series[] = Array.from({ length: 1000 }, (_, k) => {
      const rnd = lcg(k);
      return { name: `peer ${k}`, points: Array.from({ length: 1000 }, (_, i) => [i, rnd() * 5e6] as const) };
    });
    const svg = lineChart({ ...base, step: true, series });
    expectValidSvg(svg);
    expect(svg.length).toBeLessThan(3_000_000);
    expect(polylines(svg)).toHaveLength(1000);
    expect(svg).not.toContain('class="legend"');
    expect(texts(svg, 'note')).toEqual(['1000 series']);
    expect(svg).toMatch(/<g fill="none" stroke-width="0\.75" stroke-opacity="0\.1"/);
  });

  it('shows a legend up to 12 series and cycles the palette with dashes', () => {
    const make = (n: number) =>
      lineChart({
        ...base,
        series: Array.from({ length: n }, (_, k) => ({
          name: `s${k}`,
          points: [
            [0, k],
            [1, k + 1],
          ] as const,
        })),
      });
    const twelve = make(12);
    expect(texts(twelve, 'legend-label')).toHaveLength(12);
    expect(texts(twelve, 'note')).toEqual([]);
    const strokes = [...twelve.matchAll(/<polyline stroke="([^"]*)"( stroke-dasharray="[^"]*")?/g)];
    expect(strokes.map((m) => m[1])).toEqual([...PALETTE, ...PALETTE.slice(0, 4)]);
    expect(strokes[0]?.[2]).toBeUndefined();
    expect(strokes[8]?.[2]).toBe(' stroke-dasharray="6 3"');
    expect(new Set(PALETTE).size).toBe(8);

    const thirteen = make(13);
    expect(texts(thirteen, 'legend-label')).toEqual([]);
    expect(texts(thirteen, 'note')).toEqual(['13 series']);
  });
});

describe('cdfChart', () => {
  it('counts non-finite values in the denominator and says "(k of n)"', () => {
    const svg = cdfChart({
      title: 'finish times',
      xLabel: 'seconds',
      series: [
        { name: 'partial', values: [3, 1, 2, Number.NaN, Number.POSITIVE_INFINITY] },
        { name: 'all', values: [1, 2, 2, 4] },
      ],
    });
    expectValidSvg(svg);
    expect(texts(svg, 'legend-label')).toEqual(['partial (3 of 5)', 'all (4 of 4)']);
    expect(texts(svg, 'y-label')).toEqual(['fraction of peers']);
    const ticks = yTicks(svg);
    expect([...ticks.keys()]).toEqual(['0', '0.2', '0.4', '0.6', '0.8', '1']);
    const y0 = ticks.get('0') ?? 0;
    const y1 = ticks.get('1') ?? 0;
    const frac = (py: number) => (y0 - py) / (y0 - y1);
    const [partial = [], all = []] = polylines(svg);
    expect(frac(partial[0]?.[1] ?? -1)).toBe(0);
    expect(frac(partial[partial.length - 1]?.[1] ?? -1)).toBeCloseTo(3 / 5, 2);
    expect(frac(all[all.length - 1]?.[1] ?? -1)).toBeCloseTo(1, 5);
    // The partial curve rises 1/5 at each of 1, 2, 3: 0 → 0.2 → 0.4 → 0.6.
    const levels = [...new Set(partial.map(([, y]) => Math.round(frac(y) * 100) / 100))];
    expect(levels).toEqual([0, 0.2, 0.4, 0.6]);
    // Ties make one step: 'all' goes 0 → 0.25 → 0.75 → 1.
    expect([...new Set(all.map(([, y]) => Math.round(frac(y) * 100) / 100))]).toEqual([0, 0.25, 0.75, 1]);
    // Both curves run to the right edge of the plot.
    const area = plotArea(svg);
    expect(partial[partial.length - 1]?.[0]).toBe(area.x + area.width);
  });

  it('takes a custom y label and escapes names', () => {
    const svg = cdfChart({ ...base, series: [{ name: '<a & "b">', values: [1] }] });
    expectValidSvg(svg);
    expect(texts(svg, 'y-label')).toEqual(['y']);
    expect(texts(svg, 'legend-label')).toEqual(['&lt;a &amp; &quot;b&quot;&gt; (1 of 1)']);
  });

  it('survives degenerate input', () => {
    const cases = [
      [],
      [{ name: 'empty', values: [] }],
      [{ name: 'none finished', values: [Number.NaN, Number.POSITIVE_INFINITY] }],
      [{ name: 'one', values: [42] }],
      [{ name: 'equal', values: [5, 5, 5] }],
      [{ name: 'huge', values: [1e12, 2e12, Number.NEGATIVE_INFINITY] }],
    ];
    for (const series of cases) expectValidSvg(cdfChart({ title: 't', xLabel: 'x', series }));
    const none = cdfChart({ title: 't', xLabel: 'x', series: cases[2] ?? [] });
    expect(texts(none, 'legend-label')).toEqual(['none finished (0 of 2)']);
    const flat = polylines(none)[0] ?? [];
    expect(new Set(flat.map(([, y]) => y))).toEqual(new Set([yTicks(none).get('0')]));
    expect(cdfChart({ title: 't', xLabel: 'x', series: [] })).toContain('>no data</text>');
  });

  it('is deterministic and downsamples many values', () => {
    const rnd = lcg(3);
    const values = Array.from({ length: 50_000 }, () => rnd() * 600);
    const a = cdfChart({ title: 't', xLabel: 'x', series: [{ name: 'v', values }] });
    const b = cdfChart({ title: 't', xLabel: 'x', series: [{ name: 'v', values: [...values] }] });
    expect(a).toBe(b);
    const [line = []] = polylines(a);
    expect(line.length).toBeLessThanOrEqual(2 * (plotArea(a).width + 1) + 2);
  });
});

describe('barChart', () => {
  it('draws one bar per entry with a legend per group', () => {
    const svg = barChart({
      ...base,
      bars: [
        { label: 'p1', value: 10, group: 'seed' },
        { label: 'p2', value: 20, group: 'leech' },
        { label: 'p3', value: 5, group: 'seed' },
      ],
    });
    expectValidSvg(svg);
    expect(texts(svg, 'legend-label')).toEqual(['seed', 'leech']);
    const fills = [...svg.matchAll(/<rect [^>]*fill="([^"]*)"><title>/g)].map((m) => m[1]);
    expect(fills).toEqual([PALETTE[0], PALETTE[1], PALETTE[0]]);
    expect(texts(svg, 'bar-label')).toEqual(['p1', 'p2', 'p3']);
    expect(svg).toContain('<title>p2: 20</title>');
    expect([...yTicks(svg).keys()]).toEqual(['0', '5', '10', '15', '20']);
  });

  it('has no legend without groups', () => {
    const svg = barChart({ ...base, bars: [{ label: 'a', value: 1 }] });
    expect(svg).not.toContain('class="legend"');
  });

  it('puts negative values below the zero line', () => {
    const svg = barChart({
      ...base,
      bars: [
        { label: 'up', value: 30 },
        { label: 'down', value: -20 },
      ],
    });
    expectValidSvg(svg);
    const zero = Number(/<line class="zero" [^>]*y1="([^"]*)"/.exec(svg)?.[1]);
    expect(zero).toBe(yTicks(svg).get('0'));
    const rects = [
      ...svg.matchAll(/<rect x="[^"]*" y="([^"]*)" width="[^"]*" height="([^"]*)"[^>]*><title>/g),
    ].map((m) => [Number(m[1]), Number(m[2])]);
    const [[upY = 0, upH = 0] = [], [downY = 0, downH = 0] = []] = rects;
    expect(upY + upH).toBeCloseTo(zero, 1);
    expect(upY).toBe(yTicks(svg).get('30'));
    expect(downY).toBe(zero);
    expect(downY + downH).toBeCloseTo(yTicks(svg).get('-20') ?? 0, 1);
  });

  it('thins labels when there are more than 40 bars', () => {
    const make = (n: number) =>
      barChart({ ...base, bars: Array.from({ length: n }, (_, i) => ({ label: `b${i}`, value: i })) });
    expect(texts(make(40), 'bar-label')).toHaveLength(40);
    const hundred = texts(make(100), 'bar-label');
    expect(hundred).toHaveLength(34);
    expect(hundred.slice(0, 3)).toEqual(['b0', 'b3', 'b6']);
    expect(texts(make(1000), 'bar-label')).toHaveLength(40);
    // All 1000 bars are still drawn.
    expect(make(1000).match(/<rect [^>]*><title>/g)).toHaveLength(1000);
  });

  it('escapes labels and groups, and survives degenerate input', () => {
    const svg = barChart({ ...base, bars: [{ label: '<a & "b">', value: 1, group: "g'1" }] });
    expectValidSvg(svg);
    expect(svg).not.toContain('<a & "b">');
    expect(texts(svg, 'bar-label')).toEqual(['&lt;a &amp; &quot;b&quot;&gt;']);
    expect(texts(svg, 'legend-label')).toEqual(['g&apos;1']);

    const cases = [
      [],
      [{ label: 'zero', value: 0 }],
      [{ label: 'nan', value: Number.NaN }],
      [
        { label: 'inf', value: Number.POSITIVE_INFINITY },
        { label: 'ok', value: 2 },
      ],
      [{ label: 'huge', value: 1e12 }],
      [{ label: 'neg', value: -3 }],
    ];
    for (const bars of cases) expectValidSvg(barChart({ ...base, bars }));
    expect(barChart({ ...base, bars: [] })).toContain('>no data</text>');
    const partial = barChart({ ...base, bars: cases[3] ?? [] });
    expect(partial.match(/<rect [^>]*><title>/g)).toHaveLength(1);
    expect(texts(partial, 'bar-label')).toEqual(['inf', 'ok']);
  });

  it('is deterministic', () => {
    const bars = Array.from({ length: 300 }, (_, i) => ({
      label: `peer-${i}`,
      value: (i * 37) % 101,
      group: `g${i % 3}`,
    }));
    expect(barChart({ ...base, bars })).toBe(barChart({ ...base, bars: bars.map((b) => ({ ...b })) }));
  });
});

describe('niceTicks and formatTick', () => {
  it('uses 1-2-5 steps with at most 8 ticks covering the range', () => {
    expect(niceTicks(0, 97)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-3, 7)).toEqual([-4, -2, 0, 2, 4, 6, 8]);
    expect(niceTicks(0, 3)).toEqual([0, 0.5, 1, 1.5, 2, 2.5, 3]);
    expect(niceTicks(1e12, 3e12)).toEqual([1e12, 1.5e12, 2e12, 2.5e12, 3e12]);
    expect(niceTicks(0.1, 0.7)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
    expect(niceTicks(5, 5)).toEqual([4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]);
    expect(niceTicks(0, 0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(Number.NaN, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);

    const rnd = lcg(11);
    for (let k = 0; k < 500; k++) {
      const a = (rnd() - 0.3) * 10 ** Math.floor(rnd() * 16 - 6);
      const b = a + rnd() * 10 ** Math.floor(rnd() * 16 - 6);
      const t = niceTicks(a, b);
      expect(t.length).toBeGreaterThanOrEqual(2);
      expect(t.length).toBeLessThanOrEqual(8);
      const step = (t[1] ?? 0) - (t[0] ?? 0);
      // Covers the range, up to a sliver far below a pixel (-0.008 on a 0..600M axis starts at 0).
      expect(t[0]).toBeLessThanOrEqual(Math.min(a, b) + step * 1e-6);
      expect(t[t.length - 1]).toBeGreaterThanOrEqual(Math.max(a, b) - step * 1e-6);
      const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
      // Subtracting large neighbouring ticks loses precision relative to the step.
      const tolerance = 1e-6 * Math.max(1, Math.abs(t[0] ?? 0) / step);
      expect([1, 2, 5].some((m) => Math.abs(mantissa - m) < tolerance)).toBe(true);
    }
  });

  it('formats labels compactly', () => {
    expect(formatTick(1500, 500)).toBe('1.5k');
    expect(formatTick(2e6, 1e6)).toBe('2M');
    expect(formatTick(0.25, 0.05)).toBe('0.25');
    expect(formatTick(0.1 + 0.2, 0.1)).toBe('0.3');
    expect(formatTick(1e12, 2e11)).toBe('1T');
    expect(formatTick(-2000, 1000)).toBe('-2k');
    expect(formatTick(1000, 200)).toBe('1k');
    expect(formatTick(800, 200)).toBe('800');
    expect(formatTick(0, 0.1)).toBe('0');
    expect(formatTick(-0, 1)).toBe('0');
    expect(formatTick(2e-7, 1e-7)).toBe('2e-7');
    expect(formatTick(3e21, 1e21)).toBe('3e21');
    expect(formatTick(Number.NaN, 1)).toBe('0');
  });

  it('escapes XML special and invalid characters', () => {
    expect(escapeXml(`<a & "b"> 'c'`)).toBe('&lt;a &amp; &quot;b&quot;&gt; &apos;c&apos;');
    expect(escapeXml('x\u0001y\tz\uD800')).toBe('x\uFFFDy\tz\uFFFD');
    expect(escapeXml('emoji 😀')).toBe('emoji 😀');
  });
});
