/**
 * Port mapping in the network lab: a bttkit seeder (the CLI) in a home LAN behind a NAT router
 * running Debian's miniupnpd; an opentracker and a libtorrent leecher on the "internet"
 * (203.0.113.0/24). With port mapping on, the router forwards the seeder's port (by NAT-PMP, then
 * by UPnP IGD — miniupnpd runs with one of them at a time) and the outside leecher downloads
 * everything; with it off, the NAT drops the leecher's connections and it gets nothing. The
 * seeder announces first, so it never learns the leecher's address and cannot dial out to it:
 * only an inbound connection through the mapping can carry the data.
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type JsonLines, jsonLines, tail, waitEvent } from '../helpers/json-lines.js';
import {
  type LabHost,
  type LabRouter,
  type Miniupnpd,
  NetLab,
  netlabUnavailable,
} from '../helpers/netlab.js';
import { CLI, pseudoRandomBytes, ROOT, SYSTEM_PYTHON } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

const why = netlabUnavailable();
if (why) console.warn(`nat-portmap: skipped — ${why}`);

const TRACKER_PORT = 6969;
const SEED_PORT = 6881;

/** The CLI's environment in the lab: port mapping allowed (the suite turns it off elsewhere). */
function labEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.BTTKIT_LOCAL_NETWORK;
  return env;
}

function collectStderr(child: ChildProcess): () => string {
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    if (err.length < 200_000) err += b.toString();
  });
  return () => err;
}

describe.skipIf(why !== undefined)('port mapping behind a NAT (miniupnpd, opentracker, libtorrent)', () => {
  let lab: NetLab;
  let router: LabRouter;
  let home: LabHost;
  let out: LabHost;
  let work: string;
  let trackerUrl: string;
  const payloads = new Map<string, { dir: string; file: string; torrent: string; bytes: Uint8Array }>();

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'bttkit-portmap-'));
    lab = await NetLab.create();
    const inet = await lab.segment('inet');
    const lan = await lab.segment('lan');
    router = await lab.router('gw', {
      wan: { segment: inet, v4: '203.0.113.1/24' },
      lan: { segment: lan, v4: '10.77.1.1/24' },
    });
    home = await lab.host('home', [{ segment: lan, v4: '10.77.1.10/24', gw4: '10.77.1.1' }]);
    out = await lab.host('out', [{ segment: inet, v4: '203.0.113.10/24' }]);
    trackerUrl = `http://${out.addr4}:${TRACKER_PORT}/announce`;
    // One torrent per case (its own swarm), all whitelisted in the one tracker.
    const hashes: string[] = [];
    for (const [i, name] of ['natpmp', 'upnp', 'off'].entries()) {
      const dir = join(work, `seed-${name}`);
      mkdirSync(dir);
      const bytes = pseudoRandomBytes(3 * 1024 * 1024 + 12345, 40 + i);
      writeFileSync(join(dir, `${name}.bin`), bytes);
      const torrent = join(work, `${name}.torrent`);
      const r = spawnSync(
        process.execPath,
        [CLI, 'create', join(dir, `${name}.bin`), '-o', torrent, '--tracker', trackerUrl, '--json'],
        { encoding: 'utf8', cwd: ROOT },
      );
      expect(r.status, r.stderr).toBe(0);
      hashes.push(String((JSON.parse(r.stdout) as { infoHash: string }).infoHash));
      payloads.set(name, { dir, file: `${name}.bin`, torrent, bytes });
    }
    const root = join(work, 'tracker');
    mkdirSync(root);
    writeFileSync(join(root, 'whitelist'), hashes.map((h) => `${h}\n`).join(''));
    const tracker = out.spawn('opentracker', [
      '-i',
      out.addr4,
      '-p',
      String(TRACKER_PORT),
      '-P',
      String(TRACKER_PORT),
      '-d',
      root,
      '-w',
      '/whitelist',
    ]);
    await waitFor(
      () => {
        if (tracker.exitCode !== null) throw new Error('opentracker exited');
        return /:6969\b/.test(out.exec('ss', ['-lnt']));
      },
      10_000,
      'opentracker listening',
    );
  });

  /** Every CLI and leecher of a case: killed after it, whatever happened (the port is fixed). */
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    }
  });

  afterAll(async () => {
    await lab?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Starts the seeder (CLI) in the home LAN; resolves once it seeds. */
  async function startSeeder(
    name: string,
    extra: string[],
  ): Promise<{ seeder: JsonLines; stderr: () => string }> {
    const p = payloads.get(name);
    if (!p) throw new Error(name);
    const child = home.spawn(
      process.execPath,
      [CLI, 'seed', p.torrent, p.dir, '--port', String(SEED_PORT), '--no-dht', '--json', ...extra],
      { cwd: ROOT, env: labEnv() },
    );
    children.push(child);
    const stderr = collectStderr(child);
    const seeder = jsonLines(child);
    await waitEvent(seeder, (e) => e.seeding === true, 20_000, `${name} seeder seeding`).catch((e) => {
      throw new Error(`${(e as Error).message}\n${stderr()}`);
    });
    return { seeder, stderr };
  }

  function startLeecher(name: string, maxSeconds: number): { leecher: JsonLines; save: string } {
    const p = payloads.get(name);
    if (!p) throw new Error(name);
    const save = join(work, `leech-${name}`);
    mkdirSync(save);
    const child = out.spawn(
      SYSTEM_PYTHON,
      [
        join(ROOT, 'test/fixtures/lt_peer.py'),
        'leech',
        p.torrent,
        save,
        '--listen',
        out.addr4,
        '--tracker',
        trackerUrl,
        '--max-seconds',
        String(maxSeconds),
      ],
      { cwd: ROOT },
    );
    children.push(child);
    return { leecher: jsonLines(child), save };
  }

  async function stopSeeder(seeder: JsonLines): Promise<void> {
    const exited = new Promise((r) => seeder.child.once('exit', r));
    seeder.child.kill('SIGTERM');
    await waitFor(exited, 20_000, 'seeder exit');
  }

  const dnatRule = (rules: string, proto: 'tcp' | 'udp') =>
    new RegExp(
      `${proto === 'tcp' ? '0x6' : '0x11'} th dport ${SEED_PORT} dnat ip to 10\\.77\\.1\\.10:${SEED_PORT}`,
    ).test(rules);

  async function mappedCase(name: 'natpmp' | 'upnp', upnpd: Miniupnpd, extra: string[]) {
    const { seeder, stderr } = await startSeeder(name, extra);
    const line = await waitEvent(
      seeder,
      (e) => e.portMapping !== undefined,
      30_000,
      'portMapping line',
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${stderr()}\n${upnpd.log().slice(-3000)}`);
    });
    const pm = line.portMapping as Record<string, unknown>;
    expect(pm.method).toBe(name);
    expect(pm.externalPort).toBe(SEED_PORT);
    expect(pm.protocols).toEqual(['TCP', 'UDP']);
    const rules = router.mappings();
    expect(dnatRule(rules, 'tcp'), rules).toBe(true);
    expect(dnatRule(rules, 'udp'), rules).toBe(true);
    const mappedAt = Date.now();
    // The seeder announces (after the mapping settled) before the leecher exists.
    await new Promise((r) => setTimeout(r, 3000));
    const { leecher, save } = startLeecher(name, 90);
    await waitEvent(leecher, (e) => e.event === 'done', 90_000, `${name} leecher done`).catch((e) => {
      throw new Error(`${(e as Error).message}\n${tail(leecher)}\n${stderr()}`);
    });
    const p = payloads.get(name);
    if (!p) throw new Error(name);
    expect(Buffer.compare(readFileSync(join(save, p.file)), Buffer.from(p.bytes))).toBe(0);
    return { seeder, stderr, mappedAt };
  }

  it('NAT-PMP: an outside libtorrent leecher downloads from the NATed seeder; the mapping is renewed and removed', async () => {
    const upnpd = await router.startMiniupnpd({ upnp: false });
    try {
      const lease = 12;
      const { seeder, mappedAt } = await mappedCase('natpmp', upnpd, ['--port-mapping-lease', String(lease)]);
      // Renewal: still mapped after the first lease ran out, and miniupnpd saw a second request.
      const left = mappedAt + (lease + 4) * 1000 - Date.now();
      if (left > 0) await new Promise((r) => setTimeout(r, left));
      const rules = router.mappings();
      expect(dnatRule(rules, 'tcp'), rules).toBe(true);
      const requests = upnpd
        .log()
        .match(
          new RegExp(
            `NAT-PMP port mapping request : ${SEED_PORT}->10\\.77\\.1\\.10:${SEED_PORT} tcp lifetime=${lease}s`,
            'g',
          ),
        );
      expect(requests?.length ?? 0).toBeGreaterThanOrEqual(2);
      await stopSeeder(seeder);
      const after = router.mappings();
      expect(dnatRule(after, 'tcp'), after).toBe(false);
      expect(dnatRule(after, 'udp'), after).toBe(false);
    } finally {
      await upnpd.stop();
    }
  });

  it('UPnP IGD: an outside libtorrent leecher downloads from the NATed seeder; the mappings go with it', async () => {
    const upnpd = await router.startMiniupnpd({ natpmp: false });
    try {
      const { seeder } = await mappedCase('upnp', upnpd, []);
      expect(upnpd.log()).toMatch(/AddAnyPortMapping/);
      await stopSeeder(seeder);
      const after = router.mappings();
      expect(dnatRule(after, 'tcp'), after).toBe(false);
      expect(dnatRule(after, 'udp'), after).toBe(false);
    } finally {
      await upnpd.stop();
    }
  });

  it('with --no-port-mapping the NAT drops the leecher: it gets nothing', async () => {
    const upnpd = await router.startMiniupnpd({});
    try {
      const { seeder, stderr } = await startSeeder('off', ['--no-port-mapping']);
      await new Promise((r) => setTimeout(r, 3000));
      const { leecher } = startLeecher('off', 20);
      const end = await waitEvent(
        leecher,
        (e) => e.event === 'timeout' || e.event === 'done',
        40_000,
        'leecher end',
      );
      expect(end.event, tail(leecher)).toBe('timeout');
      expect(end.progress).toBe(0);
      expect(seeder.events.some((e) => e.portMapping !== undefined)).toBe(false);
      expect(router.mappings()).not.toMatch(/dnat/);
      expect(stderr()).not.toMatch(/port mapping/);
      await stopSeeder(seeder);
    } finally {
      await upnpd.stop();
    }
  });
});
