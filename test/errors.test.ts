/**
 * The error-code registry (docs/errors.md): every module lists its codes as data
 * (`<MODULE>_ERROR_CODES`); codes are unique across the package and carry their module's
 * prefix; and a scan of src/ checks that what is thrown on purpose is a `BttkitError` with a
 * listed code.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

/** Where each module's list lives, and the prefix its codes carry. */
const MODULES = [
  { module: 'util', file: 'src/util/errors.ts', list: 'UTIL_ERROR_CODES', prefix: 'UTIL_' },
  { module: 'transport', file: 'src/util/errors.ts', list: 'TRANSPORT_ERROR_CODES', prefix: 'TRANSPORT_' },
  { module: 'bencode', file: 'src/util/errors.ts', list: 'BENCODE_ERROR_CODES', prefix: 'BENCODE_' },
  { module: 'metainfo', file: 'src/util/errors.ts', list: 'METAINFO_ERROR_CODES', prefix: 'METAINFO_' },
  { module: 'magnet', file: 'src/util/errors.ts', list: 'MAGNET_ERROR_CODES', prefix: 'MAGNET_' },
  { module: 'wire', file: 'src/wire/errors.ts', list: 'WIRE_ERROR_CODES', prefix: 'WIRE_' },
  { module: 'mse', file: 'src/wire/mse/errors.ts', list: 'MSE_ERROR_CODES', prefix: 'MSE_' },
  { module: 'utp', file: 'src/utp/errors.ts', list: 'UTP_ERROR_CODES', prefix: 'UTP_' },
  { module: 'net', file: 'src/net/errors.ts', list: 'NET_ERROR_CODES', prefix: 'NET_' },
  { module: 'tracker', file: 'src/tracker/errors.ts', list: 'TRACKER_ERROR_CODES', prefix: 'TRACKER_' },
  { module: 'dht', file: 'src/dht/errors.ts', list: 'DHT_ERROR_CODES', prefix: 'DHT_' },
  { module: 'picker', file: 'src/picker/index.ts', list: 'PICKER_ERROR_CODES', prefix: 'PICKER_' },
  { module: 'storage', file: 'src/storage/errors.ts', list: 'STORAGE_ERROR_CODES', prefix: 'STORAGE_' },
  { module: 'session', file: 'src/session/errors.ts', list: 'SESSION_ERROR_CODES', prefix: 'SESSION_' },
  { module: 'ledger', file: 'src/ledger/errors.ts', list: 'LEDGER_ERROR_CODES', prefix: 'LEDGER_' },
  {
    module: 'settlement',
    file: 'src/settlement/errors.ts',
    list: 'SETTLEMENT_ERROR_CODES',
    prefix: 'SETTLEMENT_',
  },
  { module: 'speed', file: 'src/speed/errors.ts', list: 'SPEED_ERROR_CODES', prefix: 'SPEED_' },
  { module: 'sim', file: 'src/sim/index.ts', list: 'SIM_ERROR_CODES', prefix: 'SIM_' },
  { module: 'cli', file: 'src/cli/errors.ts', list: 'CLI_ERROR_CODES', prefix: 'CLI_' },
] as const;

/** The one code without a module prefix (AbortError, package-wide; listed by util). */
const UNPREFIXED = new Set(['ABORTED']);
const PREFIXES = MODULES.map((m) => m.prefix.slice(0, -1));
const CODE_SHAPE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;

/** module → its list (or why it could not be read). */
const lists = new Map<string, readonly string[] | string>();

beforeAll(async () => {
  for (const m of MODULES) {
    try {
      const mod = (await import(join(ROOT, m.file))) as Record<string, unknown>;
      const list = mod[m.list];
      lists.set(
        m.module,
        Array.isArray(list) && list.every((c) => typeof c === 'string')
          ? (list as string[])
          : `${m.file} does not export ${m.list} as an array of strings`,
      );
    } catch (err) {
      lists.set(m.module, `${m.file} cannot be imported: ${(err as Error).message}`);
    }
  }
});

function listOf(module: string): readonly string[] {
  const l = lists.get(module);
  if (typeof l === 'string' || l === undefined) throw new Error(l ?? `no list for ${module}`);
  return l;
}

/** Every code of every list that could be read. */
function registry(): Set<string> {
  const all = new Set<string>();
  for (const l of lists.values()) if (typeof l !== 'string') for (const c of l) all.add(c);
  return all;
}

describe('error-code lists', () => {
  it.each(MODULES.map((m) => [m.module, m] as const))('%s exports its list', (_name, m) => {
    const list = listOf(m.module);
    expect(list.length, `${m.list} is empty`).toBeGreaterThan(0);
    expect(new Set(list).size, `${m.list} lists a code twice`).toBe(list.length);
  });

  it.each(MODULES.map((m) => [m.module, m] as const))(
    "%s's codes carry its prefix and are UPPER_SNAKE_CASE",
    (_name, m) => {
      const bad = listOf(m.module).filter(
        (c) => !UNPREFIXED.has(c) && !(c.startsWith(m.prefix) && CODE_SHAPE.test(c)),
      );
      expect(bad, `codes of ${m.list} without the ${m.prefix} prefix`).toEqual([]);
    },
  );

  it('ABORTED is listed once, by util', () => {
    expect(listOf('util')).toContain('ABORTED');
    for (const m of MODULES) if (m.module !== 'util') expect(listOf(m.module)).not.toContain('ABORTED');
  });

  it('no code is listed by two modules', () => {
    const owner = new Map<string, string>();
    const clashes: string[] = [];
    for (const m of MODULES) {
      const l = lists.get(m.module);
      if (typeof l === 'string' || l === undefined) continue;
      for (const c of l) {
        const first = owner.get(c);
        if (first) clashes.push(`${c}: ${first} and ${m.module}`);
        else owner.set(c, m.module);
      }
    }
    expect(clashes).toEqual([]);
    // Every list must have been read for "unique across the package" to mean anything.
    expect([...lists.values()].filter((l) => typeof l === 'string')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Source scan

interface SourceFile {
  path: string;
  text: string;
  lines: string[];
}

function sources(dir: string): SourceFile[] {
  const out: SourceFile[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
      const text = readFileSync(p, 'utf8');
      out.push({ path: relative(ROOT, p), text, lines: text.split('\n') });
    }
  }
  return out;
}

const FILES = sources(SRC);

/** 1-based line of character `index`. */
function lineAt(f: SourceFile, index: number): number {
  return f.text.slice(0, index).split('\n').length;
}

/**
 * The marker that allows a bare `Error` (see docs/errors.md): `// internal: <why>` on the line of
 * the `new` or the line before it.
 */
function isMarkedInternal(f: SourceFile, line: number): boolean {
  const here = f.lines[line - 1] ?? '';
  const before = f.lines[line - 2] ?? '';
  return /\/\/ internal: \S/.test(here) || /^\s*\/\/ internal: \S/.test(before);
}

/** Every class in src/ that descends from BttkitError (BttkitError included). */
function bttkitErrorClasses(): Set<string> {
  const parent = new Map<string, string>();
  for (const f of FILES) {
    for (const m of f.text.matchAll(/\bclass\s+(\w+)\s+extends\s+(\w+)/g)) {
      if (m[1] && m[2]) parent.set(m[1], m[2]);
    }
  }
  const out = new Set<string>(['BttkitError']);
  for (const name of parent.keys()) {
    let p: string | undefined = name;
    for (let i = 0; i < 16 && p !== undefined; i++) {
      if (p === 'BttkitError') {
        out.add(name);
        break;
      }
      p = parent.get(p);
    }
  }
  return out;
}

/**
 * Classes declared with the internal marker (a private `Error` subclass that never leaves its
 * module, e.g. a parse failure caught a few lines down): throwing them needs no marker each time.
 */
function internalClasses(): Set<string> {
  const out = new Set<string>();
  for (const f of FILES) {
    for (const m of f.text.matchAll(/\bclass\s+(\w+)\s+extends\s+\w+/g)) {
      if (m[1] && isMarkedInternal(f, lineAt(f, m.index))) out.add(m[1]);
    }
  }
  return out;
}

describe('source scan of src/', () => {
  const errorClasses = bttkitErrorClasses();
  const internal = internalClasses();

  it('finds the error classes (the scan itself works)', () => {
    for (const c of ['BencodeError', 'TrackerError', 'DhtError', 'SpeedError', 'CliError', 'AbortError']) {
      expect(errorClasses).toContain(c);
    }
  });

  it('every `throw new X(` throws a BttkitError subclass', () => {
    const bad: string[] = [];
    for (const f of FILES) {
      for (const m of f.text.matchAll(/\bthrow\s+new\s+([A-Z]\w*)\s*\(/g)) {
        const line = lineAt(f, m.index);
        const cls = m[1] ?? '';
        if (!errorClasses.has(cls) && !internal.has(cls) && !isMarkedInternal(f, line)) {
          bad.push(`${f.path}:${line} throws ${m[1]}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('no bare Error / RangeError / TypeError is made outside a marked internal invariant', () => {
    const bad: string[] = [];
    for (const f of FILES) {
      for (const m of f.text.matchAll(/\bnew\s+(Error|RangeError|TypeError|SyntaxError)\s*\(/g)) {
        const line = lineAt(f, m.index);
        if (!isMarkedInternal(f, line)) bad.push(`${f.path}:${line} new ${m[1]}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('every code literal given to an error constructor is in a list', () => {
    const known = registry();
    const bad: string[] = [];
    for (const f of FILES) {
      for (const m of f.text.matchAll(/\bnew\s+([A-Z]\w*)\s*\(\s*'([^']*)'/g)) {
        const [, cls = '', code = ''] = m;
        if (!errorClasses.has(cls) || !(CODE_SHAPE.test(code) || UNPREFIXED.has(code))) continue;
        if (!known.has(code)) bad.push(`${f.path}:${lineAt(f, m.index)} ${cls}('${code}')`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('every string literal that looks like a module-prefixed code is in a list', () => {
    const known = registry();
    const shape = new RegExp(`'((?:${PREFIXES.join('|')})_[A-Z0-9_]+)'`, 'g');
    const bad: string[] = [];
    for (const f of FILES) {
      for (const m of f.text.matchAll(shape)) {
        if (!known.has(m[1] ?? '')) bad.push(`${f.path}:${lineAt(f, m.index)} '${m[1]}'`);
      }
    }
    expect(bad).toEqual([]);
  });
});
