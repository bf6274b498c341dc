/**
 * The BT-SEARCH codec of local service discovery (BEP 14): round trips, the layouts real clients
 * send (libtorrent's, lower-case and LF-only variants), and hostile datagrams refused with
 * `NET_LSD_MALFORMED`, never another exception.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeLsdAnnounce,
  encodeLsdAnnounce,
  LSD_MAX_DATAGRAM_BYTES,
  LSD_MAX_INFO_HASHES,
  LSD_MAX_SEND_BYTES,
  lsdHashesPerDatagram,
  lsdInterfacesFor,
  NetError,
} from '../../src/net/index.js';
import { fromHex, toHex } from '../../src/util/bytes.js';

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const hash = (i: number) => fromHex(i.toString(16).padStart(40, 'c'));
const HEX1 = `${'c'.repeat(39)}1`;

function refused(datagram: Uint8Array | string): NetError {
  try {
    decodeLsdAnnounce(typeof datagram === 'string' ? ascii(datagram) : datagram);
  } catch (err) {
    expect(err).toBeInstanceOf(NetError);
    expect((err as NetError).code).toBe('NET_LSD_MALFORMED');
    return err as NetError;
  }
  throw new Error('accepted');
}

describe('encodeLsdAnnounce / decodeLsdAnnounce', () => {
  it('round-trips one info-hash to the IPv4 group', () => {
    const d = encodeLsdAnnounce({ port: 6881, infoHashes: [hash(1)], cookie: '1a2b3c4d' });
    expect(String.fromCharCode(...d)).toBe(
      `BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: ${HEX1}\r\ncookie: 1a2b3c4d\r\n\r\n\r\n`,
    );
    const a = decodeLsdAnnounce(d);
    expect(a).toEqual({
      port: 6881,
      infoHashes: [hash(1)],
      cookie: '1a2b3c4d',
      host: '239.192.152.143:6771',
    });
  });

  it('round-trips the most info-hashes in one datagram within 1400 bytes, to either group', () => {
    for (const family of [4, 6] as const) {
      const per = lsdHashesPerDatagram(family, 'ffffffff');
      expect(per).toBe(LSD_MAX_INFO_HASHES);
      const hashes = Array.from({ length: per }, (_, i) => hash(i + 1));
      const d = encodeLsdAnnounce({ port: 65535, infoHashes: hashes, cookie: 'ffffffff', family });
      expect(d.length).toBeLessThanOrEqual(LSD_MAX_SEND_BYTES);
      const a = decodeLsdAnnounce(d);
      expect(a.infoHashes.map(toHex)).toEqual(hashes.map(toHex));
      expect(a.host).toBe(family === 6 ? '[ff15::efc0:988f]:6771' : '239.192.152.143:6771');
    }
  });

  it('reads the layouts clients send: libtorrent’s, lower case, LF only, extra headers, no cookie or Host', () => {
    // libtorrent 2.0 (lsd.cpp): cookie as %x, then three CRLFs.
    const lt = decodeLsdAnnounce(
      ascii(
        `BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 51413\r\nInfohash: ${HEX1.toUpperCase()}\r\ncookie: 7f3a\r\n\r\n\r\n`,
      ),
    );
    expect(lt).toMatchObject({ port: 51413, cookie: '7f3a' });
    expect(toHex(lt.infoHashes[0] as Uint8Array)).toBe(HEX1);
    const loose = decodeLsdAnnounce(
      ascii(
        `bt-search * http/1.1\nhost: x\nPORT:6881\nX-Future: yes\ninfohash:  ${HEX1}  \nINFOHASH: ${HEX1}\n\n`,
      ),
    );
    expect(loose).toEqual({ port: 6881, infoHashes: [hash(1)], host: 'x' });
    // A datagram is whole: no trailing empty line is needed.
    expect(decodeLsdAnnounce(ascii(`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: ${HEX1}`)).port).toBe(1);
  });

  it('refuses hostile datagrams with NET_LSD_MALFORMED', () => {
    const ok = (lines: string[]) => `${['BT-SEARCH * HTTP/1.1', ...lines].join('\r\n')}\r\n\r\n`;
    refused(new Uint8Array(0));
    refused(new Uint8Array(LSD_MAX_DATAGRAM_BYTES + 1).fill(65));
    refused(Uint8Array.from([0x42, 0x54, 0x00, 0xff, 0x0d, 0x0a]));
    refused(ok(['Port: 6881', `Infohash: ${HEX1}`]).replace('HTTP/1.1', 'HTTP/1.1 \u00e9'));
    refused(`M-SEARCH * HTTP/1.1\r\nPort: 6881\r\nInfohash: ${HEX1}\r\n\r\n`);
    refused(`BT-SEARCH /x HTTP/1.1\r\nPort: 6881\r\nInfohash: ${HEX1}\r\n\r\n`);
    refused('garbage');
    refused(ok([`Infohash: ${HEX1}`])); // no port
    for (const p of ['0', '65536', '99999', '-1', '+6881', '6881x', '0x1ae1', '', '000006881'])
      refused(ok([`Port: ${p}`, `Infohash: ${HEX1}`]));
    refused(ok(['Port: 6881', 'Port: 6882', `Infohash: ${HEX1}`]));
    refused(ok(['Port: 6881'])); // no info-hash
    for (const h of [
      HEX1.slice(1),
      `${HEX1}0`,
      `${HEX1.slice(2)}zz`,
      '0'.repeat(40),
      `${HEX1.slice(0, 39)} `,
    ])
      refused(ok(['Port: 6881', `Infohash: ${h}`]));
    refused(
      ok([
        'Port: 6881',
        ...Array.from({ length: LSD_MAX_INFO_HASHES + 1 }, (_, i) => `Infohash: ${toHex(hash(i + 1))}`),
      ]),
    );
    refused(ok(['Port: 6881', `Infohash: ${HEX1}`, 'no colon here']));
    refused(ok(['Port: 6881', `Infohash: ${HEX1}`, `cookie: ${'a'.repeat(65)}`]));
    // Messages say why.
    expect(refused(ok([`Infohash: ${HEX1}`])).message).toMatch(/no Port/);
  });

  it('never throws anything but NET_LSD_MALFORMED on random and mutated bytes', () => {
    let x = 12345;
    const rnd = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
    const good = encodeLsdAnnounce({ port: 6881, infoHashes: [hash(1), hash(2)], cookie: 'abc' });
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const d =
        i % 2 === 0
          ? Uint8Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256))
          : good.map((b) => (rnd() < 0.02 ? Math.floor(rnd() * 256) : b));
      try {
        const a = decodeLsdAnnounce(d);
        accepted++;
        expect(a.port).toBeGreaterThanOrEqual(1);
        expect(a.infoHashes.every((h) => h.length === 20)).toBe(true);
      } catch (err) {
        expect((err as NetError).code).toBe('NET_LSD_MALFORMED');
      }
    }
    expect(accepted).toBeGreaterThan(0); // some mutations only touch ignored bytes
  });

  it('refuses to encode what it could not send, with NET_LSD_BAD_OPTIONS', () => {
    const bad = [
      { port: 0, infoHashes: [hash(1)] },
      { port: 65536, infoHashes: [hash(1)] },
      { port: 6881, infoHashes: [] },
      { port: 6881, infoHashes: Array.from({ length: LSD_MAX_INFO_HASHES + 1 }, (_, i) => hash(i + 1)) },
      { port: 6881, infoHashes: [new Uint8Array(19)] },
      { port: 6881, infoHashes: [hash(1)], cookie: 'a b' },
    ];
    for (const init of bad)
      expect(() => encodeLsdAnnounce(init)).toThrow(expect.objectContaining({ code: 'NET_LSD_BAD_OPTIONS' }));
  });
});

describe('lsdInterfacesFor', () => {
  const nic = (address: string, family: 'IPv4' | 'IPv6', internal = false) => ({
    address,
    family,
    internal,
    netmask: '',
    mac: '00:00:00:00:00:00',
    cidr: null,
    ...(family === 'IPv6' ? { scopeid: 0 } : {}),
  });
  const nics = {
    lo: [nic('127.0.0.1', 'IPv4', true), nic('::1', 'IPv6', true)],
    e0: [nic('10.77.1.10', 'IPv4'), nic('2001:db8:1::10', 'IPv6')],
    e1: [nic('10.77.2.10', 'IPv4')],
  } as unknown as Parameters<typeof lsdInterfacesFor>[1];

  it('never runs on loopback or a host name; a wildcard takes every LAN interface', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1', 'peer-a'])
      expect(lsdInterfacesFor(h, nics)).toEqual({ v4: [], v6: [] });
    expect(lsdInterfacesFor('0.0.0.0', nics)).toEqual({ v4: ['10.77.1.10', '10.77.2.10'], v6: [] });
    expect(lsdInterfacesFor('::', nics)).toEqual({ v4: ['10.77.1.10', '10.77.2.10'], v6: ['::%e0'] });
    expect(lsdInterfacesFor('10.77.2.10', nics)).toEqual({ v4: ['10.77.2.10'], v6: [] });
    expect(lsdInterfacesFor('2001:db8:1::10', nics)).toEqual({ v4: [], v6: ['::%e0'] });
    expect(lsdInterfacesFor('10.9.9.9', nics)).toEqual({ v4: [], v6: [] });
  });
});
