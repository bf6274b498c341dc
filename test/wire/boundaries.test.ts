import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createMemoryPair } from '../../src/util/transport.js';
import {
  type BttSpeedExtension,
  PeerWire,
  type PeerWireEvents,
  type UtMetadataExtension,
  type UtPexExtension,
  WIRE_ERROR_CODES,
  WireError,
} from '../../src/wire/index.js';
import { rnd } from './helpers.js';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts')) out.push({ path: p, text: readFileSync(join(root, p), 'utf8') });
  }
  return out;
}

const ADAPTER = 'src/wire/upstream.ts';
const src = sources('src');
const wire = src.filter((f) => f.path.startsWith('src/wire/'));

describe('the wire keeps its upstream seams in one file', () => {
  it(`only ${ADAPTER} imports bittorrent-protocol`, () => {
    const importers = src
      .filter((f) => /from 'bittorrent-protocol'|import\('bittorrent-protocol'\)/.test(f.text))
      .map((f) => relative(root, join(root, f.path)));
    expect(importers).toEqual([ADAPTER]);
  });

  it(`no other file touches a private member of Wire (_push, _pull, _write, _callback, _on…, _finished)`, () => {
    const seam = /\._(push|pull|write|callback|finished|on[A-Z]\w*)\b|\.extendedMapping\b/;
    const touching = wire.filter((f) => f.path !== ADAPTER && seam.test(f.text)).map((f) => f.path);
    expect(touching).toEqual([]);
    const adapter = readFileSync(join(root, ADAPTER), 'utf8');
    expect(seam.test(adapter)).toBe(true); // the scan can see a seam
  });

  it("Wire's parser is never fed: the guard is the only parser (no frame parsed twice)", () => {
    // `_write` is the Duplex hook that runs Wire's parser; `.write(` would feed it through streamx.
    const feeds = /\._write\b|#w\.write\(|\bw\.write\(/;
    expect(feeds.test(readFileSync(join(root, ADAPTER), 'utf8'))).toBe(false);
  });

  it('no error is classified by its message text', () => {
    const byText = /\.test\([^)]*\.message\b|\.message\.(match|includes|startsWith|search)\(/;
    expect(wire.filter((f) => byText.test(f.text)).map((f) => f.path)).toEqual([]);
  });

  it('no file in src/wire is over 600 lines', () => {
    const long = wire.filter((f) => f.text.split('\n').length > 600).map((f) => f.path);
    expect(long).toEqual([]);
  });
});

describe('wire error codes', () => {
  it('are unique, namespaced WIRE_, and every code thrown in src is listed', () => {
    expect(new Set(WIRE_ERROR_CODES).size).toBe(WIRE_ERROR_CODES.length);
    for (const c of WIRE_ERROR_CODES) expect(c).toMatch(/^WIRE_[A-Z0-9_]+$/);
    const listed = new Set<string>(WIRE_ERROR_CODES);
    const used = new Set<string>();
    for (const f of src) {
      for (const m of f.text.matchAll(/new WireError\(\s*'([A-Z0-9_]+)'/g)) used.add(m[1] as string);
      if (f.path.startsWith('src/wire/'))
        for (const m of f.text.matchAll(/\bfail\(\s*'([A-Z0-9_]+)'/g)) used.add(m[1] as string);
    }
    expect(used.size).toBeGreaterThan(20);
    expect([...used].filter((c) => !listed.has(c))).toEqual([]);
  });

  it('WireError takes only listed codes', () => {
    // @ts-expect-error: not a wire code
    const e = new WireError('UT_METADATA_TIMEOUT', 'x');
    expect(e).toBeInstanceOf(WireError);
    expectTypeOf<ConstructorParameters<typeof WireError>[0]>().toEqualTypeOf<
      (typeof WIRE_ERROR_CODES)[number]
    >();
  });
});

describe('event maps are strict', () => {
  it('a misspelled event name does not compile; the real ones do, with their argument types', () => {
    const [a] = createMemoryPair();
    const w = new PeerWire(a, { peerId: rnd(20) });
    // @ts-expect-error: no such event
    w.on('donee', () => {});
    // @ts-expect-error: wrong listener arguments
    w.on('have', (_i: string) => {});
    w.on('have', (i) => expectTypeOf(i).toEqualTypeOf<number>());
    expectTypeOf<keyof PeerWireEvents>().not.toEqualTypeOf<string>();
    const ext = {} as UtMetadataExtension & UtPexExtension & BttSpeedExtension;
    const check = () => {
      // @ts-expect-error: no such event on ut_metadata
      (ext as UtMetadataExtension).on('metadta', () => {});
      // @ts-expect-error: no such event on ut_pex
      (ext as UtPexExtension).on('peer', () => {});
      // @ts-expect-error: no such event on btt_speed
      (ext as BttSpeedExtension).on('bids', () => {});
    };
    expect(typeof check).toBe('function');
    w.close();
  });
});
