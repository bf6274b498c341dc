/**
 * uTP at the wire level against the real libtorrent 2.0 (python3-libtorrent) with TCP disabled:
 * - bttkit dials libtorrent's seeder over uTP (`UtpTransport.connect`), handshakes with
 *   `PeerWire`, gets the bitfield, requests every block and compares them with the file;
 * - libtorrent dials bttkit's uTP listener (`connect_peer`) and bttkit sees its handshake.
 * Our SYN carries bttkit's large-datagram extension (to a loopback peer): libtorrent must skip it
 * and keep MTU-sized packets, which the first test proves by working at all.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent, type Metainfo } from '../../src/metainfo/index.js';
import { toHex } from '../../src/util/bytes.js';
import type { Connection } from '../../src/util/transport.js';
import { UtpTransport } from '../../src/utp/index.js';
import { PeerWire } from '../../src/wire/index.js';
import { Procs, waitForLine } from '../helpers/procs.js';
import { SYSTEM_PYTHON, tempDir } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';
import { pattern } from '../utp/sim.js';

/** libtorrent over uTP only: seeds the torrent; with a third argument, dials that port on 127.0.0.1. */
const LT_UTP = `
import json, os, sys, time
import libtorrent as lt
torrent, save_path = sys.argv[1:3]
parent = os.getppid()
ses = lt.session({
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_tcp": False, "enable_incoming_tcp": False,
    "enable_outgoing_utp": True, "enable_incoming_utp": True,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": lt.alert.category_t.peer_notification | lt.alert.category_t.error_notification | lt.alert.category_t.connect_notification,
})
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(torrent)
atp.save_path = save_path
atp.flags |= lt.torrent_flags.seed_mode
atp.flags &= ~lt.torrent_flags.auto_managed
atp.flags &= ~lt.torrent_flags.paused
h = ses.add_torrent(atp)
deadline = time.time() + 10
while ses.listen_port() == 0 and time.time() < deadline:
    time.sleep(0.02)
print(json.dumps({"event": "seeding", "port": ses.listen_port()}), flush=True)
if len(sys.argv) > 3:
    h.connect_peer(("127.0.0.1", int(sys.argv[3])))
    print(json.dumps({"event": "connecting", "port": int(sys.argv[3])}), flush=True)
end = time.time() + float(os.environ.get("LT_MAX_SECONDS", "120"))
while time.time() < end and os.getppid() == parent:
    time.sleep(0.2)
    for a in ses.pop_alerts():
        print(json.dumps({"event": "alert", "type": a.what(), "msg": a.message()}), flush=True)
`;

const tmp = tempDir('bttkit-utp-lt-');
const procs = new Procs();
const FILE = 'utp.bin';
const LENGTH = 3 * 1024 * 1024 + 12345;
const PIECE = 256 * 1024;
const BLOCK = 16 * 1024;
let data: Uint8Array;
let meta: Metainfo;
let ltPort = 0;
const transports: UtpTransport[] = [];

beforeAll(async () => {
  data = pattern(LENGTH, 99);
  writeFileSync(join(tmp.path, FILE), data);
  const created = await createTorrent(join(tmp.path, FILE), { pieceLength: PIECE });
  meta = created.metainfo;
  writeFileSync(join(tmp.path, 'utp.torrent'), created.torrent);
  writeFileSync(join(tmp.path, 'lt_utp.py'), LT_UTP);
  ltPort = (await startLibtorrent()).port;
  expect(ltPort).toBeGreaterThan(0);
});

afterAll(async () => {
  await Promise.all(transports.map((t) => t.close()));
  procs.killAll();
  tmp.cleanup();
});

/** Starts a libtorrent seeder (dialling `connectTo` when given); resolves once it listens. */
async function startLibtorrent(connectTo?: number): Promise<{ port: number; child: ChildProcess }> {
  const args = [join(tmp.path, 'lt_utp.py'), join(tmp.path, 'utp.torrent'), tmp.path];
  if (connectTo !== undefined) args.push(String(connectTo));
  const child = procs.start(SYSTEM_PYTHON, args, { LT_MAX_SECONDS: '120' });
  const line = await waitForLine(child, (l) => l.includes('"seeding"'), 20_000, 'libtorrent seeding');
  return { port: (JSON.parse(line) as { port: number }).port, child };
}

function peerId(): Uint8Array {
  const id = new Uint8Array(20);
  id.set(new TextEncoder().encode('-BK0001-'));
  for (let i = 8; i < 20; i++) id[i] = (i * 37) & 0xff;
  return id;
}

describe('uTP with libtorrent 2.0 (TCP disabled on its side)', () => {
  it('bttkit dials libtorrent over uTP, gets its bitfield and every block, byte for byte', async () => {
    const t = new UtpTransport();
    transports.push(t);
    const conn = await t.connect({ host: '127.0.0.1', port: ltPort });
    const pieces = Math.ceil(LENGTH / PIECE);
    const torrent = { pieceLength: PIECE, pieceCount: pieces, length: LENGTH };
    const wire = new PeerWire(conn, { peerId: peerId(), infoHash: meta.infoHashBytes, torrent });
    let bits: Uint8Array | undefined;
    let haveAll = false;
    let unchoked = false;
    let closed: unknown = null;
    wire.on('bitfield', (b) => {
      bits = b.slice();
    });
    wire.on('have-all', () => {
      haveAll = true;
    });
    wire.on('unchoke', () => {
      unchoked = true;
    });
    wire.on('close', (e) => {
      closed = e ?? 'closed';
    });
    const hs = new Promise<{ infoHash: Uint8Array }>((resolve) => wire.on('handshake', (h) => resolve(h)));
    wire.handshake();
    const theirs = await waitFor(hs, 15_000, "libtorrent's handshake");
    expect(toHex(theirs.infoHash)).toBe(meta.infoHash);
    await waitFor(() => bits !== undefined || haveAll || closed !== null, 10_000, 'the bitfield');
    expect(closed).toBe(null);
    if (bits) {
      for (let i = 0; i < pieces; i++) expect(((bits[i >> 3] as number) >> (7 - (i & 7))) & 1).toBe(1);
    }
    wire.interested();
    await waitFor(() => unchoked || closed !== null, 10_000, 'unchoke');
    const got = new Uint8Array(LENGTH);
    let received = 0;
    let failed: unknown;
    for (let off = 0; off < LENGTH; off += BLOCK) {
      const index = Math.floor(off / PIECE);
      const begin = off - index * PIECE;
      const len = Math.min(BLOCK, LENGTH - off, PIECE - begin);
      wire.request(index, begin, len, (err, block) => {
        if (err || !block) failed ??= err ?? new Error('no block');
        else {
          got.set(block, off);
          received += block.length;
        }
      });
      if ((off / BLOCK) % 64 === 63)
        await waitFor(() => received >= off + len - 32 * BLOCK || failed !== undefined, 20_000, 'blocks');
    }
    await waitFor(() => received >= LENGTH || failed !== undefined || closed !== null, 30_000, 'every block');
    expect(closed).toBe(null);
    expect(failed).toBeUndefined();
    expect(Buffer.compare(Buffer.from(got), Buffer.from(data))).toBe(0);
    wire.close();
  });

  it('libtorrent dials bttkit over uTP (connect_peer) and bttkit sees its handshake', async () => {
    const t = new UtpTransport();
    transports.push(t);
    let seen: { infoHash: Uint8Array; peerId: Uint8Array } | undefined;
    const listener = await t.listen({ host: '127.0.0.1', port: 0 }, (conn: Connection) => {
      const wire = new PeerWire(conn, { peerId: peerId(), infoHash: meta.infoHashBytes });
      wire.on('handshake', (h) => {
        seen = { infoHash: h.infoHash.slice(), peerId: h.peerId.slice() };
        wire.handshake();
      });
    });
    await startLibtorrent(listener.address.port);
    await waitFor(() => seen !== undefined, 20_000, "libtorrent's handshake over uTP");
    expect(toHex(seen?.infoHash ?? new Uint8Array(0))).toBe(meta.infoHash);
    expect(new TextDecoder().decode(seen?.peerId.subarray(0, 3))).toBe('-LT');
  });
});
