import { describe, expect, it } from 'vitest';
import type { InfoDictionary, TorrentFile } from '../../src/metainfo/index.js';
import { SessionError } from '../../src/session/index.js';
import { blockRuns } from '../../src/session/web-seed.js';
import { parseContentRange, parseRetryAfter } from '../../src/session/web-seed-http.js';
import { checkWebSeedUrl, fileSpans, isWebSeedUrl, webSeedFileUrl } from '../../src/session/web-seed-url.js';

function file(segments: string[], offset: number, length: number, padding = false): TorrentFile {
  return { path: segments.join('/'), segments, offset, length, padding };
}

function info(name: string, multiFile: boolean, files: TorrentFile[]): InfoDictionary {
  return { name, multiFile, files } as unknown as InfoDictionary;
}

describe('web seed URLs (BEP 19)', () => {
  const multi = info('My Album', true, [file(['CD 1', 'a#1 100%.flac'], 0, 10), file(['é.txt'], 10, 5)]);
  const single = info('movie 1.mkv', false, [file(['movie 1.mkv'], 0, 10)]);

  it('multi-file: the URL names the folder above the torrent folder; each element percent-encoded', () => {
    const f = multi.files[0] as TorrentFile;
    expect(webSeedFileUrl('http://h/pub/', multi, f)).toBe(
      'http://h/pub/My%20Album/CD%201/a%231%20100%25.flac',
    );
    // Without the slash the same folder is meant.
    expect(webSeedFileUrl('http://h/pub', multi, f)).toBe(
      'http://h/pub/My%20Album/CD%201/a%231%20100%25.flac',
    );
    expect(webSeedFileUrl('https://h:8443/', multi, multi.files[1] as TorrentFile)).toBe(
      'https://h:8443/My%20Album/%C3%A9.txt',
    );
    // A query string stays at the end.
    expect(webSeedFileUrl('http://h/get?k=1', multi, multi.files[1] as TorrentFile)).toBe(
      'http://h/get/My%20Album/%C3%A9.txt?k=1',
    );
  });

  it('single-file: a URL ending in / gets the name, any other URL is the file', () => {
    const f = single.files[0] as TorrentFile;
    expect(webSeedFileUrl('http://h/files/', single, f)).toBe('http://h/files/movie%201.mkv');
    expect(webSeedFileUrl('http://h/files/other-name.bin', single, f)).toBe('http://h/files/other-name.bin');
  });

  it('accepts absolute http(s) URLs only', () => {
    expect(checkWebSeedUrl('http://h/x#frag')).toBe('http://h/x');
    for (const bad of ['ftp://h/', '/relative', 'not a url', 'http://', `http://h/${'a'.repeat(5000)}`]) {
      expect(() => checkWebSeedUrl(bad)).toThrow(SessionError);
      expect(isWebSeedUrl(bad)).toBe(false);
      try {
        checkWebSeedUrl(bad);
      } catch (e) {
        expect((e as SessionError).code).toBe('SESSION_BAD_WEB_SEED');
      }
    }
  });
});

describe('byte ranges across files', () => {
  const files = [
    file(['a'], 0, 100),
    file(['empty'], 100, 0),
    file(['b'], 100, 50),
    file(['.pad', '14'], 150, 14, true),
    file(['c'], 164, 36),
  ];

  it('a range inside one file is one span', () => {
    expect(fileSpans(files, 10, 20)).toEqual([{ file: 0, offset: 10, length: 20, padding: false }]);
  });

  it('a range over several files is a span per file (empty files skipped, padding marked)', () => {
    expect(fileSpans(files, 90, 100)).toEqual([
      { file: 0, offset: 90, length: 10, padding: false },
      { file: 2, offset: 0, length: 50, padding: false },
      { file: 3, offset: 0, length: 14, padding: true },
      { file: 4, offset: 0, length: 26, padding: false },
    ]);
    expect(fileSpans(files, 0, 200).reduce((n, s) => n + s.length, 0)).toBe(200);
    expect(fileSpans(files, 199, 1)).toEqual([{ file: 4, offset: 35, length: 1, padding: false }]);
  });

  it('blocks group into runs contiguous in the byte stream', () => {
    const pl = 32768;
    const runs = blockRuns(
      [
        { piece: 2, offset: 0, length: 16384 },
        { piece: 0, offset: 16384, length: 16384 },
        { piece: 1, offset: 0, length: 16384 },
        { piece: 2, offset: 16384, length: 1000 },
        { piece: 5, offset: 0, length: 16384 },
      ],
      pl,
    );
    expect(runs.map((r) => [r.start, r.length, r.blocks.length])).toEqual([
      [16384, 32768, 2],
      [65536, 17384, 2],
      [163840, 16384, 1],
    ]);
  });
});

describe('response headers', () => {
  it('Content-Range is parsed strictly', () => {
    expect(parseContentRange('bytes 0-9/100')).toEqual({ first: 0, last: 9, total: 100 });
    expect(parseContentRange('bytes 5-9/*')).toEqual({ first: 5, last: 9, total: undefined });
    for (const bad of [
      undefined,
      '',
      'bytes 9-5/100',
      'bytes 0-100/100',
      'items 0-9/100',
      'bytes -1-9/100',
      'bytes 0-9',
    ])
      expect(parseContentRange(bad)).toBeUndefined();
  });

  it('Retry-After: seconds or a date, bounded to an hour', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter('99999999')).toBe(3_600_000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:30 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
