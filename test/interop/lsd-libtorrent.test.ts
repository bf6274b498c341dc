/**
 * Local service discovery (BEP 14) against python3-libtorrent 2.0.8 in the network lab: two
 * hosts on one LAN segment (10.77.14.0/24, a multicast route on each), the bttkit CLI on one and
 * libtorrent (`lt_peer.py --listen <addr> --lsd`) on the other, with no peer given, no tracker and
 * no DHT — LSD is the only way they can meet. Both directions download the whole payload,
 * compared byte for byte; with `--no-lsd` the bttkit leecher gets nothing in a bounded time;
 * hostile datagrams on the group leave the bttkit seeder running. Then bttkit's LsdService alone
 * (test/fixtures/lsd_service.mjs) on `::`: hostile datagrams refused with NET_LSD_MALFORMED, and
 * two services hear each other on the IPv4 and the IPv6 group.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type JsonLines, jsonLines, stderrOf, waitEvent } from '../helpers/json-lines.js';
import { type LabHost, NetLab, netlabUnavailable } from '../helpers/netlab.js';
import { CLI, pseudoRandomBytes, ROOT, runOk, SYSTEM_PYTHON, tempDir } from '../helpers/run.js';

const why = netlabUnavailable();
if (why) console.warn(`lsd-libtorrent: skipped — ${why}`);

const LT_PEER = join(ROOT, 'test/fixtures/lt_peer.py');
const LSD_SERVICE = join(ROOT, 'test/fixtures/lsd_service.mjs');
/** 3 MiB in 64 KiB pieces: big enough that a download is not over in one round trip. */
const PAYLOAD = pseudoRandomBytes(3 * 1024 * 1024 + 1234, 1414);
/** LSD's CLI children run with the LAN features on, whatever the suite's environment says. */
const LAN_ON = { ...process.env, BTTKIT_LOCAL_NETWORK: 'on', NO_COLOR: '1' };

describe.skipIf(why !== undefined)(
  'LSD (BEP 14) finds libtorrent on the LAN, and libtorrent finds bttkit',
  () => {
    let lab: NetLab;
    let a: LabHost;
    let b: LabHost;
    const tmp = tempDir('bttkit-lsd-lab-');
    const torrentFile = join(tmp.path, 'payload.torrent');
    const children: ChildProcess[] = [];

    beforeAll(async () => {
      if (!existsSync(CLI)) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
      mkdirSync(join(tmp.path, 'seed'));
      writeFileSync(join(tmp.path, 'seed', 'payload.bin'), PAYLOAD);
      runOk(process.execPath, [
        CLI,
        'create',
        join(tmp.path, 'seed', 'payload.bin'),
        '-o',
        torrentFile,
        '-l',
        '64k',
      ]);
      lab = await NetLab.create();
      const lan = await lab.segment('lan');
      a = await lab.host('a', [{ segment: lan, v4: '10.77.14.10/24', v6: '2001:db8:14::10/64' }]);
      b = await lab.host('b', [{ segment: lan, v4: '10.77.14.20/24', v6: '2001:db8:14::20/64' }]);
      // No default route on this LAN: multicast needs a route of its own (as a home LAN's default
      // route via its router would give).
      for (const h of [a, b]) h.exec('ip', ['route', 'add', '224.0.0.0/4', 'dev', 'e0']);
    });

    // Each test starts alone: whatever an earlier one left running (it failed) is killed first.
    beforeEach(async () => {
      await Promise.all(
        children.splice(0).map(
          (c) =>
            new Promise<void>((r) => {
              if (c.exitCode !== null || c.signalCode !== null) return r();
              c.once('exit', () => r());
              c.kill('SIGKILL');
            }),
        ),
      );
    });

    afterAll(async () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await lab?.destroy();
      tmp.cleanup();
    });

    function bttkit(host: LabHost, args: string[]): JsonLines {
      const child = host.spawn(process.execPath, [CLI, ...args, '--json', '--no-dht'], {
        cwd: tmp.path,
        env: LAN_ON,
      });
      children.push(child);
      const r = jsonLines(child);
      let err = '';
      child.stderr?.on('data', (d: Buffer) => {
        if (err.length < 20_000) err += d.toString();
      });
      (child as ChildProcess & { stderrText: () => string }).stderrText = () => err;
      return r;
    }

    function libtorrent(
      host: LabHost,
      mode: 'seed' | 'leech',
      save: string,
      extra: string[] = [],
    ): JsonLines {
      const child = host.spawn(SYSTEM_PYTHON, [
        LT_PEER,
        mode,
        torrentFile,
        save,
        '--listen',
        host.addr4,
        '--lsd',
        '--max-seconds',
        '100',
        ...extra,
      ]);
      children.push(child);
      return jsonLines(child);
    }

    /** libtorrent's peer records (one per connection state change). */
    const ltPeers = (lt: JsonLines) => lt.events.filter((e) => e.event === 'peer');

    it('a bttkit leecher hears a libtorrent seeder’s announce, dials it and downloads the payload', async () => {
      // bttkit first: its own announce (and its two repeats) go out before libtorrent listens, so
      // the only way the two meet is libtorrent's announce at start, heard by bttkit, which dials.
      const out = join(tmp.path, 'dl-from-lt');
      const dl = bttkit(a, ['download', torrentFile, '-o', out, '--timeout', '60']);
      await waitEvent(dl, (e) => e.event === 'progress', 20_000, 'bttkit running');
      await sleep(RESEND_DONE_MS);
      const started = performance.now();
      const lt = libtorrent(b, 'seed', join(tmp.path, 'seed'));
      const summary = await waitEvent(dl, (e) => 'complete' in e, 90_000, 'the bttkit download');
      const seconds = (performance.now() - started) / 1000;
      console.log(`lsd-libtorrent: bttkit found libtorrent by LSD and downloaded in ${seconds.toFixed(1)} s`);
      expect(summary.complete).toBe(true);
      expect(Buffer.compare(readFileSync(join(out, 'payload.bin')), Buffer.from(PAYLOAD))).toBe(0);
      // The connection was bttkit's: libtorrent saw it incoming, from bttkit's LAN address.
      const peers = ltPeers(lt);
      expect(peers.length).toBeGreaterThan(0);
      expect(peers.every((p) => p.outgoing === false && p.ip === a.addr4)).toBe(true);
      lt.child.kill('SIGKILL');
    }, 120_000);

    it('a libtorrent leecher hears a bttkit seeder’s announce, dials it and downloads the payload', async () => {
      const save = join(tmp.path, 'lt-from-bttkit');
      mkdirSync(save);
      const lt = libtorrent(b, 'leech', save, ['--alerts']);
      await waitEvent(lt, (e) => e.event === 'listening', 20_000, 'libtorrent listening');
      // libtorrent sends each announce three times (at 0, 2 and 6 s): bttkit starts after the last,
      // so the only way they meet is bttkit's announce, heard by libtorrent, which dials.
      await sleep(RESEND_DONE_MS);
      const started = performance.now();
      const seed = bttkit(a, ['seed', torrentFile, join(tmp.path, 'seed', 'payload.bin')]);
      await Promise.race([
        waitEvent(lt, (e) => e.event === 'done', 90_000, 'the libtorrent download'),
        exits(seed.child, 'the bttkit seeder'),
      ]);
      const seconds = (performance.now() - started) / 1000;
      console.log(`lsd-libtorrent: libtorrent found bttkit by LSD and downloaded in ${seconds.toFixed(1)} s`);
      expect(Buffer.compare(readFileSync(join(save, 'payload.bin')), Buffer.from(PAYLOAD))).toBe(0);
      const peers = ltPeers(lt);
      expect(peers.length).toBeGreaterThan(0);
      expect(
        peers.every((p) => p.outgoing === true && p.ip === a.addr4),
        JSON.stringify(peers),
      ).toBe(true);
      seed.child.kill('SIGKILL');
    }, 120_000);

    it('with --no-lsd the bttkit leecher gets nothing (the control: LSD is the only way they meet)', async () => {
      const out = join(tmp.path, 'dl-no-lsd');
      const dl = bttkit(a, [
        'download',
        torrentFile,
        '-o',
        out,
        '--timeout',
        String(NO_LSD_SECONDS),
        '--no-lsd',
      ]);
      await waitEvent(dl, (e) => e.event === 'progress', 20_000, 'bttkit running');
      await sleep(1500);
      const lt = libtorrent(b, 'seed', join(tmp.path, 'seed'));
      // The CLI gives up after --timeout seconds without a byte: exit 1, CLI_TIMEOUT.
      const code = await new Promise<number | null>((r) => {
        if (dl.child.exitCode !== null) r(dl.child.exitCode);
        else dl.child.once('exit', (c) => r(c));
      });
      expect(code).toBe(1);
      expect(stderrOf(dl.child)).toMatch(/no data for \d+ s \(--timeout\).*0 seen \[CLI_TIMEOUT\]/);
      const progress = dl.events.filter((e) => e.event === 'progress');
      expect(progress.length).toBeGreaterThan(NO_LSD_SECONDS / 2);
      expect(progress.every((e) => e.downloaded === 0 && e.peers === 0)).toBe(true);
      expect(ltPeers(lt)).toEqual([]);
      lt.child.kill('SIGKILL');
    }, 120_000);

    it('hostile datagrams on the group are refused: the bttkit seeder keeps running and is still found', async () => {
      const seed = bttkit(a, ['seed', torrentFile, join(tmp.path, 'seed', 'payload.bin')]);
      await waitEvent(seed, (e) => e.seeding === true, 20_000, 'bttkit seeding');
      // From b to the group: garbage, oversize, too many hashes, bad hex, bad ports, missing fields.
      b.exec(process.execPath, ['-e', HOSTILE_SENDER, b.addr4]);
      await sleep(1000);
      expect(seed.child.exitCode).toBe(null);
      const save = join(tmp.path, 'lt-after-hostile');
      mkdirSync(save);
      // libtorrent after bttkit: bttkit hears libtorrent's announce and dials it.
      const lt = libtorrent(b, 'leech', save);
      await Promise.race([
        waitEvent(lt, (e) => e.event === 'done', 90_000, 'the libtorrent download'),
        exits(seed.child, 'the bttkit seeder'),
      ]);
      expect(Buffer.compare(readFileSync(join(save, 'payload.bin')), Buffer.from(PAYLOAD))).toBe(0);
      expect(seed.child.exitCode).toBe(null);
      seed.child.kill('SIGKILL');
    }, 120_000);

    it('bttkit LSD services on `::` refuse hostile datagrams and hear each other on both groups (IPv4 and IPv6)', async () => {
      const ih = '14'.repeat(20);
      const peer = (h: LabHost, port: number) => {
        const child = h.spawn(process.execPath, [LSD_SERVICE, '::', String(port), ih], { env: LAN_ON });
        children.push(child);
        return jsonLines(child);
      };
      const pa = peer(a, 6001);
      const ready = await waitEvent(pa, (e) => e.event === 'ready', 20_000, 'a ready');
      expect(ready.families).toEqual([4, 6]);
      // Hostile datagrams first: refused as NET_LSD_MALFORMED (one warning, the rest counted).
      b.exec(process.execPath, ['-e', HOSTILE_SENDER, b.addr4]);
      const refused = await waitEvent(pa, (e) => e.event === 'warning', 10_000, 'a refusing');
      expect(refused.code).toBe('NET_LSD_MALFORMED');
      const pb = peer(b, 6002);
      await waitEvent(pb, (e) => e.event === 'ready', 20_000, 'b ready');
      // a hears b's first announce on both groups, from b's addresses (IPv6: global or link-local).
      const v4 = await waitEvent(pa, (e) => e.event === 'peer' && e.host === b.addr4, 20_000, 'b over IPv4');
      expect(v4).toMatchObject({ infoHash: ih, port: 6002 });
      const v6 = await waitEvent(
        pa,
        (e) => e.event === 'peer' && typeof e.host === 'string' && e.host.includes(':'),
        20_000,
        'b over IPv6',
      );
      expect(v6).toMatchObject({ infoHash: ih, port: 6002 });
      console.log(`lsd-libtorrent: IPv6 announce from ${String(v6.host)}`);
      expect(String(v6.host)).toMatch(/^(2001:db8:14::20|fe80:.*)$/);
      // …and b hears a's repeats (at 2 and 6 s).
      await waitEvent(
        pb,
        (e) => e.event === 'peer' && e.host === a.addr4 && e.port === 6001,
        20_000,
        'a over IPv4',
      );
      expect(pa.events.filter((e) => e.event === 'warning' && e.code !== 'NET_LSD_MALFORMED')).toEqual([]);
      expect(pa.events.filter((e) => e.event === 'peer' && e.port !== 6002)).toEqual([]);
    }, 60_000);
  },
);

/**
 * After this long, a client has sent the last copy of its announce at start (libtorrent and
 * bttkit both repeat a torrent's first announce after 2 and 6 s).
 */
const RESEND_DONE_MS = 7500;

/** Seconds the --no-lsd control waits for a byte (the LSD runs above meet in about a second). */
const NO_LSD_SECONDS = 15;

/** Rejects when `child` exits (with what it printed on stderr): a side that must keep running. */
function exits(child: ChildProcess, what: string): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    const fail = () =>
      reject(new Error(`${what} exited (${child.exitCode ?? child.signalCode})\n${stderrOf(child)}`));
    if (child.exitCode !== null || child.signalCode !== null) fail();
    else child.once('exit', fail);
  });
  p.catch(() => {}); // handled where it is raced; its kill at the end of a test is no failure
  return p;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A node script sending hostile BT-SEARCH datagrams to 239.192.152.143:6771 from argv[1]. */
const HOSTILE_SENDER = `
const dgram = require('node:dgram');
const from = process.argv[1];
const s = dgram.createSocket('udp4');
const hash = (i) => i.toString(16).padStart(40, 'a');
const msg = (lines) => Buffer.from(lines.join('\\r\\n') + '\\r\\n\\r\\n');
const bad = [
  Buffer.from([0, 1, 2, 255, 254, 13, 10]),
  Buffer.alloc(1600, 65),
  msg(['BT-SEARCH * HTTP/1.1', 'Port: 6881', ...Array.from({ length: 26 }, (_, i) => 'Infohash: ' + hash(i + 1))]),
  msg(['BT-SEARCH * HTTP/1.1', 'Port: 6881', 'Infohash: ' + 'zz'.repeat(20)]),
  msg(['BT-SEARCH * HTTP/1.1', 'Port: 0', 'Infohash: ' + hash(1)]),
  msg(['BT-SEARCH * HTTP/1.1', 'Port: 99999', 'Infohash: ' + hash(1)]),
  msg(['BT-SEARCH * HTTP/1.1', 'Infohash: ' + hash(1)]),
  msg(['BT-SEARCH * HTTP/1.1', 'Port: 6881']),
  msg(['M-SEARCH * HTTP/1.1', 'Port: 6881', 'Infohash: ' + hash(1)]),
  Buffer.alloc(0),
];
s.bind(0, from, () => {
  s.setMulticastInterface(from);
  let i = 0;
  const next = () => {
    if (i >= bad.length * 5) return s.close();
    s.send(bad[i % bad.length], 6771, '239.192.152.143', () => { i++; next(); });
  };
  next();
});
`;
