/** Pure parsing and encoding helpers of the tracker client. */
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/metainfo/bencode.js';
import {
  encodeCompactPeers,
  formatIPv6,
  httpAnnounceUrl,
  parseAnnounceResponse,
  parseCompactPeers,
  parseScrapeResponse,
  parseUdpUrl,
  percentEncodeBytes,
  scrapeUrlFor,
  TrackerError,
  trackerProtocol,
} from '../../src/tracker/index.js';
import { fromHex } from '../../src/util/bytes.js';

const codeOf = (f: () => unknown) => {
  try {
    f();
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(TrackerError);
    return (e as TrackerError).code;
  }
};

describe('compact peers', () => {
  it('parses IPv4 and IPv6, drops port 0 and duplicates, refuses odd lengths', () => {
    expect(parseCompactPeers(fromHex('0a000001c8d5' + '7f0000010000' + '0a000001c8d5'), 4)).toEqual([
      { host: '10.0.0.1', port: 51413 },
    ]);
    expect(parseCompactPeers(fromHex(`${'00'.repeat(15)}011ae1`), 6)).toEqual([{ host: '::1', port: 6881 }]);
    expect(codeOf(() => parseCompactPeers(new Uint8Array(7), 4))).toBe('TRACKER_BAD_PEERS');
    expect(codeOf(() => parseCompactPeers(new Uint8Array(36 + 6), 6))).toBe('TRACKER_BAD_PEERS');
    expect(parseCompactPeers(new Uint8Array(0), 4)).toEqual([]);
    const many = encodeCompactPeers(
      Array.from({ length: 10 }, (_, i) => ({ host: `10.0.0.${i + 1}`, port: 1000 + i })),
      4,
    );
    expect(parseCompactPeers(many, 4, 3).length).toBe(3);
  });

  it('formats IPv6 as RFC 5952 and round-trips', () => {
    expect(formatIPv6(fromHex('20010db8000000000001000000000001'))).toBe('2001:db8::1:0:0:1');
    expect(formatIPv6(fromHex('00000000000000000000000000000000'))).toBe('::');
    expect(formatIPv6(fromHex('fe800000000000000000000000000000'))).toBe('fe80::');
    expect(formatIPv6(fromHex('20010db8000100010001000100010001'))).toBe('2001:db8:1:1:1:1:1:1');
    const peers = [{ host: '2001:db8::7', port: 1 }];
    expect(parseCompactPeers(encodeCompactPeers(peers, 6), 6)).toEqual(peers);
  });

  it('BEP 7: an IPv4-mapped entry of peers6 is the IPv4 peer; dict peers in any IPv6 spelling are canonical', () => {
    const r = parseAnnounceResponse(
      encode({
        peers6: fromHex(`20010db8000100000000000000000010${'1ae1'}00000000000000000000ffff0a4d010a${'1ae2'}`),
      }),
    );
    expect(r.peers).toEqual([
      { host: '2001:db8:1::10', port: 6881 },
      { host: '10.77.1.10', port: 6882 },
    ]);
    const d = parseAnnounceResponse(
      encode({
        peers: [
          { ip: '2001:DB8:1:0:0:0:0:11', port: 6881 },
          { ip: '::ffff:10.77.1.11', port: 6882 },
          { ip: 'fe80::1%eth0', port: 6883 },
        ],
      }),
    );
    expect(d.peers).toEqual([
      { host: '2001:db8:1::11', port: 6881 },
      { host: '10.77.1.11', port: 6882 },
    ]);
  });
});

describe('announce and scrape responses', () => {
  it('reads every BEP 3 field; missing interval defaults; wrong types refused', () => {
    const r = parseAnnounceResponse(
      encode({ interval: 10, 'min interval': 5, 'tracker id': 'abc', complete: 2, incomplete: 3, peers: '' }),
    );
    expect(r).toMatchObject({ interval: 10, minInterval: 5, complete: 2, incomplete: 3, peers: [] });
    expect(parseAnnounceResponse(encode({ peers: '' })).interval).toBe(1800);
    expect(codeOf(() => parseAnnounceResponse(encode({ interval: -1 })))).toBe('TRACKER_BAD_RESPONSE');
    expect(codeOf(() => parseAnnounceResponse(encode({ peers: 5 })))).toBe('TRACKER_BAD_RESPONSE');
    expect(codeOf(() => parseAnnounceResponse(encode({ peers6: [] })))).toBe('TRACKER_BAD_RESPONSE');
    expect(codeOf(() => parseAnnounceResponse(encode({ 'failure reason': 'no' })))).toBe('TRACKER_FAILURE');
    expect(codeOf(() => parseAnnounceResponse(new Uint8Array([0x64])))).toBe('TRACKER_BAD_RESPONSE');
    expect(codeOf(() => parseAnnounceResponse(encode('x')))).toBe('TRACKER_BAD_RESPONSE');
  });

  it('caps and sanitises tracker text', () => {
    const r = parseAnnounceResponse(encode({ 'warning message': `a\u0000b${'x'.repeat(2000)}` }));
    expect(r.warning?.startsWith('a b')).toBe(true);
    expect(r.warning?.length).toBeLessThanOrEqual(514);
  });

  it('scrape keeps only the asked hashes', () => {
    const ih = new Uint8Array(20).fill(1);
    const other = new Uint8Array(20).fill(2);
    const body = encode({
      files: new Map([[String.fromCharCode(...ih), { complete: 1, incomplete: 2, downloaded: 3 }]]),
    });
    const s = parseScrapeResponse(body, [ih, other]);
    expect([...s.files.keys()]).toEqual(['01'.repeat(20)]);
    expect(codeOf(() => parseScrapeResponse(encode({}), [ih]))).toBe('TRACKER_BAD_RESPONSE');
  });
});

describe('URLs', () => {
  it('builds the announce query with percent-encoded bytes, keeping the tracker’s own query', () => {
    expect(percentEncodeBytes(new Uint8Array([0x41, 0x20, 0xff, 0x2e]))).toBe('A%20%FF.');
    const u = httpAnnounceUrl('http://t/announce?passkey=abc', {
      infoHash: new Uint8Array(20),
      peerId: new Uint8Array(20).fill(0x61),
      port: 1,
      uploaded: 2,
      downloaded: 3n,
      left: 4,
      event: 'started',
      numwant: 5,
      key: 0xabc,
    });
    expect(u).toBe(
      `http://t/announce?passkey=abc&info_hash=${'%00'.repeat(20)}&peer_id=${'a'.repeat(20)}` +
        '&port=1&uploaded=2&downloaded=3&left=4&compact=1&event=started&numwant=5&key=00000abc',
    );
  });

  it('derives the BEP 48 scrape URL', () => {
    expect(scrapeUrlFor('http://t/announce')).toBe('http://t/scrape');
    expect(scrapeUrlFor('http://t/x/announce.php?k=1')).toBe('http://t/x/scrape.php?k=1');
    expect(scrapeUrlFor('http://t/a')).toBeUndefined();
    expect(scrapeUrlFor('http://t/announce/x')).toBeUndefined();
  });

  it('parses UDP URLs and tells protocols apart', () => {
    expect(parseUdpUrl('udp://[::1]:6969/announce')).toEqual({ host: '::1', port: 6969 });
    expect(codeOf(() => parseUdpUrl('udp://host'))).toBe('TRACKER_BAD_URL');
    expect(trackerProtocol('HTTPS://t/announce')).toBe('http');
    expect(trackerProtocol('udp://t:1')).toBe('udp');
    expect(trackerProtocol('wss://t')).toBeUndefined();
  });
});
