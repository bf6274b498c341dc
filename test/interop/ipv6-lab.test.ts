/**
 * IPv6 in the network lab: one segment where every host has only an IPv6 address
 * (2001:db8:1::/64; IPv4 on loopback only, so nothing can fall back to IPv4). Each download is
 * compared byte for byte with the source.
 *
 * 1. bttkit CLI seeder → bttkit CLI leecher, found through a magnet's `x.pe=[2001:db8:1::10]:port`.
 * 2. the same through a tracker reached over IPv6 (the npm `bittorrent-tracker` server, which
 *    answers with `peers6`, BEP 7). (Debian's opentracker is built IPv4-only: not used.)
 * 3. PEX: a third peer told only of a leecher learns the seeder from `added6`, and connects.
 * 4. libtorrent over IPv6: libtorrent seeds to a bttkit leecher, and a bttkit seeder to libtorrent.
 * 5. dual-stack: a bttkit peer listening on `::` of a host with both families is reached over
 *    IPv4 and IPv6 by one leecher that knows both addresses — one connection to it, and an IPv4
 *    peer shown as IPv4 (not `::ffff:…`).
 *
 * Needs root and `ip` (CI); skipped with the reason elsewhere. Run `npm run build` first.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent, parseTorrent } from '../../src/metainfo/index.js';
import { type JsonLines, jsonLines, waitEvent } from '../helpers/json-lines.js';
import { type LabHost, NetLab, netlabUnavailable, type Segment } from '../helpers/netlab.js';
import { pseudoRandomBytes, tempDir } from '../helpers/run.js';

const why = netlabUnavailable();
if (why) console.log(`ipv6-lab: skipped: ${why}`);

const CLI = 'dist/cli/main.js';
const PEER = 'test/fixtures/bttkit_peer.mjs';
const LT = 'test/fixtures/lt_peer.py';
const tmp = tempDir('bttkit-ipv6-lab-');
const SIZE = 3_000_000;

describe.skipIf(why !== undefined)('IPv6 in the network lab', () => {
  let lab: NetLab;
  let v6: Segment;
  const hosts = new Map<string, LabHost>();
  let data: Uint8Array;
  let torrentPath: string;
  let srcDir: string;
  let infoHash: string;
  const addr = (n: number) => `2001:db8:1::${n}`;

  /** A host with one IPv6 address on the segment, no IPv4 but loopback. */
  async function host(name: string, n: number): Promise<LabHost> {
    const h = await lab.host(name, [{ segment: v6, v6: `${addr(n)}/64` }]);
    hosts.set(name, h);
    return h;
  }

  function run(h: LabHost, cmd: string, args: string[]): JsonLines {
    const child = h.spawn(cmd, args);
    child.stderr?.setEncoding('utf8');
    let err = '';
    child.stderr?.on('data', (d: string) => {
      if (err.length < 20_000) err += d;
    });
    (child as ChildProcess & { stderrText: () => string }).stderrText = () => err;
    return jsonLines(child);
  }

  const cli = (h: LabHost, args: string[]) => run(h, 'node', [CLI, ...args]);
  const peer = (h: LabHost, o: Record<string, unknown>) => run(h, 'node', [PEER, JSON.stringify(o)]);

  function exited(r: JsonLines, ms: number): Promise<number | null> {
    return new Promise((resolve, reject) => {
      if (r.child.exitCode !== null) return resolve(r.child.exitCode);
      const t = setTimeout(() => reject(new Error(`no exit within ${ms} ms`)), ms);
      r.child.once('exit', (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
  }

  function sameAsSource(file: string): boolean {
    return Buffer.compare(readFileSync(file), Buffer.from(data)) === 0;
  }

  beforeAll(async () => {
    srcDir = join(tmp.path, 'src');
    mkdirSync(srcDir, { recursive: true });
    data = pseudoRandomBytes(SIZE, 606);
    writeFileSync(join(srcDir, 'payload.bin'), data);
    const { torrent } = await createTorrent(join(srcDir, 'payload.bin'), { pieceLength: 65536 });
    torrentPath = join(tmp.path, 'payload.torrent');
    writeFileSync(torrentPath, torrent);
    infoHash = parseTorrent(torrent).infoHash;
    lab = await NetLab.create();
    v6 = await lab.segment('v6');
    // No IPv4 on the segment at all.
    for (const [name, n] of [
      ['a', 10],
      ['b', 11],
      ['c', 12],
      ['t', 20],
      ['l', 30],
    ] as const)
      await host(name, n);
    const a = hosts.get('a') as LabHost;
    expect(a.exec('ip', ['-4', 'addr', 'show', 'scope', 'global'])).toBe('');
  }, 60_000);

  afterAll(async () => {
    await lab?.destroy();
    tmp.cleanup();
  });

  const h = (name: string) => hosts.get(name) as LabHost;

  it('a bttkit leecher downloads from a bttkit seeder named by a magnet x.pe=[v6]:port (CLI)', async () => {
    const seed = cli(h('a'), ['seed', torrentPath, srcDir, '--json', '--no-dht']);
    const s = await waitEvent(seed, (e) => e.seeding === true, 30_000, 'the seeder');
    const magnet = `magnet:?xt=urn:btih:${infoHash}&x.pe=${encodeURIComponent(`[${addr(10)}]:${s.port}`)}`;
    const out = join(tmp.path, 'magnet-leech');
    const leech = cli(h('b'), ['download', magnet, '-o', out, '--json', '--no-dht', '--timeout', '120']);
    const done = await waitEvent(leech, (e) => 'complete' in e, 150_000, 'the leecher');
    expect(done.complete).toBe(true);
    expect(await exited(leech, 10_000)).toBe(0);
    expect(sameAsSource(join(out, 'payload.bin'))).toBe(true);
    seed.child.kill('SIGKILL');
  }, 200_000);

  it('through a tracker reached over IPv6: bittorrent-tracker answers with peers6 (CLI)', async () => {
    const tr = run(h('t'), 'node', ['test/fixtures/bt_tracker.mjs', '::']);
    const t = await waitEvent(tr, (e) => e.event === 'listening', 20_000, 'the tracker');
    const url = `http://[${addr(20)}]:${t.port}/announce`;
    const seed = cli(h('a'), ['seed', torrentPath, srcDir, '--json', '--no-dht', '--tracker', url]);
    await waitEvent(seed, (e) => e.seeding === true, 30_000, 'the seeder');
    // No peer given: the tracker is the only source.
    const out = join(tmp.path, 'tracker-leech');
    const magnet = `magnet:?xt=urn:btih:${infoHash}&tr=${encodeURIComponent(url)}`;
    const leech = cli(h('b'), ['download', magnet, '-o', out, '--json', '--no-dht', '--timeout', '120']);
    const done = await waitEvent(leech, (e) => 'complete' in e, 150_000, 'the leecher');
    expect(done.complete).toBe(true);
    expect(sameAsSource(join(out, 'payload.bin'))).toBe(true);
    seed.child.kill('SIGKILL');
    tr.child.kill('SIGKILL');
  }, 200_000);

  it('PEX: a third peer told only of a leecher learns the seeder from added6', async () => {
    // The seeder uploads slowly so the leecher is still connected to it when the third arrives.
    const seeder = peer(h('a'), { torrent: torrentPath, dir: srcDir, uploadRateLimit: 400_000 });
    const sl = await waitEvent(seeder, (e) => e.event === 'listening', 20_000, 'the seeder listening');
    await waitEvent(seeder, (e) => e.event === 'seeding', 30_000, 'the seeder');
    const leecher = peer(h('b'), {
      torrent: torrentPath,
      dir: join(tmp.path, 'pex-b'),
      peers: [`[${addr(10)}]:${sl.port}`],
    });
    const bl = await waitEvent(leecher, (e) => e.event === 'listening', 20_000, 'the leecher listening');
    await waitEvent(leecher, (e) => e.event === 'peer' && e.peerId === sl.peerId, 20_000, 'leecher ↔ seeder');
    const third = peer(h('c'), {
      torrent: torrentPath,
      dir: join(tmp.path, 'pex-c'),
      peers: [`[${addr(11)}]:${bl.port}`],
    });
    // Connected to the seeder (whichever side dialled: each learnt the other through added6).
    const met = await waitEvent(
      third,
      (e) => e.event === 'peer' && e.peerId === sl.peerId,
      60_000,
      'the third peer meeting the seeder',
    );
    expect(met.host).toBe(addr(10));
    await waitEvent(third, (e) => e.event === 'done', 150_000, 'the third peer done');
    expect(sameAsSource(join(tmp.path, 'pex-c', 'payload.bin'))).toBe(true);
    for (const r of [seeder, leecher, third]) r.child.kill('SIGKILL');
  }, 250_000);

  it('libtorrent seeds to a bttkit leecher over IPv6, and a bttkit seeder to libtorrent', async () => {
    const lt = run(h('l'), '/usr/bin/python3', [
      LT,
      'seed',
      torrentPath,
      srcDir,
      '--listen',
      `[${addr(30)}]`,
      '--max-seconds',
      '200',
    ]);
    const ll = await waitEvent(lt, (e) => e.event === 'listening', 30_000, 'libtorrent listening');
    await waitEvent(lt, (e) => e.event === 'seeding', 30_000, 'libtorrent seeding');
    const out = join(tmp.path, 'lt-to-bttkit');
    const leech = cli(h('b'), [
      'download',
      torrentPath,
      '-o',
      out,
      '--json',
      '--no-dht',
      '--timeout',
      '120',
      '--peer',
      `[${addr(30)}]:${ll.port}`,
    ]);
    const done = await waitEvent(leech, (e) => 'complete' in e, 150_000, 'bttkit leeching from libtorrent');
    expect(done.complete).toBe(true);
    expect(sameAsSource(join(out, 'payload.bin'))).toBe(true);
    lt.child.kill('SIGKILL');

    // The reverse: bttkit seeds, libtorrent (on [::30]) leeches from [::10].
    const seed = cli(h('a'), ['seed', torrentPath, srcDir, '--json', '--no-dht']);
    const s = await waitEvent(seed, (e) => e.seeding === true, 30_000, 'the bttkit seeder');
    const ltOut = join(tmp.path, 'bttkit-to-lt');
    mkdirSync(ltOut, { recursive: true });
    const ltLeech = run(h('l'), '/usr/bin/python3', [
      LT,
      'leech',
      torrentPath,
      ltOut,
      '--listen',
      `[${addr(30)}]`,
      '--peer',
      `[${addr(10)}]:${s.port}`,
      '--max-seconds',
      '150',
    ]);
    const p = await waitEvent(ltLeech, (e) => e.event === 'peer', 60_000, 'libtorrent meeting bttkit');
    expect(p.ip).toBe(addr(10));
    await waitEvent(ltLeech, (e) => e.event === 'done', 150_000, 'libtorrent leeching from bttkit');
    expect(sameAsSource(join(ltOut, 'payload.bin'))).toBe(true);
    seed.child.kill('SIGKILL');
  }, 400_000);

  it('dual-stack: one listener on :: for both families; a leecher knowing both addresses keeps one connection', async () => {
    const ds = await lab.segment('ds');
    const d1 = await lab.host('d1', [{ segment: ds, v4: '10.77.9.10/24', v6: '2001:db8:9::10/64' }]);
    const d2 = await lab.host('d2', [{ segment: ds, v4: '10.77.9.11/24', v6: '2001:db8:9::11/64' }]);
    const seeder = peer(d1, { torrent: torrentPath, dir: srcDir, uploadRateLimit: 1_000_000 });
    const sl = await waitEvent(seeder, (e) => e.event === 'listening', 20_000, 'the seeder listening');
    expect(sl.host).toBe('::');
    await waitEvent(seeder, (e) => e.event === 'seeding', 30_000, 'the seeder');
    // Told both addresses of the seeder; the seeder sees the leecher's IPv4 side as plain IPv4.
    const v4only = peer(d2, {
      torrent: torrentPath,
      dir: join(tmp.path, 'ds-v4'),
      peers: [`10.77.9.10:${sl.port}`],
      settings: { enableIpv6: false },
    });
    const seen4 = await waitEvent(seeder, (e) => e.event === 'peer', 30_000, 'the IPv4 peer at the seeder');
    expect(seen4.host).toBe('10.77.9.11');
    await waitEvent(v4only, (e) => e.event === 'done', 150_000, 'the IPv4 leecher done');
    expect(sameAsSource(join(tmp.path, 'ds-v4', 'payload.bin'))).toBe(true);
    v4only.child.kill('SIGKILL');

    const both = peer(d2, {
      torrent: torrentPath,
      dir: join(tmp.path, 'ds-both'),
      peers: [`10.77.9.10:${sl.port}`, `[2001:db8:9::10]:${sl.port}`],
    });
    await waitEvent(both, (e) => e.event === 'done', 150_000, 'the dual-stack leecher done');
    expect(sameAsSource(join(tmp.path, 'ds-both', 'payload.bin'))).toBe(true);
    // Two addresses of one peer: one connection (the second one, same peer id, was closed).
    const conns = both.events.filter((e) => e.event === 'peer' && e.peerId === sl.peerId);
    expect(conns.length).toBe(1);
    expect(['10.77.9.10', '2001:db8:9::10']).toContain(conns[0]?.host);
    for (const r of [seeder, both]) r.child.kill('SIGKILL');
  }, 250_000);
});
