import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../../src/util/bytes.js';
import {
  AppendJournal,
  crc32,
  frameRecord,
  type JournalErrors,
  type JournalOptions,
  PidLock,
  parseLockOwner,
  RECORD_HEADER,
  readRecord,
} from '../../src/util/journal.js';

/** The errors the tests' owner throws: a code to assert on, like a module's own error class. */
class TestJournalError extends Error {
  constructor(
    readonly code: 'CORRUPT' | 'FAILED' | 'CLOSED' | 'LOCKED',
    message: string,
    readonly pid?: number,
  ) {
    super(message);
  }
}
const errors: JournalErrors = {
  corrupt: (m) => new TestJournalError('CORRUPT', m),
  failed: (m) => new TestJournalError('FAILED', m),
  closed: (m) => new TestJournalError('CLOSED', m),
};
const locked = (pid: number | undefined) => new TestJournalError('LOCKED', 'locked', pid);
const MAGIC = utf8('TESTLOG1');
const PREFIX = utf8('rec:');
const options: JournalOptions = { magic: MAGIC, errors, recordPrefix: PREFIX, maxRecord: 4096 };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TestJournalError) return err.code;
    throw err;
  }
  throw new Error('expected a TestJournalError');
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bttkit-journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const texts = (records: Uint8Array[]) => records.map((r) => fromUtf8(r));

/** A journal file holding `MAGIC` then `n` records `rec:0` … and the offsets where each starts. */
async function writeJournal(path: string, n: number): Promise<number[]> {
  const opened = await AppendJournal.open(path, options);
  for (let i = 0; i < n; i++) await opened.journal.append(utf8(`rec:${i}:${'x'.repeat(i * 7)}`));
  await opened.journal.close();
  const data = new Uint8Array(await readFile(path));
  const starts: number[] = [];
  for (let off = MAGIC.length; off < data.length; ) {
    starts.push(off);
    const r = readRecord(data, off);
    if (r.kind !== 'ok') throw new Error('test journal unreadable');
    off = r.end;
  }
  return starts;
}

describe('record framing', () => {
  it('frames as u32 length ‖ u32 CRC-32 ‖ payload (vector)', () => {
    expect(crc32(utf8('123456789'))).toBe(0xcbf43926);
    expect([...frameRecord(utf8('abc'))]).toEqual([0, 0, 0, 3, 0x35, 0x24, 0x41, 0xc2, 0x61, 0x62, 0x63]);
  });

  it('reads ok, torn (cut short) and bad (checksum or length) records', () => {
    const rec = frameRecord(utf8('hello'));
    expect(readRecord(rec, 0)).toMatchObject({ kind: 'ok', end: rec.length });
    expect(readRecord(rec, rec.length)).toEqual({ kind: 'end' });
    for (let cut = 1; cut < rec.length; cut++) expect(readRecord(rec.subarray(0, cut), 0).kind).toBe('torn');
    const flipped = rec.slice();
    flipped[RECORD_HEADER] = (flipped[RECORD_HEADER] as number) ^ 1;
    expect(readRecord(flipped, 0)).toMatchObject({ kind: 'bad', reason: 'checksum mismatch' });
    expect(readRecord(rec, 0, 4).kind).toBe('bad');
  });
});

describe('AppendJournal', () => {
  it('creates a file holding the magic, appends durably and reads the records back in order', async () => {
    const path = join(dir, 'j.log');
    const { journal, records, truncatedBytes } = await AppendJournal.open(path, options);
    expect(records).toEqual([]);
    expect(truncatedBytes).toBe(0);
    expect(new Uint8Array(await readFile(path))).toEqual(MAGIC);
    // Concurrent appends (one group commit) resolve in order, each after its bytes are written.
    const done: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => journal.append(utf8(`rec:${i}`)).then(() => done.push(i))),
    );
    expect(done).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await journal.close();
    const again = await AppendJournal.open(path, options);
    expect(texts(again.records)).toEqual(Array.from({ length: 20 }, (_, i) => `rec:${i}`));
    await again.journal.close();
  });

  it('truncates a torn tail at every cut point inside the last record, then appends after the kept prefix', async () => {
    const path = join(dir, 'j.log');
    const starts = await writeJournal(path, 4);
    const full = new Uint8Array(await readFile(path));
    const last = starts[3] as number;
    for (let cut = last + 1; cut < full.length; cut++) {
      await writeFile(path, full.subarray(0, cut));
      const { journal, records, truncatedBytes } = await AppendJournal.open(path, options);
      expect(records.length).toBe(3);
      expect(truncatedBytes).toBe(cut - last);
      expect((await stat(path)).size).toBe(last);
      await journal.append(utf8('rec:new'));
      await journal.close();
      const again = await AppendJournal.open(path, options);
      expect(texts(again.records).at(-1)).toBe('rec:new');
      expect(again.records.length).toBe(4);
      await again.journal.close();
    }
  });

  it('rewrites a file whose header never reached the disk, and refuses another magic', async () => {
    const path = join(dir, 'j.log');
    await writeFile(path, MAGIC.subarray(0, 5));
    const opened = await AppendJournal.open(path, options);
    expect(opened.truncatedBytes).toBe(5);
    await opened.journal.close();
    expect(new Uint8Array(await readFile(path))).toEqual(MAGIC);
    await writeFile(path, utf8('OTHERLG1'));
    expect(await codeOf(AppendJournal.open(path, options))).toBe('CORRUPT');
  });

  it('refuses a record with a bad checksum followed by a good one (corruption, not a torn tail)', async () => {
    const path = join(dir, 'j.log');
    const starts = await writeJournal(path, 4);
    const full = new Uint8Array(await readFile(path));
    const bad = full.slice();
    (bad[(starts[1] as number) + RECORD_HEADER + 2] as number) ^= 0x40;
    await writeFile(path, bad);
    expect(await codeOf(AppendJournal.open(path, options))).toBe('CORRUPT');
    expect(new Uint8Array(await readFile(path))).toEqual(bad); // nothing cut
    // The same damage in the last record is a tail that never completed: cut.
    const tail = full.slice();
    (tail[(starts[3] as number) + RECORD_HEADER + 2] as number) ^= 0x40;
    await writeFile(path, tail);
    const opened = await AppendJournal.open(path, options);
    expect(opened.records.length).toBe(3);
    await opened.journal.close();
  });

  it('takes a valid frame without the record prefix in a garbage tail for garbage', async () => {
    const path = join(dir, 'j.log');
    await writeJournal(path, 2);
    const full = new Uint8Array(await readFile(path));
    const garbage = new Uint8Array([
      0xff,
      0xff,
      0xff,
      0xff,
      1,
      2,
      3,
      4,
      ...frameRecord(utf8('not a record')),
    ]);
    await writeFile(path, new Uint8Array([...full, ...garbage]));
    const opened = await AppendJournal.open(path, options);
    expect(opened.records.length).toBe(2);
    expect(opened.truncatedBytes).toBe(garbage.length);
    await opened.journal.close();
    // Without a prefix, any valid frame after a bad one is taken as corruption.
    await writeFile(path, new Uint8Array([...full, ...garbage]));
    expect(await codeOf(AppendJournal.open(path, { ...options, recordPrefix: undefined }))).toBe('CORRUPT');
  });

  it('refuses an oversized record without failing, and everything once closed', async () => {
    const path = join(dir, 'j.log');
    const { journal } = await AppendJournal.open(path, options);
    expect(await codeOf(journal.append(new Uint8Array(4097)))).toBe('FAILED');
    expect(journal.failed).toBe(false);
    await journal.append(utf8('rec:after'));
    await journal.close();
    expect(await codeOf(journal.append(utf8('rec:late')))).toBe('CLOSED');
    const again = await AppendJournal.open(path, options);
    expect(texts(again.records)).toEqual(['rec:after']);
    await again.journal.close();
  });

  it('rotates: records before the call go to the old file, records during it to the new one', async () => {
    const old = join(dir, 'a.log');
    const next = join(dir, 'b.log');
    const { journal } = await AppendJournal.open(old, options);
    const before = [journal.append(utf8('rec:1')), journal.append(utf8('rec:2'))];
    let during: Promise<void> | undefined;
    const rotated = journal.rotate(next, async () => {
      // The earlier records are durable before `between` runs.
      const mid = await AppendJournal.open(old, { ...options });
      expect(texts(mid.records)).toEqual(['rec:1', 'rec:2']);
      await mid.journal.close();
      during = journal.append(utf8('rec:3'));
    });
    await Promise.all([...before, rotated]);
    await during;
    expect(journal.path).toBe(next);
    await journal.close();
    const a = await AppendJournal.open(old, options);
    const b = await AppendJournal.open(next, options);
    expect(texts(a.records)).toEqual(['rec:1', 'rec:2']);
    expect(texts(b.records)).toEqual(['rec:3']);
    await a.journal.close();
    await b.journal.close();
  });
});

describe('PidLock', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
  });

  /** The pid of a process that has exited. */
  async function deadPid(): Promise<number> {
    const p = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => p.once('exit', resolve));
    return p.pid as number;
  }

  it('parses the owner a lock file names', () => {
    expect(parseLockOwner('1234')).toEqual({ pid: 1234, thread: 0 });
    expect(parseLockOwner('1234:3\n')).toEqual({ pid: 1234, thread: 3 });
    for (const bad of ['', '0', '-1', 'abc', '12 34', '99999999999'])
      expect(parseLockOwner(bad)).toBeUndefined();
  });

  it('writes the owner pid, refuses a second taker in this process, and is free again once released', async () => {
    const path = join(dir, 'LOCK');
    const lock = await PidLock.acquire(path, locked);
    expect(await readFile(path, 'utf8')).toBe(String(process.pid));
    await expect(PidLock.acquire(path, locked)).rejects.toMatchObject({ code: 'LOCKED', pid: process.pid });
    await lock.release();
    expect(lock.held).toBe(false);
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    const again = await PidLock.acquire(path, locked);
    await again.release();
    expect((await readdir(dir)).filter((n) => n !== 'LOCK')).toEqual([]); // no temporary files left
  });

  it('takes over the stale lock of a dead process', async () => {
    const path = join(dir, 'LOCK');
    const pid = await deadPid();
    await writeFile(path, String(pid));
    const lock = await PidLock.acquire(path, locked);
    expect(await readFile(path, 'utf8')).toBe(String(process.pid));
    await lock.release();
  });

  it('takes over a lock naming its own pid that it does not hold (left by an earlier process with that pid)', async () => {
    const path = join(dir, 'LOCK');
    await writeFile(path, String(process.pid));
    const lock = await PidLock.acquire(path, locked);
    expect(lock.held).toBe(true);
    await expect(PidLock.acquire(path, locked)).rejects.toMatchObject({ code: 'LOCKED' });
    await lock.release();
  });

  it('refuses while another live process holds it, and does not touch its file', async () => {
    const path = join(dir, 'LOCK');
    child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    const pid = child.pid as number;
    await writeFile(path, String(pid));
    await expect(PidLock.acquire(path, locked)).rejects.toMatchObject({ code: 'LOCKED', pid });
    expect(await readFile(path, 'utf8')).toBe(String(pid));
    child.kill('SIGKILL');
    await new Promise((resolve) => child?.once('exit', resolve));
    const lock = await PidLock.acquire(path, locked);
    await lock.release();
  });

  it('refuses a lock of its own pid held by another thread, and takes over one naming no owner', async () => {
    const path = join(dir, 'LOCK');
    await writeFile(path, `${process.pid}:4242`);
    await expect(PidLock.acquire(path, locked)).rejects.toMatchObject({ code: 'LOCKED', pid: process.pid });
    await writeFile(path, ''); // a file cut short before its owner wrote it (older versions)
    const lock = await PidLock.acquire(path, locked);
    await lock.release();
  });
});

describe('writeFileDurably', () => {
  it('replaces the file whole through a temporary file, mode as asked, a stray temporary file overwritten', async () => {
    const { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } = await import(
      'node:fs'
    );
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { writeFileDurably } = await import('../../src/util/journal.js');
    const dir = mkdtempSync(join(tmpdir(), 'bttkit-durable-'));
    try {
      const path = join(dir, 'operator.key');
      writeFileSync(`${path}.tmp-${process.pid}`, 'half'); // left by a crash
      await writeFileDurably(path, 'abc\n', 0o600);
      expect(readFileSync(path, 'utf8')).toBe('abc\n');
      expect(statSync(path).mode & 0o777).toBe(0o600);
      await writeFileDurably(path, 'def\n');
      expect(readFileSync(path, 'utf8')).toBe('def\n');
      expect(readdirSync(dir)).toEqual(['operator.key']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
