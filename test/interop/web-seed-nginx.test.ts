/**
 * Web seeds (BEP 19) against Debian's nginx on 127.0.0.1: a multi-file torrent downloaded from
 * nginx alone over HTTP (library and CLI) and HTTPS (a self-signed certificate the client is told
 * to trust), and a swarm where a bttkit seeder and a lying web seed (nginx serving a corrupted
 * copy) serve the same torrent — the liar is dropped and the download completes from the peer.
 * Every payload is compared byte for byte.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/metainfo/index.js';
import { Client, type Torrent } from '../../src/session/index.js';
import { type Nginx, startNginx } from '../helpers/nginx.js';
import { Procs } from '../helpers/procs.js';
import { CLI, pseudoRandomBytes, tempDir } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

const tmp = tempDir('bttkit-nginx-');
const procs = new Procs();
afterAll(() => {
  procs.killAll();
  tmp.cleanup();
});

/** The torrent's files, relative to its folder. */
const FILES: [string[], number][] = [
  [['Disc 1', '01 – Intro #1.flac'], 1_500_001],
  [['Disc 1', 'cover (100%).jpg'], 77_777],
  [['Disc 2', 'ünïcödé name.flac'], 2_600_003],
  [['notes.txt'], 1_234],
];
const NAME = 'An Album';

let www: string;
let liarWww: string;
let nginx: Nginx;
let torrentBytes: Uint8Array;

function same(out: string, label: string): void {
  for (const [segments] of FILES) {
    const a = readFileSync(join(out, NAME, ...segments));
    const b = readFileSync(join(www, NAME, ...segments));
    expect(a.equals(b), `${label}: ${segments.join('/')}`).toBe(true);
  }
}

function whenDone(t: Torrent, ms = 90_000): Promise<void> {
  return waitFor(new Promise<void>((r) => (t.done ? r() : t.once('done', () => r()))), ms, `${t.name} done`);
}

beforeAll(async () => {
  www = join(tmp.path, 'www');
  liarWww = join(tmp.path, 'liar');
  for (const [i, [segments, size]] of FILES.entries()) {
    mkdirSync(join(www, NAME, ...segments.slice(0, -1)), { recursive: true });
    writeFileSync(join(www, NAME, ...segments), pseudoRandomBytes(size, 40 + i));
  }
  // The liar: the same files, one byte in every 16 KiB flipped.
  cpSync(www, liarWww, { recursive: true });
  for (const [segments] of FILES) {
    const p = join(liarWww, NAME, ...segments);
    const b = readFileSync(p);
    for (let i = 0; i < b.length; i += 16384) b[i] = (b[i] ?? 0) ^ 0x5a;
    writeFileSync(p, b);
  }
  ({ torrent: torrentBytes } = await createTorrent(join(www, NAME), { pieceLength: 65536 }));
  nginx = await startNginx(procs, join(tmp.path, 'nginx'), [{ root: www, tls: true }, { root: liarWww }]);
});

describe('nginx as a web seed', () => {
  it('an nginx-only download over HTTP completes (ranges, pieces across files, encoded names)', async () => {
    const base = nginx.sites[0]?.http as string;
    const client = new Client({ utp: false });
    try {
      const out = join(tmp.path, 'http');
      const t = client.add(torrentBytes, { path: out, webSeeds: [`${base}/`] });
      await whenDone(t);
      await t.store?.flush();
      same(out, 'http');
      expect(t.webSeeds[0]?.state).toBe('active');
      expect(t.stats().peers).toBe(0);
      const log = nginx.accessLog();
      // Range requests answered 206, on the percent-encoded paths.
      expect(log.some((l) => l.includes('/An%20Album/Disc%202/') && / 206 /.test(l))).toBe(true);
      expect(log.every((l) => / bytes=\d+-\d+ 206 /.test(l))).toBe(true);
    } finally {
      await client.destroy();
    }
  });

  it('over HTTPS with the self-signed certificate trusted (webSeedCa); refused without it', async () => {
    const base = nginx.sites[0]?.https as string;
    const untrusting = new Client({ utp: false });
    const client = new Client({ utp: false, webSeedCa: nginx.certPem });
    try {
      const u = untrusting.add(torrentBytes, { webSeeds: [`${base}/`] });
      await waitFor(() => u.webSeeds[0]?.state === 'backoff', 20_000, 'a TLS failure');
      expect(u.webSeeds[0]?.error?.code).toBe('SESSION_WEB_SEED_FAILED');
      expect(u.stats().verified).toBe(0);
      const out = join(tmp.path, 'https');
      const t = client.add(torrentBytes, { path: out, webSeeds: [`${base}/`] });
      await whenDone(t);
      await t.store?.flush();
      same(out, 'https');
    } finally {
      await Promise.all([client.destroy(), untrusting.destroy()]);
    }
  });

  it('bttkit download --web-seed (CLI) from nginx only', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build`);
    const file = join(tmp.path, 'album.torrent');
    writeFileSync(file, torrentBytes);
    const out = join(tmp.path, 'cli');
    const child = spawn(
      process.execPath,
      [CLI, 'download', file, '-o', out, '--no-dht', '--json', '--web-seed', `${nginx.sites[0]?.http}/`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const code = await waitFor(
      new Promise<number | null>((r) => child.once('exit', r)),
      90_000,
      'the CLI download to exit',
    ).finally(() => child.kill('SIGKILL'));
    expect(code, stderr).toBe(0);
    // Everything came from the web seed: no peer at all.
    expect(stdout).toMatch(/"complete":true,"bytes":4179015,"downloaded":4179015,.*"peers":0/);
    same(out, 'cli');
  });

  it('a swarm: a bttkit seeder and a lying web seed — the liar is dropped, the peer completes it', async () => {
    const seeder = new Client({ utp: false, settings: { uploadRateLimit: 2 * 1024 * 1024 } });
    // No request timeout to rescue a lost answer: a request the seeder leaves unanswered stalls
    // the download past whenDone's bound (see test/wire/late-answers.test.ts).
    const leecher = new Client({ utp: false, settings: { requestTimeoutMs: 3_600_000 } });
    try {
      const addr = await seeder.listen(0, '127.0.0.1');
      const st = seeder.add(torrentBytes, { path: www });
      await waitFor(new Promise<void>((r) => st.once('ready', () => r())), 30_000, 'the seeder ready');
      expect(st.done).toBe(true);
      const liar = `${nginx.sites[1]?.http}/`;
      const out = join(tmp.path, 'swarm');
      const t = leecher.add(torrentBytes, { path: out, peers: [addr], webSeeds: [liar] });
      const warnings: string[] = [];
      t.on('warning', (w) => warnings.push(w.code));
      const sources = new Set<string>();
      t.on('verified', (_i, s) => {
        for (const k of s.keys()) sources.add(k);
      });
      await whenDone(t, 60_000);
      await t.store?.flush();
      same(out, 'swarm');
      expect(t.webSeeds[0]?.state).toBe('dropped');
      expect(warnings).toContain('SESSION_WEB_SEED_DROPPED');
      expect(warnings).toContain('SESSION_HASH_FAILED');
      // Every verified piece came from the peer: the liar's pieces all failed.
      expect([...sources].some((s) => s.startsWith('web:'))).toBe(false);
      expect(t.stats().bannedPeers).toBe(0);
      // The liar was asked (and answered 206) before it was dropped.
      const liarPort = new URL(liar).port;
      expect(nginx.accessLog().some((l) => l.startsWith(`${liarPort} `) && / 206 /.test(l))).toBe(true);
    } finally {
      await Promise.all([seeder.destroy(), leecher.destroy()]);
    }
  });
});
