/**
 * A real browser plays a video from `bttkit serve` while the torrent is still downloading
 * (issue 16's acceptance): Debian's Chromium, headless, driven by puppeteer-core (no browser
 * download); a VP8 WebM made by Debian's ffmpeg; a libtorrent seeder capped at 384 KiB/s, so the
 * ~3.8 MB file takes ~10 s to arrive while the `<video>` plays from its first seconds. The
 * `<video>` reaches readyState ≥ 3 and its currentTime advances while the torrent is incomplete
 * (its progress read from the server's JSON index); seeking to the middle plays from there.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/metainfo/index.js';
import { freePort, Procs, waitForExit, waitForLine, waitForPort } from '../helpers/procs.js';
import { ROOT, runOk, SYSTEM_PYTHON, tempDir } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

/** A libtorrent seeder whose upload is capped (bytes/s): argv torrent, dir, port, cap. */
const CAPPED_SEEDER = `
import sys, time, json, libtorrent as lt
torrent, save, port, cap = sys.argv[1:5]
pack = lt.default_settings()
pack.update({
  "listen_interfaces": "127.0.0.1:%s" % port,
  "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
  "enable_outgoing_utp": False, "enable_incoming_utp": False,
  "upload_rate_limit": int(cap), "alert_mask": 0,
})
ses = lt.session(pack)
# libtorrent exempts local peers from rate limits: put every address in the global class only.
f = lt.ip_filter()
f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
ses.set_peer_class_filter(f)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(torrent)
atp.save_path = save
atp.flags |= lt.torrent_flags.seed_mode
ses.add_torrent(atp)
print(json.dumps({"event": "seeding"}), flush=True)
end = time.time() + 120
while time.time() < end:
    time.sleep(0.2)
`;
const CAP = 384 * 1024;

const tmp = tempDir('bttkit-browser-');
const procs = new Procs();
let browser: Browser | undefined;
let pageServer: Server | undefined;
let torrentFile = '';
let seedDir = '';

beforeAll(async () => {
  seedDir = join(tmp.path, 'seed');
  mkdirSync(seedDir, { recursive: true });
  const video = join(seedDir, 'video.webm');
  // 30 s of a noisy test card at ~1 Mbit/s (noise keeps it from compressing to nothing): ~3.8 MB.
  runOk('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc=duration=30:size=320x240:rate=25',
    '-vf',
    'noise=alls=30:allf=t',
    '-c:v',
    'libvpx',
    '-b:v',
    '1M',
    '-g',
    '25',
    '-deadline',
    'realtime',
    '-cpu-used',
    '8',
    video,
  ]);
  const { torrent } = await createTorrent(video, { pieceLength: 65536 });
  torrentFile = join(tmp.path, 'video.torrent');
  writeFileSync(torrentFile, torrent);
});

afterAll(async () => {
  await browser?.close().catch(() => {});
  pageServer?.close();
  procs.killAll();
  tmp.cleanup();
});

interface VideoState {
  readyState: number;
  currentTime: number;
  duration: number;
  seeking: boolean;
}

/** The `<video>`'s state (evaluated in the page: the test's own types have no DOM). */
async function videoState(page: Page): Promise<VideoState> {
  return (await page.evaluate(
    '(() => { const v = document.getElementById("v"); return { readyState: v.readyState, currentTime: v.currentTime, duration: v.duration, seeking: v.seeking }; })()',
  )) as VideoState;
}

describe('a browser plays from bttkit serve while downloading', () => {
  it('Chromium plays, advances and seeks a WebM from a capped libtorrent seeder', async () => {
    const ltPort = await freePort();
    const lt = procs.start(SYSTEM_PYTHON, [
      '-c',
      CAPPED_SEEDER,
      torrentFile,
      seedDir,
      String(ltPort),
      String(CAP),
    ]);
    await waitForLine(lt, (l) => l.includes('seeding'), 20_000, 'libtorrent seeder');
    await waitForPort(ltPort, 10_000);

    const serve: ChildProcess = procs.start(process.execPath, [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/main.ts'),
      'serve',
      torrentFile,
      '-o',
      join(tmp.path, 'download'),
      '--peer',
      `127.0.0.1:${ltPort}`,
      '--no-dht',
    ]);
    const line = await waitForLine(
      serve,
      (l) => /^http:\/\/127\.0\.0\.1:\d+\/$/.test(l),
      30_000,
      'bttkit serve URL',
    );
    const base = line.trim();
    const progress = async (): Promise<number> => {
      const res = await fetch(`${base}?format=json`, { signal: AbortSignal.timeout(5000) });
      return ((await res.json()) as { progress: number }).progress;
    };

    pageServer = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(
        `<!doctype html><html><body><video id="v" muted autoplay src="${base}0"></video></body></html>`,
      );
    });
    await new Promise<void>((r) => pageServer?.listen(0, '127.0.0.1', r));
    const pagePort = (pageServer.address() as { port: number }).port;

    browser = await puppeteer.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
    });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${pagePort}/`);

    // Playing: enough data for the current position and beyond, and the clock runs.
    await waitFor(async () => (await videoState(page)).readyState >= 3, 30_000, 'readyState ≥ 3');
    const atStart = await progress();
    expect(atStart, 'the torrent was still downloading when playback started').toBeLessThan(1);
    const t0 = (await videoState(page)).currentTime;
    await waitFor(
      async () => (await videoState(page)).currentTime > t0 + 1,
      20_000,
      'currentTime to advance',
    );

    // Seek to the middle: it plays from there.
    const { duration } = await videoState(page);
    expect(duration).toBeGreaterThan(25);
    await page.evaluate(
      '(() => { const v = document.getElementById("v"); v.currentTime = v.duration / 2; })()',
    );
    await waitFor(
      async () => {
        const s = await videoState(page);
        return !s.seeking && s.readyState >= 3 && s.currentTime > duration / 2 + 1;
      },
      30_000,
      'playback from the middle',
    );
    const after = await videoState(page);
    expect(after.currentTime).toBeGreaterThan(duration / 2);
    expect(after.currentTime).toBeLessThan(duration);

    await browser.close();
    browser = undefined;
    serve.kill('SIGTERM');
    expect(await waitForExit(serve, 20_000, 'bttkit serve')).toBe(0);
    lt.kill('SIGKILL');
  });
});
