/**
 * The module map: every relative import in src/ goes from a module to one the README's table
 * allows (README.md, "Module map", between the module-map markers). The table is read from the
 * README so the two cannot drift apart.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

/** Files directly in src/: the root export may import any module; the version any module may. */
const ROOT_FILES: Record<string, 'any' | 'leaf'> = { 'index.ts': 'any', 'version.ts': 'leaf' };

type Table = Map<string, Set<string>>;

/** The allowed-dependency table from the README. `every module` expands to all rows. */
function readTable(readme: string): Table {
  const m = /<!-- module-map:start -->([\s\S]*?)<!-- module-map:end -->/.exec(readme);
  if (!m?.[1]) throw new Error('README.md has no module-map table');
  const rows: [string, string][] = [];
  for (const line of m[1].split('\n')) {
    const cells = /^\|\s*`([a-z-]+)`\s*\|(.*)\|\s*$/.exec(line.trim());
    if (cells?.[1] && cells[2] !== undefined) rows.push([cells[1], cells[2]]);
  }
  const names = rows.map(([name]) => name);
  const table: Table = new Map();
  for (const [name, deps] of rows) {
    const allowed = /every module/.test(deps)
      ? names.filter((n) => n !== name)
      : [...deps.matchAll(/`([a-z-]+)`/g)].map((d) => d[1] ?? '');
    table.set(name, new Set(allowed));
  }
  return table;
}

interface Import {
  file: string;
  line: number;
  from: string;
  to: string;
}

/** The module a path under src/ belongs to (`root:<file>` for files directly in src/). */
function moduleOf(path: string): string | undefined {
  const rel = relative(SRC, path);
  if (rel.startsWith('..')) return undefined;
  const [first = '', ...rest] = rel.split(sep);
  return rest.length === 0 ? `root:${first.replace(/\.js$/, '.ts')}` : first;
}

/** Every relative import (static, re-export, side-effect, dynamic) of one source text. */
function importsOf(file: string, text: string): Import[] {
  const out: Import[] = [];
  const from = moduleOf(file) ?? '?';
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)'(\.{1,2}\/[^']*)'/g)) {
    const target = resolve(dirname(file), m[1] ?? '');
    const to = moduleOf(target) ?? `outside src: ${relative(ROOT, target)}`;
    out.push({ file: relative(ROOT, file), line: text.slice(0, m.index).split('\n').length, from, to });
  }
  return out;
}

/** Imports the table does not allow. */
function violations(imports: readonly Import[], table: Table): string[] {
  const bad: string[] = [];
  for (const i of imports) {
    if (i.from === i.to) continue;
    const rootFile = i.to.startsWith('root:') ? ROOT_FILES[i.to.slice(5)] : undefined;
    if (rootFile === 'leaf') continue; // the version constant
    const fromRoot = i.from.startsWith('root:') ? ROOT_FILES[i.from.slice(5)] : undefined;
    if (fromRoot === 'any' && table.has(i.to)) continue;
    if (table.get(i.from)?.has(i.to)) continue;
    bad.push(`${i.file}:${i.line} ${i.from} → ${i.to}`);
  }
  return bad;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const table = readTable(readFileSync(join(ROOT, 'README.md'), 'utf8'));
const imports = sourceFiles(SRC).flatMap((f) => importsOf(f, readFileSync(f, 'utf8')));

describe('module map', () => {
  it('the README table has one row per folder of src/', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    expect([...table.keys()].sort()).toEqual(folders);
    for (const [name, deps] of table) {
      for (const d of deps) expect(table.has(d), `${name} allows unknown module ${d}`).toBe(true);
    }
    expect(Object.keys(ROOT_FILES).sort()).toEqual(
      readdirSync(SRC, { withFileTypes: true })
        .filter((e) => e.isFile() && e.name.endsWith('.ts'))
        .map((e) => e.name)
        .sort(),
    );
  });

  it('the table has no cycle (every module sits above the ones it imports)', () => {
    const order: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (n: string, path: string[]): void => {
      if (state.get(n) === 'done') return;
      if (state.get(n) === 'visiting') throw new Error(`cycle: ${[...path, n].join(' → ')}`);
      state.set(n, 'visiting');
      for (const d of table.get(n) ?? []) visit(d, [...path, n]);
      state.set(n, 'done');
      order.push(n);
    };
    for (const n of table.keys()) visit(n, []);
    expect(order).toHaveLength(table.size);
  });

  it('finds the imports (the scan itself works)', () => {
    expect(imports.length).toBeGreaterThan(200);
    expect(imports).toContainEqual(expect.objectContaining({ from: 'session', to: 'wire' }));
    // A dynamic import is seen too (the session loads the DHT on demand).
    expect(imports).toContainEqual(
      expect.objectContaining({ file: expect.stringContaining('session'), from: 'session', to: 'dht' }),
    );
  });

  it('flags an import the table does not allow', () => {
    const fake = importsOf(
      join(SRC, 'wire', 'fake.ts'),
      [
        "import type { Torrent } from '../session/torrent.js';",
        "import { toHex } from '../util/bytes.js';",
        "const m = await import('../ledger/index.js');",
        "import { VERSION } from '../version.js';",
      ].join('\n'),
    );
    expect(violations(fake, table)).toEqual([
      'src/wire/fake.ts:1 wire → session',
      'src/wire/fake.ts:3 wire → ledger',
    ]);
  });

  it('no file in src/ is over 600 lines', () => {
    const long = sourceFiles(SRC)
      .map((f) => [relative(ROOT, f), readFileSync(f, 'utf8').split('\n').length - 1] as const)
      .filter(([, lines]) => lines > 600)
      .map(([f, lines]) => `${f}: ${lines} lines`);
    expect(long).toEqual([]);
  });

  it('every relative import in src/ follows the table', () => {
    expect(violations(imports, table)).toEqual([]);
  });
});
