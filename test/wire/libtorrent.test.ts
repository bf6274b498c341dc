import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../src/metainfo/bencode.js';
import { type InfoDictionary, parseInfoDictionary } from '../../src/metainfo/torrent.js';
import { toHex } from '../../src/util/bytes.js';
import { type Connection, type Listener, TcpTransport } from '../../src/util/transport.js';
import { bttSpeed, PeerWire, utMetadata, utPex } from '../../src/wire/index.js';
import { next, rnd } from './helpers.js';

const PY = '/usr/bin/python3';
const haveLibtorrent = existsSync(PY);

interface LtEvent {
  event: string;
  [k: string]: unknown;
}

/** A libtorrent session in a child process, driven by JSON lines. */
class LtPeer {
  events: LtEvent[] = [];
  #waiters: { pred: (e: LtEvent) => boolean; resolve: (e: LtEvent) => void }[] = [];
  stderr = '';

  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    let buf = '';
    proc.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.trim()) continue;
        const e = JSON.parse(line) as LtEvent;
        this.events.push(e);
        for (const w of this.#waiters.slice()) {
          if (w.pred(e)) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve(e);
          }
        }
      }
    });
    proc.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
  }

  send(cmd: Record<string, unknown>): void {
    this.proc.stdin.write(`${JSON.stringify(cmd)}\n`);
  }

  wait(pred: (e: LtEvent) => boolean, ms: number, what: string): Promise<LtEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      this.#waiters.push(w);
      setTimeout(() => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) {
          this.#waiters.splice(i, 1);
          reject(new Error(`libtorrent: timeout waiting for ${what}; stderr: ${this.stderr.slice(-500)}`));
        }
      }, ms);
    });
  }
}

/**
 * A minimal bttkit peer that listens on 127.0.0.1: it answers the handshake for `info`'s torrent,
 * says it has no pieces, and serves the info dictionary through ut_metadata.
 */
async function listenHarness(
  infoBytes: Uint8Array | undefined,
  infoHash: Uint8Array,
): Promise<{ listener: Listener; wires: PeerWire[] }> {
  const info: InfoDictionary | undefined = infoBytes ? parseInfoDictionary(infoBytes) : undefined;
  const wires: PeerWire[] = [];
  const listener = await new TcpTransport().listen({ host: '127.0.0.1', port: 0 }, (conn: Connection) => {
    const wire = new PeerWire(conn, { peerId: rnd(20), infoHash, ...(info ? { torrent: info } : {}) });
    wire.use(utMetadata({ infoHash, ...(infoBytes ? { info: infoBytes } : {}), autoFetch: false }));
    wire.use(utPex());
    // A libtorrent peer must accept a btt_speed handshake it does not know.
    wire.use(
      bttSpeed({
        handshake: {
          v: 1,
          addr: 'TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4',
          ledger: 'bttkit:test',
          token: 'BTT',
          reserve: 1n,
        },
      }),
    );
    wire.on('handshake', (hs) => {
      wire.handshake();
      if (hs.fast) wire.haveNone();
    });
    wires.push(wire);
  });
  return { listener, wires };
}

describe.skipIf(!haveLibtorrent)('interop with libtorrent 2.0 (python3-libtorrent)', () => {
  let lt: LtPeer;
  let ltPort = 0;
  let dir = '';
  const closers: (() => unknown)[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bttkit-lt-'));
    const proc = spawn(PY, [new URL('./libtorrent_peer.py', import.meta.url).pathname], {
      env: { ...process.env, LT_MAX_SECONDS: '120' },
    });
    lt = new LtPeer(proc);
    const e = await lt.wait((x) => x.event === 'listening', 15_000, 'listening');
    ltPort = e.port as number;
    expect(ltPort).toBeGreaterThan(0);
  });

  afterAll(async () => {
    for (const c of closers) await c();
    if (lt && lt.proc.exitCode === null) {
      lt.send({ cmd: 'quit' });
      await new Promise((r) => setTimeout(r, 200));
      lt.proc.kill('SIGKILL');
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('bttkit fetches the info dictionary (BEP 9) from a libtorrent seeder, given only info-hash and address', async () => {
    const path = join(dir, 'seeded.bin');
    writeFileSync(path, randomBytes(14 * 1024 * 1024 + 17));
    lt.send({ cmd: 'seed', path, piece_length: 16384 });
    const seeding = await lt.wait((x) => x.event === 'seeding', 15_000, 'seeding');
    const infoHashHex = seeding.infohash as string;
    expect((seeding.metadata_size as number) > 16384).toBe(true); // more than one metadata piece

    const conn = await new TcpTransport().connect({ host: '127.0.0.1', port: ltPort });
    const infoHash = Uint8Array.from(Buffer.from(infoHashHex, 'hex'));
    const wire = new PeerWire(conn, { peerId: rnd(20), infoHash });
    closers.push(() => wire.close());
    const meta = wire.use(utMetadata({ infoHash }));
    const got = new Promise<InfoDictionary>((resolve, reject) => {
      meta.on('metadata', resolve);
      meta.on('failed', reject);
      wire.on('close', (err) => reject(err ?? new Error('closed')));
      setTimeout(() => reject(new Error('timeout waiting for metadata')), 20_000);
    });
    wire.handshake();
    const info = await got;
    expect(info.infoHash).toBe(infoHashHex);
    expect(info.name).toBe('seeded.bin');
    expect(info.length).toBe(14 * 1024 * 1024 + 17);
    expect(info.infoBytes.length).toBe(seeding.metadata_size);
    // The wire learns the geometry; the seeder's piece statement is checked against it.
    wire.setTorrent(info);
    expect(wire.closed).toBe(false);
    expect(wire.peerHas(info.pieceCount - 1)).toBe(true);
  });

  it('libtorrent fetches the info dictionary from bttkit, given a magnet with x.pe pointing at us', async () => {
    const pieces = rnd(20 * 40);
    const infoBytes = encode({
      length: 40 * 16384 - 5,
      name: 'served-by-bttkit.bin',
      'piece length': 16384,
      pieces,
    });
    const info = parseInfoDictionary(infoBytes);
    const { listener, wires } = await listenHarness(infoBytes, info.infoHashBytes);
    closers.push(
      () => listener.close(),
      () => {
        for (const w of wires) w.close();
      },
    );
    const magnet = `magnet:?xt=urn:btih:${info.infoHash}&x.pe=127.0.0.1:${listener.address.port}`;
    lt.send({ cmd: 'magnet', uri: magnet, save: dir });
    const got = await lt.wait(
      (x) => x.event === 'metadata' && x.infohash === info.infoHash,
      20_000,
      'metadata',
    );
    expect(got.name).toBe('served-by-bttkit.bin');
    expect(got.size).toBe(infoBytes.length);
    expect(wires.length).toBeGreaterThanOrEqual(1);
    const w = wires[0];
    expect(w?.peerExtendedHandshake?.extensions.has('ut_metadata')).toBe(true);
    expect(w?.closeError?.code ?? 'open').not.toMatch(/^WIRE_(BAD|MESSAGE|OUT|TOO|UNEXPECTED)/);
  });

  it('a PEX message sent by bttkit makes libtorrent connect to the advertised peer', async () => {
    const infoHash = rnd(20);
    lt.send({ cmd: 'magnet', uri: `magnet:?xt=urn:btih:${toHex(infoHash)}`, save: dir });
    await lt.wait((x) => x.event === 'added' && x.infohash === toHex(infoHash), 10_000, 'magnet added');
    // The advertised peer: our harness, which records the handshakes it gets.
    const { listener, wires } = await listenHarness(undefined, infoHash);
    closers.push(
      () => listener.close(),
      () => {
        for (const w of wires) w.close();
      },
    );

    const conn = await new TcpTransport().connect({ host: '127.0.0.1', port: ltPort });
    const wire = new PeerWire(conn, { peerId: rnd(20), infoHash });
    closers.push(() => wire.close());
    const pex = wire.use(utPex());
    const ext = next(wire, 'extended-handshake', 10_000);
    wire.handshake();
    const [hs] = await ext;
    expect(hs.extensions.has('ut_pex')).toBe(true);
    expect(
      pex.send({ added: [{ host: '127.0.0.1', port: listener.address.port, flags: 0x10 }], dropped: [] }),
    ).toBe(true);
    // Once a minute: a second message right away is refused.
    expect(pex.send({ added: [], dropped: [] })).toBe(false);

    const deadline = Date.now() + 25_000;
    while (Date.now() < deadline && !wires.some((w) => w.peerHandshake))
      await new Promise((r) => setTimeout(r, 50));
    const incoming = wires.find((w) => w.peerHandshake);
    expect(incoming, 'libtorrent connected to the PEX-advertised peer').toBeDefined();
    expect(toHex(incoming?.peerHandshake?.infoHash ?? new Uint8Array())).toBe(toHex(infoHash));
  });
});
