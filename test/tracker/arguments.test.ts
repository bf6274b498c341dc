/** The tracker's own argument errors: TrackerErrors with TRACKER_ codes (not util's ArgumentError). */
import { describe, expect, it } from 'vitest';
import { encodeCompactPeers, TrackerClient, TrackerError } from '../../src/tracker/index.js';

const ok = {
  infoHash: new Uint8Array(20),
  peerId: new Uint8Array(20),
  port: 6881,
  announce: [] as string[][],
  stats: () => ({ uploaded: 0, downloaded: 0, left: 0 }),
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TrackerError);
    return (err as TrackerError).code;
  }
  return undefined;
}

describe('tracker argument errors', () => {
  it('new TrackerClient refuses a bad info-hash, peer id or port with its own codes', () => {
    expect(codeOf(() => new TrackerClient(ok).destroy())).toBeUndefined();
    expect(codeOf(() => new TrackerClient({ ...ok, infoHash: new Uint8Array(19) }))).toBe(
      'TRACKER_BAD_INFOHASH',
    );
    expect(codeOf(() => new TrackerClient({ ...ok, peerId: new Uint8Array(21) }))).toBe(
      'TRACKER_BAD_PEER_ID',
    );
    for (const port of [0, 65536, 1.5]) {
      expect(codeOf(() => new TrackerClient({ ...ok, port }))).toBe('TRACKER_BAD_PORT');
    }
  });

  it('encodeCompactPeers refuses a host that is not an IP literal of the family', () => {
    expect(codeOf(() => encodeCompactPeers([{ host: 'example.org', port: 1 }], 4))).toBe(
      'TRACKER_BAD_ADDRESS',
    );
    expect(codeOf(() => encodeCompactPeers([{ host: '::1', port: 1 }], 4))).toBe('TRACKER_BAD_ADDRESS');
    expect(codeOf(() => encodeCompactPeers([{ host: '127.0.0.1', port: 1 }], 6))).toBe('TRACKER_BAD_ADDRESS');
    expect(encodeCompactPeers([{ host: '127.0.0.1', port: 258 }], 4)).toEqual(
      Uint8Array.from([127, 0, 0, 1, 1, 2]),
    );
  });
});
