import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '../../src/metainfo/bencode.js';
import { type InfoDictionary, parseInfoDictionary } from '../../src/metainfo/torrent.js';
import { concatBytes } from '../../src/util/bytes.js';
import { ManualClock } from '../../src/util/clock.js';
import {
  decodePex,
  encodePex,
  type PeerWire,
  type PexMessage,
  type UtMetadataExtension,
  type UtPexExtension,
  utMetadata,
  utPex,
} from '../../src/wire/index.js';
import { next, rnd, until, wirePair } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function makeInfo(pieces: number): InfoDictionary {
  // pieces × 20 bytes of hashes: 900 pieces make an info dictionary of 2 metadata pieces.
  return parseInfoDictionary(
    encode({ length: pieces * 16384, name: 'x.bin', 'piece length': 16384, pieces: rnd(20 * pieces) }),
  );
}

/** Sends `payload` as extension `name` from `wire`, bypassing its codec (a hostile sender). */
function rawExt(wire: PeerWire, name: string, payload: Uint8Array): void {
  const id = wire.peerExtendedHandshake?.extensions.get(name);
  if (id === undefined) throw new Error(`peer lacks ${name}`);
  const frame = new Uint8Array(6 + payload.length);
  new DataView(frame.buffer).setUint32(0, 2 + payload.length);
  frame[4] = 20;
  frame[5] = id;
  frame.set(payload, 6);
  wire.connection.write([frame]);
}

describe('ut_metadata between PeerWires', () => {
  it('fetches a two-piece info dictionary, verifies it, and the fetcher then serves it', async () => {
    const info = makeInfo(900);
    expect(info.infoBytes.length).toBeGreaterThan(16384);
    let ma: UtMetadataExtension | undefined;
    const p = await wirePair('memory', { infoHash: info.infoHashBytes }, {}, (a, b) => {
      ma = a.use(utMetadata({ infoHash: info.infoHashBytes }));
      b.use(utMetadata({ infoHash: info.infoHashBytes, info: info.infoBytes }));
    });
    cleanups.push(p.done);
    const m = ma as UtMetadataExtension;
    await until(() => m.metadata !== undefined, 5000, 'metadata');
    expect(m.metadata?.infoHash).toBe(info.infoHash);
    expect(m.metadata?.infoBytes).toEqual(info.infoBytes);
    expect(m.handshakeFields()).toEqual({ metadata_size: info.infoBytes.length });
  });

  it('serves a parsed info dictionary as given, and refuses one of another torrent', async () => {
    const info = makeInfo(3);
    const other = makeInfo(3);
    let mb: UtMetadataExtension | undefined;
    let refused: unknown;
    const p = await wirePair('memory', { infoHash: info.infoHashBytes }, {}, (a, b) => {
      mb = b.use(utMetadata({ infoHash: info.infoHashBytes, info }));
      try {
        a.use(utMetadata({ infoHash: info.infoHashBytes, info: other }));
      } catch (err) {
        refused = err;
      }
    });
    cleanups.push(p.done);
    expect(mb?.metadata).toBe(info);
    expect(mb?.handshakeFields()).toEqual({ metadata_size: info.infoBytes.length });
    expect(refused).toMatchObject({ code: 'WIRE_METADATA_HASH_MISMATCH' });
  });

  it('a peer without the metadata rejects; the fetcher reports it and keeps the peer', async () => {
    const info = makeInfo(3);
    let ma: UtMetadataExtension | undefined;
    const p = await wirePair('memory', { infoHash: info.infoHashBytes }, {}, (a, b) => {
      ma = a.use(utMetadata({ infoHash: info.infoHashBytes }));
      b.use(utMetadata({ infoHash: info.infoHashBytes }));
    });
    cleanups.push(p.done);
    const m = ma as UtMetadataExtension;
    const rejected = new Promise<number>((r) => m.on('rejected', r));
    rawExt(p.a, 'ut_metadata', encode({ msg_type: 0, piece: 0 }));
    expect(await rejected).toBe(0);
    expect(p.a.closed || p.b.closed).toBe(false);
  });

  const hostile: [string, (total: number) => Uint8Array, string][] = [
    [
      'an unsolicited piece',
      () => concatBytes([encode({ msg_type: 1, piece: 5, total_size: 100 }), rnd(100)]),
      'WIRE_METADATA_UNEXPECTED',
    ],
    [
      'a piece of the wrong size',
      (t) => concatBytes([encode({ msg_type: 1, piece: 0, total_size: t }), rnd(t - 1)]),
      'WIRE_METADATA_BAD_PIECE',
    ],
    [
      'metadata that does not hash right',
      (t) => concatBytes([encode({ msg_type: 1, piece: 0, total_size: t }), rnd(t)]),
      'WIRE_METADATA_HASH_MISMATCH',
    ],
    ['a message that is not a dictionary', () => encode([1, 2]), 'WIRE_METADATA_MALFORMED'],
    [
      'a piece index out of range',
      () => encode({ msg_type: 1, piece: 10n ** 12n }),
      'WIRE_METADATA_MALFORMED',
    ],
  ];
  for (const [what, payload, code] of hostile) {
    it(`drops a peer that sends ${what}`, async () => {
      const info = makeInfo(3);
      const size = info.infoBytes.length;
      let mb: UtMetadataExtension | undefined;
      // a announces the metadata size through a silent ut_metadata of its own, then answers b's
      // request with hostile data sent by hand.
      const p = await wirePair('memory', { infoHash: info.infoHashBytes }, {}, (a, b) => {
        a.use(() => ({
          name: 'ut_metadata',
          maxPayload: 20_000,
          handshakeFields: () => ({ metadata_size: size }),
          onMessage: () => {},
        }));
        mb = b.use(utMetadata({ infoHash: info.infoHashBytes, pieceTimeoutMs: 60_000 }));
      });
      cleanups.push(p.done);
      expect(mb?.metadata).toBeUndefined();
      const closed = next(p.b, 'close');
      rawExt(p.a, 'ut_metadata', payload(size));
      expect((await closed)[0]?.code).toBe(code);
    });
  }
});

describe('ut_pex', () => {
  it('encodes and decodes IPv4 and IPv6 peers with flags', () => {
    const m: PexMessage = {
      added: [
        { host: '127.0.0.1', port: 6881, flags: 0x12 },
        { host: '2001:db8::1', port: 51413, flags: 0x01 },
      ],
      dropped: [
        { host: '10.0.0.2', port: 1 },
        { host: '::1', port: 2 },
      ],
    };
    const bytes = encodePex(m);
    expect(decodePex(bytes)).toEqual(m);
    // Only addresses; host names are left out.
    expect(
      decodePex(encodePex({ added: [{ host: 'example.com', port: 1, flags: 0 }], dropped: [] })),
    ).toEqual({
      added: [],
      dropped: [],
    });
  });

  it('added6 is read in RFC 5952 form; an IPv4-mapped entry is the IPv4 peer, sent back in added', () => {
    // 0:0:1:0:0:0:0:1 — the longest zero run is compressed, not the first.
    const raw = new Uint8Array(36);
    raw.set([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe1]);
    raw.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 9, 0x1a, 0xe2], 18);
    const m = decodePex(
      encode({ added: new Uint8Array(0), added6: raw, 'added6.f': new Uint8Array([4, 0x10]) }),
    );
    expect(m.added).toEqual([
      { host: '0:0:1::1', port: 6881, flags: 4 },
      { host: '192.0.2.9', port: 6882, flags: 0x10 },
    ]);
    const back = decodePex(encodePex(m));
    expect(back.added).toEqual([
      { host: '192.0.2.9', port: 6882, flags: 0x10 },
      { host: '0:0:1::1', port: 6881, flags: 4 },
    ]);
  });

  it('bounds what it sends (50) and what it reads (200), and refuses bad lengths', () => {
    const many = Array.from({ length: 300 }, (_, i) => ({
      host: `10.0.${i >> 8}.${i & 255}`,
      port: 1000 + i,
      flags: 0,
    }));
    expect(decodePex(encodePex({ added: many, dropped: [] })).added.length).toBe(50);
    const big = encode({ added: new Uint8Array(6 * 300).fill(1) });
    expect(decodePex(big).added.length).toBe(200);
    expect(() => decodePex(encode({ added: new Uint8Array(7) }))).toThrow(
      expect.objectContaining({ code: 'WIRE_PEX_MALFORMED' }),
    );
    expect(() => decodePex(new Uint8Array([1, 2, 3]))).toThrow(
      expect.objectContaining({ code: 'WIRE_PEX_MALFORMED' }),
    );
  });

  it('sends at most once a minute on the wire clock; the receiver ignores a faster sender', async () => {
    const clock = new ManualClock();
    let xa: UtPexExtension | undefined;
    let xb: UtPexExtension | undefined;
    const p = await wirePair('memory', { clock }, { clock }, (a, b) => {
      xa = a.use(utPex());
      xb = b.use(utPex());
    });
    cleanups.push(p.done);
    const a = xa as UtPexExtension;
    const b = xb as UtPexExtension;
    const got: PexMessage[] = [];
    b.on('peers', (m) => got.push(m));
    const msg = { added: [{ host: '127.0.0.9', port: 9, flags: 0 }], dropped: [] };
    expect(a.send(msg)).toBe(true);
    expect(a.send(msg)).toBe(false);
    expect(a.waitMs).toBe(60_000);
    await until(() => got.length === 1, 3000, 'first pex');
    clock.advance(60_000);
    expect(a.send(msg)).toBe(true);
    await until(() => got.length === 2, 3000, 'second pex');
    // A hostile sender ignoring the pace: the message is ignored, the peer kept.
    rawExt(p.a, 'ut_pex', encodePex(msg));
    await until(() => b.ignored === 1, 3000, 'ignored');
    expect(got.length).toBe(2);
    expect(p.b.closed).toBe(false);
  });
});
