import { appendFile, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  crc32,
  decodeEvent,
  decodeState,
  encodeState,
  frameRecord,
  readRecord,
} from '../../src/ledger/codec.js';
import { FileStore, Ledger, LedgerError } from '../../src/ledger/index.js';
import { toHex, utf8 } from '../../src/util/bytes.js';
import { codeOf, expectSound } from './helpers.js';
import { intentAt, LEDGER_ID, T0, World } from './world.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bttkit-journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `n` ops of a seeded sequence; returns the ledger (still open) and the fingerprints after each op. */
async function populate(n: number, snapshotEvery = 0, seed = 5) {
  let now = T0;
  const ledger = await Ledger.open({
    store: new FileStore(dir),
    ledgerId: LEDGER_ID,
    wallClock: { now: () => now },
    snapshotEvery,
  });
  const world = new World();
  const prints: string[] = [toHex(encodeState(ledger.state.data))];
  for (let i = 0; i < n; i++) {
    now = T0 + i * 400;
    world.now = now;
    await ledger.execute(world.command(ledger.state, intentAt(seed, i), i)).catch((e: unknown) => {
      if (!(e instanceof LedgerError)) throw e;
    });
    prints.push(toHex(encodeState(ledger.state.data)));
  }
  return { ledger, prints };
}

const reopen = async () => {
  const store = new FileStore(dir);
  const ledger = await Ledger.open({ store, ledgerId: LEDGER_ID, wallClock: { now: () => T0 } });
  return { ledger, store };
};

describe('journal record format', () => {
  it('frames as u32 length ‖ u32 CRC-32 ‖ payload (vector)', () => {
    expect(crc32(utf8('123456789'))).toBe(0xcbf43926);
    expect(toHex(frameRecord(utf8('abc')))).toBe('00000003352441c2616263');
  });

  it('decoders never crash or hang on hostile bytes: only LedgerError LEDGER_JOURNAL_CORRUPT', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const fn of [() => decodeEvent(bytes), () => decodeState(bytes)]) {
          try {
            fn();
          } catch (e) {
            expect(e).toBeInstanceOf(LedgerError);
            expect((e as LedgerError).code).toBe('LEDGER_JOURNAL_CORRUPT');
          }
        }
        const r = readRecord(bytes, 0);
        expect(['ok', 'end', 'torn', 'bad']).toContain(r.kind);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses well-framed records whose content is wrong (bad types, unknown event, non-canonical)', () => {
    for (const text of [
      'd2:ati1e1:t4:inite',
      'd2:ati1e3:seqi1e1:t4:nopee',
      'd3:seqi1e2:ati1e1:t4:inite',
      'le',
      'i5e',
    ]) {
      expect(() => decodeEvent(utf8(text))).toThrow(LedgerError);
    }
  });
});

describe('FileStore', () => {
  it('replays the journal on open to the identical state', async () => {
    const { ledger, prints } = await populate(120);
    await ledger.close();
    const { ledger: again } = await reopen();
    expect(toHex(encodeState(again.state.data))).toBe(prints.at(-1));
    expectSound(again.state);
    await again.close();
  });

  it('truncates a torn tail at every cut point inside the last records, keeping the complete prefix', async () => {
    const { ledger } = await populate(30);
    await ledger.close();
    const path = join(dir, 'journal-0.log');
    const full = new Uint8Array(await readFile(path));
    // Offsets of record ends.
    const ends: number[] = [8];
    for (let off = 8; ; ) {
      const r = readRecord(full, off);
      if (r.kind !== 'ok') break;
      ends.push(r.end);
      off = r.end;
    }
    const lastStart = ends.at(-3) ?? 8;
    let checked = 0;
    for (let cut = lastStart; cut < full.length; cut++) {
      await writeFile(path, full.subarray(0, cut));
      const { ledger: l, store } = await reopen();
      const kept = ends.filter((e) => e <= cut).length - 1;
      expect(store.recovery?.events).toBe(kept);
      expect(store.recovery?.truncatedBytes).toBe(cut - (ends[kept] as number));
      expectSound(l.state);
      await l.close();
      expect((await readFile(path)).length).toBe(ends[kept]);
      checked++;
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('truncates garbage after the last record (a tail that never completed)', async () => {
    const { ledger, prints } = await populate(20);
    await ledger.close();
    const path = join(dir, 'journal-0.log');
    await appendFile(path, new Uint8Array(777).fill(0));
    const { ledger: l, store } = await reopen();
    expect(store.recovery?.truncatedBytes).toBe(777);
    expect(toHex(encodeState(l.state.data))).toBe(prints.at(-1));
    await l.close();
  });

  it('refuses to open a journal with a bad record followed by good ones (corruption, not a torn tail)', async () => {
    const { ledger } = await populate(20);
    await ledger.close();
    const path = join(dir, 'journal-0.log');
    const data = new Uint8Array(await readFile(path));
    data[8 + 8 + 5] = (data[8 + 8 + 5] as number) ^ 0x01; // inside the first record's payload
    await writeFile(path, data);
    expect(await codeOf(() => reopen())).toBe('LEDGER_JOURNAL_CORRUPT');
  });

  it('refuses a journal with a bad magic', async () => {
    const { ledger } = await populate(3);
    await ledger.close();
    const path = join(dir, 'journal-0.log');
    const data = new Uint8Array(await readFile(path));
    data[0] = 0x58;
    await writeFile(path, data);
    expect(await codeOf(() => reopen())).toBe('LEDGER_JOURNAL_CORRUPT');
  });

  it('snapshots and compacts periodically, keeping one generation, and reopens identically', async () => {
    const { ledger, prints } = await populate(150, 25);
    await ledger.close();
    const names = (await readdir(dir)).sort();
    expect(names.filter((n) => n.startsWith('snapshot-')).length).toBe(1);
    expect(names.filter((n) => n.startsWith('journal-')).length).toBe(1);
    expect(names.some((n) => n === 'journal-0.log')).toBe(false);
    const { ledger: l, store } = await reopen();
    expect(store.recovery?.generation).toBeGreaterThan(0);
    expect(toHex(encodeState(l.state.data))).toBe(prints.at(-1));
    await l.close();
  });

  it('recovers from a compaction interrupted after the snapshot rename (no new journal yet)', async () => {
    const { ledger, prints } = await populate(30);
    await ledger.compact();
    await ledger.close();
    const names = await readdir(dir);
    const journal = names.find((n) => n.startsWith('journal-'));
    expect(journal).toBe('journal-1.log');
    await rm(join(dir, 'journal-1.log'));
    await writeFile(join(dir, 'snapshot-2.bin.tmp'), utf8('half a snapshot'));
    const { ledger: l } = await reopen();
    expect(toHex(encodeState(l.state.data))).toBe(prints.at(-1));
    expect((await readdir(dir)).some((n) => n.endsWith('.tmp'))).toBe(false);
    await l.close();
  });

  it('refuses a second opener while the first holds the lock, and takes over a dead owner’s lock', async () => {
    const { ledger } = await populate(2);
    expect(await codeOf(() => reopen())).toBe('LEDGER_STORE_LOCKED');
    await ledger.close();
    await writeFile(join(dir, 'LOCK'), '999999999');
    const { ledger: l } = await reopen();
    await l.close();
    // A lock naming this process that it does not hold was left by an earlier process with its pid.
    await writeFile(join(dir, 'LOCK'), String(process.pid));
    const { ledger: own } = await reopen();
    expect(await codeOf(() => reopen())).toBe('LEDGER_STORE_LOCKED');
    await own.close();
  });

  it('refuses a different ledger id', async () => {
    const { ledger } = await populate(2);
    await ledger.close();
    expect(
      await codeOf(() =>
        Ledger.open({ store: new FileStore(dir), ledgerId: 'another', wallClock: { now: () => T0 } }),
      ),
    ).toBe('LEDGER_ID_MISMATCH');
    const { ledger: l } = await reopen();
    await l.close();
  });

  it('acknowledges concurrent appends only after they are durable (group commit)', async () => {
    let now = T0;
    const ledger = await Ledger.open({
      store: new FileStore(dir),
      ledgerId: LEDGER_ID,
      wallClock: { now: () => now },
    });
    const world = new World();
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      now = T0 + i;
      world.now = now;
      acks.push(
        ledger
          .execute(world.command(ledger.state, { kind: 0, a: i, b: 0, amount: 5n, flag: 0, dt: 0 }, i))
          .then(async () => {
            // once acknowledged, a fresh read of the file holds it
            const bytes = new Uint8Array(await readFile(join(dir, 'journal-0.log')));
            expect(Buffer.from(bytes).includes(Buffer.from(`op-${i}`))).toBe(true);
          }),
      );
    }
    await Promise.all(acks);
    expect((await ledger.totals()).deposits).toBe(250n);
    await ledger.close();
  });

  it('truncate() of an empty journal file is repaired', async () => {
    const { ledger, prints } = await populate(1);
    await ledger.close();
    await truncate(join(dir, 'journal-0.log'), 3);
    const { ledger: l } = await reopen();
    // init is gone too: the ledger is new again
    expect(l.state.seq).toBe(1);
    expect(prints.length).toBe(2);
    await l.close();
  });
});
