/**
 * The package as a user receives it: `npm pack`, installed into an empty folder, loaded from
 * CommonJS and from ESM, its bin run; publint and attw find no problems. Needs `npm run build`
 * first (npm test does it).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../src/version.js';
import { ROOT, runOk, tempDir } from './helpers/run.js';

interface PackageJson {
  version: string;
  exports: Record<string, unknown>;
  typesVersions: Record<string, Record<string, string[]>>;
  bin: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
/** Module subpaths (the data files — package.json, the conformance vectors — are not modules). */
const subpaths = Object.keys(pkg.exports)
  .filter((k) => k !== '.' && !k.endsWith('.json'))
  .map((k) => k.slice(2));

const tmp = tempDir('bttkit-pack-');
let tarball = '';
const consumer = join(tmp.path, 'consumer');

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/index.cjs')))
    throw new Error('dist/ is missing: run `npm run build` first');
  const out = runOk('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp.path]);
  const [info] = JSON.parse(out) as { filename: string }[];
  tarball = join(tmp.path, info?.filename ?? '');
  runOk('mkdir', ['-p', consumer]);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  runOk('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], {
    cwd: consumer,
    timeoutMs: 240_000,
  });
}, 300_000);
afterAll(tmp.cleanup);

describe('the packed package', () => {
  it('keeps VERSION, exports, typesVersions and the build entries in step', () => {
    expect(VERSION).toBe(pkg.version);
    const tsup = readFileSync(join(ROOT, 'tsup.config.ts'), 'utf8');
    for (const s of subpaths) {
      expect(pkg.typesVersions['*']?.[s], `typesVersions for ${s}`).toEqual([`./dist/${s}/index.d.cts`]);
      expect(tsup, `tsup entry for ${s}`).toContain(`'${s}/index': 'src/${s}/index.ts'`);
      expect(pkg.exports[`./${s}`]).toEqual({
        import: { types: `./dist/${s}/index.d.ts`, default: `./dist/${s}/index.js` },
        require: { types: `./dist/${s}/index.d.cts`, default: `./dist/${s}/index.cjs` },
      });
    }
  });

  it('loads from CommonJS, every subpath, and works there', () => {
    const script = `
      const root = require('bttkit');
      const subs = ${JSON.stringify(subpaths)}.map((s) => require('bttkit/' + s));
      const m = require('bttkit/metainfo');
      const t = m.encode({ info: { name: 'x', 'piece length': 16384, length: 1, pieces: new Uint8Array(20) } });
      const meta = m.parseTorrent(t);
      let typed = false;
      try { m.parseTorrent(new Uint8Array([1])); } catch (e) { typed = e instanceof root.BttkitError && e.code === 'METAINFO_BAD_BENCODE'; }
      console.log(JSON.stringify({ version: root.VERSION, n: subs.length, name: meta.name, typed, same: root.parseTorrent === m.parseTorrent }));
    `;
    const out = JSON.parse(runOk(process.execPath, ['-e', script], { cwd: consumer }));
    expect(out).toEqual({ version: VERSION, n: subpaths.length, name: 'x', typed: true, same: true });
  });

  it('loads from ESM, every subpath', () => {
    const script = `
      const root = await import('bttkit');
      const subs = await Promise.all(${JSON.stringify(subpaths)}.map((s) => import('bttkit/' + s)));
      const { parseMagnet } = await import('bttkit/metainfo');
      const m = parseMagnet('magnet:?xt=urn:btih:${'ab'.repeat(20)}&dn=x');
      console.log(JSON.stringify({ version: root.VERSION, n: subs.length, name: m.name }));
    `;
    const out = JSON.parse(runOk(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer }));
    expect(out).toEqual({ version: VERSION, n: subpaths.length, name: 'x' });
  });

  it('ships the btt_speed conformance vectors (bttkit/conformance/btt-speed.json)', () => {
    const script = `
      const v = require('bttkit/conformance/btt-speed.json');
      console.log(JSON.stringify({ same: JSON.stringify(v) === JSON.stringify(require(${JSON.stringify(join(ROOT, 'conformance/btt-speed.json'))})) }));
    `;
    expect(JSON.parse(runOk(process.execPath, ['-e', script], { cwd: consumer }))).toEqual({ same: true });
  });

  it('installs a working bttkit bin', () => {
    const bin = join(consumer, 'node_modules/.bin/bttkit');
    expect(runOk(bin, ['--version'], { cwd: consumer }).trim()).toBe(VERSION);
  });

  it('publint and attw report no problems', () => {
    const publint = runOk('npx', ['publint', '--strict', tarball]);
    expect(publint).toMatch(/All good/);
    const attw = runOk('npx', ['attw', tarball]);
    expect(attw).toMatch(/No problems found/);
  });
});
