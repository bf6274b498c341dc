/**
 * Hole punching (BEP 55) in the network lab: a bttkit seeder behind router A (WAN 203.0.113.1,
 * LAN 10.77.1.0/24) and a bttkit leecher behind router B (WAN 203.0.113.2, LAN 10.77.2.0/24),
 * no port mapping; a relay on the "internet" (203.0.113.10) that both dial — a leecher throttled
 * to a trickle, so that it cannot serve the data itself. The leecher hears of the seeder through
 * the relay's PEX, cannot dial it (router A lets no new flow in), asks the relay for a rendezvous,
 * and both NATed peers dial each other over uTP at once. The payload is compared byte for byte,
 * and the bytes are counted by sender: the bulk must come from router A's WAN address. Without
 * hole punching (`--no-holepunch`) no connection to the seeder is ever made. With libtorrent 2.0
 * (lt_peer.py): a libtorrent relay introduces two bttkit peers, and a libtorrent seeder behind
 * router A is reached through a bttkit relay (both fail when the bttkit peers run with
 * `--no-holepunch`, checked by hand).
 *
 * The routers also drop new inbound flows addressed to themselves (an `input` chain), as home
 * routers do (OpenWrt's WAN zone rejects input): a router that lets the kernel answer with ICMP
 * keeps a conntrack entry of the refused datagram, and its masquerade then gives the punching
 * flow another source port — the hole would never line up.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/metainfo/index.js';
import { type JsonLines, jsonLines, stderrOf, tail, waitEvent } from '../helpers/json-lines.js';
import { type LabHost, type LabRouter, NetLab, netlabUnavailable } from '../helpers/netlab.js';

const why = netlabUnavailable();
if (why) console.warn(`nat-holepunch: skipped — ${why}`);

const SIZE = 4 * 1024 * 1024;
const FIXTURE = 'test/fixtures/hp_peer.mjs';

describe.skipIf(why !== undefined)('hole punching between two NATs (BEP 55, network lab)', () => {
  let lab: NetLab;
  let ra: LabRouter;
  let rb: LabRouter;
  let seedHost: LabHost;
  let leechHost: LabHost;
  let relayHost: LabHost;
  let earlyHost: LabHost;
  let dir: string;
  let torrentPath: string;
  let payload: Uint8Array;

  beforeAll(async () => {
    lab = await NetLab.create();
    const inet = await lab.segment('inet');
    const lan1 = await lab.segment('lan1');
    const lan2 = await lab.segment('lan2');
    ra = await lab.router('ra', {
      wan: { segment: inet, v4: '203.0.113.1/24' },
      lan: { segment: lan1, v4: '10.77.1.1/24' },
    });
    rb = await lab.router('rb', {
      wan: { segment: inet, v4: '203.0.113.2/24' },
      lan: { segment: lan2, v4: '10.77.2.1/24' },
    });
    for (const r of [ra, rb]) {
      r.exec('nft', [
        'add',
        'chain',
        'inet',
        'filter',
        'input',
        '{ type filter hook input priority 0; policy accept; }',
      ]);
      r.exec('nft', [
        'add',
        'rule',
        'inet',
        'filter',
        'input',
        'iifname',
        'wan',
        'ct',
        'state',
        'new',
        'drop',
      ]);
    }
    seedHost = await lab.host('seed', [{ segment: lan1, v4: '10.77.1.10/24', gw4: '10.77.1.1' }]);
    leechHost = await lab.host('leech', [{ segment: lan2, v4: '10.77.2.10/24', gw4: '10.77.2.1' }]);
    relayHost = await lab.host('relay', [{ segment: inet, v4: '203.0.113.10/24' }]);
    earlyHost = await lab.host('early', [{ segment: inet, v4: '203.0.113.11/24' }]);
    dir = lab.tempDir('holepunch');
    payload = new Uint8Array(SIZE);
    payload.set(randomBytes(SIZE));
    mkdirSync(join(dir, 'seed'));
    writeFileSync(join(dir, 'seed', 'payload.bin'), payload);
    const { torrent } = await createTorrent(join(dir, 'seed', 'payload.bin'), { pieceLength: 65536 });
    torrentPath = join(dir, 'payload.torrent');
    writeFileSync(torrentPath, torrent);
  }, 60_000);

  afterAll(async () => {
    await lab?.destroy();
  });

  /** A bttkit peer (test/fixtures/hp_peer.mjs) in `host`, keeping its data in `sub`. */
  function bttkit(host: LabHost, sub: string, args: string[]): JsonLines {
    mkdirSync(join(dir, sub), { recursive: true });
    const child = host.spawn(process.execPath, [FIXTURE, torrentPath, join(dir, sub), ...args]);
    let err = '';
    child.stderr?.on('data', (b: Buffer) => {
      if (err.length < 20_000) err += b.toString();
    });
    Object.assign(child, { stderrText: () => err });
    return jsonLines(child);
  }

  /** Bytes the leecher got from the seeder's router (`done`'s count), and the peers it ever had. */
  function fromSeeder(r: JsonLines): { bytes: number; sawSeeder: boolean } {
    const done = r.events.find((e) => e.event === 'done') as
      | { bytesByHost?: Record<string, number> }
      | undefined;
    const sawSeeder = r.events.some(
      (e) =>
        (e.event === 'peer' && e.host === ra.wan4) ||
        (e.event === 'progress' && (e.peers as { host: string }[]).some((p) => p.host === ra.wan4)),
    );
    return { bytes: done?.bytesByHost?.[ra.wan4] ?? 0, sawSeeder };
  }

  /**
   * Starts the early peer, the seeder and the leecher around a relay listening on `relayPort`.
   * The early peer (on the internet, no hole punching, a trickle) connects to the relay first, so
   * that the relay's first PEX message to the seeder names it and is sent at once: the next one,
   * which would name the leecher, is a minute away. Else the seeder would hear of the leecher at
   * the same time as the leecher of the seeder, both would dial at once — a simultaneous open
   * that punches the hole by chance, without BEP 55 (seen in this lab) — and the test would prove
   * nothing. Here only the leecher knows of the other side.
   */
  async function punch(relayPort: number, ports: [number, number, number], extra: string[] = []) {
    const relayAddr = `${relayHost.addr4}:${relayPort}`;
    const connectedTo = (host: string) => (e: Record<string, unknown>) =>
      e.event === 'progress' && (e.peers as { host: string }[]).some((p) => p.host === host);
    const early = bttkit(earlyHost, `early-${ports[2]}`, [
      ...['--port', String(ports[2]), '--peer', relayAddr, '--down-limit', '2048', '--no-holepunch'],
    ]);
    await waitEvent(early, connectedTo(relayHost.addr4), 30_000, 'early peer connected to the relay');
    const seed = bttkit(seedHost, 'seed', ['--port', String(ports[0]), '--peer', relayAddr, ...extra]);
    await waitEvent(seed, connectedTo(relayHost.addr4), 30_000, 'seeder connected to the relay');
    // The relay's first PEX message (naming the early peer) reached the seeder: it dialled it.
    await waitEvent(seed, connectedTo(earlyHost.addr4), 30_000, 'seeder heard of the early peer');
    const sub = `leech-${ports[1]}`;
    const leech = bttkit(leechHost, sub, [
      ...['--port', String(ports[1]), '--peer', relayAddr, '--connect-timeout', '3000'],
      ...extra,
    ]);
    return { early, seed, leech, out: join(dir, sub, 'payload.bin') };
  }

  it('two NATed bttkit peers connect by hole punching through a bttkit relay', async () => {
    const relay = bttkit(relayHost, 'relay1', ['--port', '7000', '--down-limit', '2048']);
    await waitEvent(relay, (e) => e.event === 'listening', 20_000, 'relay listening');
    const { early, seed, leech, out } = await punch(7000, [6881, 6882, 6883]);
    // Well before the relay's next PEX message to the seeder (a minute after its first), which
    // would let the seeder dial the leecher too — a simultaneous open without BEP 55.
    await waitEvent(leech, (e) => e.event === 'done', 45_000, `leecher done\n${tail(relay)}`).finally(() => {
      if (process.env.HP_DEBUG) for (const r of [leech, seed, relay]) console.log(stderrOf(r.child));
    });
    expect(Buffer.compare(Buffer.from(readFileSync(out)), Buffer.from(payload))).toBe(0);
    const { bytes, sawSeeder } = fromSeeder(leech);
    expect(sawSeeder).toBe(true);
    // The relay downloads at 2 KiB/s: the bulk came over the punched connection.
    expect(bytes).toBeGreaterThan(0.9 * SIZE);
    const direct = leech.events.find((e) => e.event === 'peer' && e.host === ra.wan4);
    expect(direct?.transport).toBe('utp');
    for (const r of [relay, early, seed, leech]) r.child.kill();
  }, 150_000);

  it('without hole punching the NATed seeder is never reached', async () => {
    const relay = bttkit(relayHost, 'relay2', ['--port', '7001', '--down-limit', '2048', '--no-holepunch']);
    await waitEvent(relay, (e) => e.event === 'listening', 20_000, 'relay listening');
    const { early, seed, leech } = await punch(7001, [6891, 6892, 6893], ['--no-holepunch']);
    // Long enough for the PEX message, a failed dial (3 s) and a punch, had there been one.
    await new Promise((r) => setTimeout(r, 20_000));
    const { bytes, sawSeeder } = fromSeeder(leech);
    if (process.env.HP_DEBUG)
      console.log(
        JSON.stringify(
          leech.events
            .filter((e) => e.event !== 'progress')
            .concat(leech.events.filter((e) => e.event === 'progress').slice(-2)),
        ),
        JSON.stringify(seed.events.filter((e) => e.event !== 'progress')),
        ra.exec('cat', ['/proc/net/nf_conntrack']).slice(0, 3000),
      );
    expect(sawSeeder).toBe(false);
    expect(bytes).toBe(0);
    expect(leech.events.some((e) => e.event === 'done')).toBe(false);
    for (const r of [relay, early, seed, leech]) r.child.kill();
  }, 120_000);

  it('a libtorrent 2.0 relay introduces them too', async () => {
    const lt = jsonLines(
      relayHost.spawn('/usr/bin/python3', [
        'test/fixtures/lt_peer.py',
        'leech',
        torrentPath,
        join(tmpdir(), `lt-relay-${process.pid}`),
        '--listen',
        relayHost.addr4,
        '--port',
        '7002',
        '--rate',
        '2048',
        '--max-seconds',
        '140',
      ]),
    );
    await waitEvent(lt, (e) => e.event === 'listening', 20_000, 'libtorrent relay listening');
    const { early, seed, leech, out } = await punch(7002, [6901, 6902, 6903]);
    await waitEvent(leech, (e) => e.event === 'done', 45_000, `leecher done\n${tail(lt)}`).finally(() => {
      if (process.env.HP_DEBUG) for (const r of [leech, seed]) console.log(stderrOf(r.child));
    });
    expect(Buffer.compare(Buffer.from(readFileSync(out)), Buffer.from(payload))).toBe(0);
    expect(fromSeeder(leech).bytes).toBeGreaterThan(0.9 * SIZE);
    for (const r of [lt, early, seed, leech]) r.child.kill();
  }, 160_000);
  it('a libtorrent 2.0 seeder behind NAT is reached by hole punching through a bttkit relay', async () => {
    const relayAddr = `${relayHost.addr4}:7003`;
    const relay = bttkit(relayHost, 'relay4', ['--port', '7003', '--down-limit', '2048']);
    await waitEvent(relay, (e) => e.event === 'listening', 20_000, 'relay listening');
    const early = bttkit(earlyHost, 'early-6923', [
      ...['--port', '6923', '--peer', relayAddr, '--down-limit', '2048', '--no-holepunch'],
    ]);
    await waitEvent(
      early,
      (e) =>
        e.event === 'progress' && (e.peers as { host: string }[]).some((p) => p.host === relayHost.addr4),
      30_000,
      'early peer connected to the relay',
    );
    const lt = jsonLines(
      seedHost.spawn('/usr/bin/python3', [
        ...['test/fixtures/lt_peer.py', 'seed', torrentPath, join(dir, 'seed')],
        ...['--listen', '0.0.0.0', '--port', '6921', '--peer', relayAddr, '--max-seconds', '140'],
      ]),
    );
    await waitEvent(
      lt,
      (e) => e.event === 'peer' && e.ip === relayHost.addr4,
      30_000,
      'libtorrent seeder at the relay',
    );
    // The relay's first PEX message (naming the early peer) reached it: the next is a minute away.
    await waitEvent(
      lt,
      (e) => e.event === 'peer' && e.ip === earlyHost.addr4,
      30_000,
      'libtorrent heard of the early peer',
    );
    const leech = bttkit(leechHost, 'leech-6922', [
      ...['--port', '6922', '--peer', relayAddr, '--connect-timeout', '3000'],
    ]);
    await waitEvent(leech, (e) => e.event === 'done', 45_000, `leecher done\n${tail(lt)}`).finally(() => {
      if (process.env.HP_DEBUG) for (const r of [leech, relay]) console.log(stderrOf(r.child));
    });
    expect(
      Buffer.compare(Buffer.from(readFileSync(join(dir, 'leech-6922', 'payload.bin'))), Buffer.from(payload)),
    ).toBe(0);
    expect(fromSeeder(leech).bytes).toBeGreaterThan(0.9 * SIZE);
    for (const r of [lt, relay, early, leech]) r.child.kill();
  }, 160_000);
});
