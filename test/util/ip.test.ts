import { describe, expect, it } from 'vitest';
import { formatPeerAddress, parsePeerAddress } from '../../src/metainfo/magnet.js';
import { fromHex } from '../../src/util/bytes.js';
import { formatIp, ipBytes, ipVersion, normalizeHost, toDualStackHost } from '../../src/util/ip.js';

describe('IP literals', () => {
  it('parses IPv4, IPv6 (compressed, full, with a dotted tail) and refuses the rest', () => {
    expect(ipBytes('192.0.2.1')).toEqual(Uint8Array.from([192, 0, 2, 1]));
    expect(ipBytes('2001:db8::1')).toEqual(fromHex('20010db8000000000000000000000001'));
    expect(ipBytes('2001:DB8:0:0:0:0:0:1')).toEqual(fromHex('20010db8000000000000000000000001'));
    expect(ipBytes('::')).toEqual(new Uint8Array(16));
    expect(ipBytes('64:ff9b::192.0.2.1')).toEqual(fromHex('0064ff9b0000000000000000c0000201'));
    for (const bad of [
      '',
      'example.org',
      '1.2.3',
      '256.1.1.1',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '12345::',
      ':::',
      'fe80::1%eth0',
      '1:2:3:4:5:6:7::8',
      '[::1]',
    ])
      expect(ipBytes(bad), bad).toBeUndefined();
  });

  it('an IPv4-mapped IPv6 address is the IPv4 address, in either spelling', () => {
    expect(ipBytes('::ffff:192.0.2.1')).toEqual(Uint8Array.from([192, 0, 2, 1]));
    expect(ipBytes('::FFFF:c000:0201')).toEqual(Uint8Array.from([192, 0, 2, 1]));
    expect(formatIp(fromHex('00000000000000000000ffffc0000201'))).toBe('192.0.2.1');
    expect(ipVersion('::ffff:192.0.2.1')).toBe(4);
  });

  it('formats RFC 5952: lower case, the longest zero run (the first of equal ones), no single-group ::', () => {
    expect(formatIp(fromHex('20010db8000000000001000000000001'))).toBe('2001:db8::1:0:0:1');
    expect(formatIp(fromHex('20010db8000000010000000000000001'))).toBe('2001:db8:0:1::1');
    expect(formatIp(fromHex('20010db8000000010001000100010001'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIp(fromHex('00000000000000000000000000000001'))).toBe('::1');
    expect(formatIp(fromHex('ABCD0000000000000000000000000000'))).toBe('abcd::');
    expect(formatIp(Uint8Array.from([0, 0, 10, 0, 0, 1]), 2, 4)).toBe('10.0.0.1');
  });

  it('normalises hosts: brackets, case, compression, mapped IPv4, zones kept, names untouched', () => {
    expect(normalizeHost('[2001:DB8:0:0::10]')).toBe('2001:db8::10');
    expect(normalizeHost('2001:db8:1:0:0:0:0:10')).toBe('2001:db8:1::10');
    expect(normalizeHost('::ffff:10.77.1.10')).toBe('10.77.1.10');
    expect(normalizeHost('10.77.1.10')).toBe('10.77.1.10');
    expect(normalizeHost('FE80:0::1%e0')).toBe('fe80::1%e0');
    expect(normalizeHost('tracker.example')).toBe('tracker.example');
    expect(normalizeHost('')).toBe('');
    expect(ipVersion('2001:db8::1')).toBe(6);
    expect(ipVersion('tracker.example')).toBe(0);
  });

  it('maps IPv4 for a dual-stack socket, leaves IPv6 and names alone', () => {
    expect(toDualStackHost('192.0.2.1')).toBe('::ffff:192.0.2.1');
    expect(toDualStackHost('2001:db8::1')).toBe('2001:db8::1');
    expect(toDualStackHost('example.org')).toBe('example.org');
  });

  it('peer addresses: [v6]:port parsed to canonical form and formatted back with brackets', () => {
    expect(parsePeerAddress('[2001:DB8:1:0::10]:6881')).toEqual({ host: '2001:db8:1::10', port: 6881 });
    expect(parsePeerAddress('[::ffff:192.0.2.7]:6881')).toEqual({ host: '192.0.2.7', port: 6881 });
    expect(formatPeerAddress({ host: '2001:db8:1::10', port: 6881 })).toBe('[2001:db8:1::10]:6881');
    expect(formatPeerAddress(parsePeerAddress('192.0.2.7:1'))).toBe('192.0.2.7:1');
  });
});
