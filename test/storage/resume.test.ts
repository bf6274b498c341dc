/** The fast-resume record: round trip, version, another torrent's record, hostile bytes. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/metainfo/bencode.js';
import type { InfoDictionary } from '../../src/metainfo/torrent.js';
import {
  decodeResume,
  encodeResume,
  MAX_RESUME_BYTES,
  RESUME_VERSION,
  type ResumeRecord,
  StorageError,
} from '../../src/storage/index.js';

const hash = new Uint8Array(20).fill(0xab);
const record: ResumeRecord = {
  infoHash: hash,
  pieceLength: 16384,
  pieceCount: 11,
  have: new Uint8Array([0xff, 0b1110_0000]),
  files: [{ size: 100_000, mtimeMs: 1_765_000_000_123 }, undefined, { size: 0, mtimeMs: 5 }],
  uploaded: 7,
  downloaded: 2 ** 40,
  addedAt: 1_700_000_000_000,
  completedAt: 1_700_000_100_000,
  savedAt: 1_700_000_200_000,
  paused: true,
  filePriorities: [4, 0, 7],
};
const info = {
  infoHash: 'ab'.repeat(20),
  pieceLength: 16384,
  pieceCount: 11,
  files: [{}, {}, {}],
} as unknown as InfoDictionary;

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(StorageError);
    return (e as StorageError).code;
  }
  return undefined;
}

describe('resume record', () => {
  it('round-trips every field, checked against its torrent', () => {
    const bytes = encodeResume(record);
    expect(decodeResume(bytes, info)).toEqual(record);
    const bare = { ...record, completedAt: undefined, filePriorities: undefined, paused: false };
    expect(decodeResume(encodeResume(bare))).toEqual(bare);
  });

  it('refuses another version, another torrent, a bad bitfield', () => {
    const dict = (patch: Record<string, unknown>) => {
      const base: Record<string, unknown> = {
        'bttkit-resume': RESUME_VERSION,
        added: 1,
        downloaded: 0,
        files: [[1, 2], [], [3, 4]],
        have: new Uint8Array([0xff, 0xe0]),
        'info-hash': hash,
        paused: 0,
        'piece-length': 16384,
        pieces: 11,
        saved: 2,
        uploaded: 0,
        ...patch,
      };
      return encode(base as never);
    };
    expect(codeOf(() => decodeResume(dict({}), info))).toBeUndefined();
    let err: unknown;
    try {
      decodeResume(dict({ 'bttkit-resume': 2 }));
    } catch (e) {
      err = e;
    }
    expect((err as StorageError).code).toBe('STORAGE_BAD_RESUME');
    expect((err as StorageError).details).toMatchObject({ version: '2' });
    expect(codeOf(() => decodeResume(dict({ 'bttkit-resume': undefined })))).toBe('STORAGE_BAD_RESUME');
    expect(codeOf(() => decodeResume(dict({ 'info-hash': new Uint8Array(20) }), info))).toBe(
      'STORAGE_BAD_RESUME',
    );
    expect(codeOf(() => decodeResume(dict({ pieces: 12 }), info))).toBe('STORAGE_BAD_RESUME');
    expect(codeOf(() => decodeResume(dict({ 'piece-length': 32768 }), info))).toBe('STORAGE_BAD_RESUME');
    expect(codeOf(() => decodeResume(dict({ files: [[1, 2]] }), info))).toBe('STORAGE_BAD_RESUME');
    // Bitfield of the wrong length, spare bits set.
    expect(codeOf(() => decodeResume(dict({ have: new Uint8Array([0xff]) })))).toBe('STORAGE_BAD_RESUME');
    expect(codeOf(() => decodeResume(dict({ have: new Uint8Array([0xff, 0xf0]) })))).toBe(
      'STORAGE_BAD_RESUME',
    );
    // Wrong types and ranges.
    expect(codeOf(() => decodeResume(dict({ files: [[1]] })))).toBe('STORAGE_BAD_RESUME');
    expect(codeOf(() => decodeResume(dict({ files: [[-1, 2], [], []] })))).toBe('STORAGE_BAD_RESUME');
    expect(codeOf(() => decodeResume(dict({ files: 'x' })))).toBe('STORAGE_BAD_RESUME');
    expect(codeOf(() => decodeResume(dict({ uploaded: 2n ** 60n })))).toBe('STORAGE_BAD_RESUME');
    expect(codeOf(() => decodeResume(dict({ priorities: [4, 9, 4] })))).toBe('STORAGE_BAD_RESUME');
    expect(codeOf(() => decodeResume(dict({ priorities: [4] })))).toBe('STORAGE_BAD_RESUME');
    expect(codeOf(() => decodeResume(dict({ 'piece-length': 0 })))).toBe('STORAGE_BAD_RESUME');
  });

  it('refuses what is not a record at all, and anything too large, unread', () => {
    expect(codeOf(() => decodeResume(new Uint8Array(0)))).toBe('STORAGE_BAD_RESUME');
    expect(codeOf(() => decodeResume(new TextEncoder().encode('li1ee')))).toBe('STORAGE_BAD_RESUME');
    expect(codeOf(() => decodeResume(new TextEncoder().encode('d1:ai1ee')))).toBe('STORAGE_BAD_RESUME');
    expect(codeOf(() => decodeResume(new Uint8Array(MAX_RESUME_BYTES + 1)))).toBe('STORAGE_BAD_RESUME');
    // Deep nesting is refused by the decoder's bounds, not the stack.
    const deep = new TextEncoder().encode(`${'l'.repeat(100_000)}${'e'.repeat(100_000)}`);
    expect(codeOf(() => decodeResume(deep))).toBe('STORAGE_BAD_RESUME');
  });

  it('never throws anything but STORAGE_BAD_RESUME on random or mutated bytes', () => {
    const good = encodeResume(record);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
            const m = good.slice();
            m[i] = b;
            return m;
          }),
          fc.nat(good.length).map((n) => good.subarray(0, n)),
        ),
        (bytes) => {
          const code = codeOf(() => decodeResume(bytes, info));
          expect(code === undefined || code === 'STORAGE_BAD_RESUME').toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
