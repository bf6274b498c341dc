import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMagnet, parseMagnet, parsePeerAddress } from '../../src/metainfo/index.js';
import { BttkitError, fromHex, toBase32 } from '../../src/util/index.js';

const HEX = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof BttkitError) return e.code;
    throw e;
  }
  return 'OK';
}

describe('magnet URIs', () => {
  it('parses hex and base32 info-hashes and every supported field', () => {
    const b32 = toBase32(fromHex(HEX));
    const m = parseMagnet(
      `magnet:?xt=urn:btih:${b32.toLowerCase()}&dn=My+File%20%C3%BC&tr=udp%3A%2F%2F127.0.0.1%3A6969&tr.1=http://t/a` +
        `&tr=udp%3A%2F%2F127.0.0.1%3A6969&ws=http%3A%2F%2Fseed%2F&x.pe=127.0.0.1:6881&x.pe=%5B::1%5D:51413&xt=urn:btmh:1114abcd&foo=bar`,
    );
    expect(m.infoHash).toBe(HEX);
    expect(m.name).toBe('My File ü');
    expect(m.trackers).toEqual(['udp://127.0.0.1:6969', 'http://t/a']);
    expect(m.webSeeds).toEqual(['http://seed/']);
    expect(m.peers).toEqual([
      { host: '127.0.0.1', port: 6881 },
      { host: '::1', port: 51413 },
    ]);
    expect(parseMagnet(`MAGNET:?xt=urn:btih:${HEX.toUpperCase()}`).infoHash).toBe(HEX);
  });

  it('formats what it parses', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
        fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
        fc.uniqueArray(fc.webUrl(), { maxLength: 3 }),
        fc.array(fc.record({ host: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) }), { maxLength: 3 }),
        (ih, name, trackers, peers) => {
          const uri = formatMagnet({
            infoHash: ih,
            trackers,
            peers,
            ...(name === undefined ? {} : { name }),
          });
          const m = parseMagnet(uri);
          expect(m.infoHashBytes).toEqual(ih);
          expect(m.name).toBe(name);
          expect(m.trackers).toEqual(trackers);
          expect(m.peers).toEqual(peers);
        },
      ),
      { numRuns: 200 },
    );
    expect(formatMagnet({ infoHash: HEX, name: 'a b', peers: [{ host: '::1', port: 1 }] })).toBe(
      `magnet:?xt=urn:btih:${HEX}&dn=a%20b&x.pe=%5B%3A%3A1%5D%3A1`,
    );
  });

  it.each([
    ['http://example/', 'MAGNET_NOT_MAGNET'],
    ['magnet:?dn=x', 'MAGNET_NO_INFOHASH'],
    ['magnet:?xt=urn:btih:1234', 'MAGNET_BAD_INFOHASH'],
    [`magnet:?xt=urn:btih:${'g'.repeat(40)}`, 'MAGNET_BAD_INFOHASH'],
    [`magnet:?xt=urn:btih:${HEX}&xt=urn:btih:${'0'.repeat(40)}`, 'MAGNET_CONFLICTING_INFOHASH'],
    [`magnet:?xt=urn:btih:${HEX}&dn=%E0%A4%A`, 'MAGNET_BAD_ENCODING'],
    [`magnet:?xt=urn:btih:${HEX}&x.pe=127.0.0.1`, 'MAGNET_BAD_PEER'],
    [`magnet:?xt=urn:btih:${HEX}&x.pe=127.0.0.1:0`, 'MAGNET_BAD_PEER'],
    [`magnet:?xt=urn:btih:${HEX}&x.pe=127.0.0.1:70000`, 'MAGNET_BAD_PEER'],
    [`magnet:?xt=urn:btih:${HEX}&x.pe=[::1:5`, 'MAGNET_BAD_PEER'],
    [`magnet:?xt=urn:btih:${HEX}&dn=${'a'.repeat(70_000)}`, 'MAGNET_TOO_LONG'],
    [`magnet:?xt=urn:btih:${HEX}${'&a'.repeat(1001)}`, 'MAGNET_TOO_MANY_ITEMS'],
  ])('refuses %s', (uri, code) => {
    expect(codeOf(() => parseMagnet(uri))).toBe(code);
  });

  it('never throws anything but typed errors on random input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        codeOf(() => parseMagnet(`magnet:?${s}`));
        codeOf(() => parsePeerAddress(s));
      }),
      { numRuns: 2000 },
    );
  });
});
