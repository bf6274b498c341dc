/**
 * The conformance file shipped in the package (conformance/btt-speed.json): it holds exactly the
 * vectors of docs/btt-extension.md, and the codec and voucher code agree with it both ways
 * (encode the JSON form → the hex; decode the hex → the JSON form; sign → the signature).
 * `UPDATE_CONFORMANCE=1 npx vitest run test/wire/conformance-file.test.ts` rewrites the file from the doc.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChannelKey, channelIdFor, signVoucher, voucherMessage } from '../../src/ledger/index.js';
import { decode } from '../../src/metainfo/bencode.js';
import {
  domainSeparator,
  channelIdFor as eip712ChannelId,
  signEip712Voucher,
  voucherDigest,
} from '../../src/settlement/bttc/voucher.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import {
  BTT_MAX_MESSAGE,
  type BttHandshake,
  BttRejectCode,
  bttMessageFromJson,
  bttMessageToJson,
  decodeBttMessage,
  encodeBttHandshake,
  encodeBttMessage,
  parseBttHandshake,
} from '../../src/wire/index.js';

const DOC = new URL('../../docs/btt-extension.md', import.meta.url);
const FILE = new URL('../../conformance/btt-speed.json', import.meta.url);

type Fields = Record<string, string>;

/** The ```text blocks of the doc whose first key is `first`, as ordered field maps. */
function blocks(md: string, first: string): Fields[] {
  const out: Fields[] = [];
  for (const m of md.matchAll(new RegExp(`\`\`\`text\\n(${first}: [\\s\\S]*?)\`\`\``, 'g'))) {
    const f: Fields = {};
    for (const line of (m[1] ?? '').trim().split('\n')) {
      const i = line.indexOf(': ');
      f[line.slice(0, i)] = line.slice(i + 2);
    }
    out.push(f);
  }
  return out;
}

/** The conformance file's content, derived from the doc. */
function fromDoc(): unknown {
  const md = readFileSync(DOC, 'utf8');
  const vectors = blocks(md, 'vector');
  const isHandshake = (v: Fields) => v.vector?.startsWith('handshake');
  return {
    schema: 'bttkit/btt-speed-conformance/v1',
    spec: 'docs/btt-extension.md (bttkit), btt_speed version 1',
    extension: 'btt_speed',
    version: 1,
    maxMessageBytes: BTT_MAX_MESSAGE,
    rejectCodes: BttRejectCode,
    handshakes: vectors
      .filter((v) => isHandshake(v))
      .map((v) => ({ name: v.vector, btt: JSON.parse(v.json ?? ''), hex: v.hex })),
    messages: vectors
      .filter((v) => !isHandshake(v) && v.json !== undefined)
      .map((v) => ({ name: v.vector, json: JSON.parse(v.json ?? ''), hex: v.hex })),
    receiving: vectors
      .filter((v) => v.expect !== undefined)
      .map((v) => ({ name: v.vector, hex: v.hex, expect: v.expect })),
    vouchers: {
      'ed25519-ledger': blocks(md, 'ed25519').map(({ ed25519, ...rest }) => ({ name: ed25519, ...rest })),
      'eip712-bttc': blocks(md, 'eip712').map(({ eip712, ...rest }) => ({ name: eip712, ...rest })),
    },
  };
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
if (process.env.UPDATE_CONFORMANCE === '1') writeFileSync(FILE, json(fromDoc()));

interface ConformanceFile {
  handshakes: Array<{ name: string; btt: Record<string, unknown>; hex: string }>;
  messages: Array<{ name: string; json: unknown; hex: string }>;
  receiving: Array<{ name: string; hex: string; expect: string }>;
  vouchers: {
    'ed25519-ledger': Fields[];
    'eip712-bttc': Fields[];
  };
}
const file = JSON.parse(readFileSync(FILE, 'utf8')) as ConformanceFile;

describe('conformance/btt-speed.json', () => {
  it('holds exactly the vectors of docs/btt-extension.md', () => {
    expect(file).toEqual(fromDoc());
    expect(file.messages.length).toBeGreaterThanOrEqual(8);
    expect(file.receiving.length).toBeGreaterThanOrEqual(10);
    expect(file.handshakes.length).toBe(2);
    expect(file.vouchers['ed25519-ledger'].length).toBe(2);
    expect(file.vouchers['eip712-bttc'].length).toBe(4);
  });

  for (const v of file.messages) {
    it(`message ${v.name}: encodes to its hex and decodes to its JSON form`, () => {
      expect(toHex(encodeBttMessage(bttMessageFromJson(v.json)))).toBe(v.hex);
      const d = decodeBttMessage(fromHex(v.hex));
      if (!d.ok || !d.message) throw new Error(`${v.name} does not decode`);
      expect(bttMessageToJson(d.message)).toEqual(v.json);
    });
  }

  for (const v of file.handshakes) {
    it(`handshake ${v.name}: encodes to its hex and parses to its fields`, () => {
      const b = v.btt as Record<string, unknown> & { reserve: string };
      const h = { ...b, reserve: BigInt(b.reserve) } as unknown as BttHandshake;
      expect(toHex(encodeBttHandshake(h))).toBe(v.hex);
      const parsed = parseBttHandshake(decode(fromHex(v.hex)) as Map<string, never>);
      expect(parsed).toEqual(h);
    });
  }

  for (const v of file.receiving) {
    it(`receiving ${v.name}: ${v.expect}`, () => {
      const d = decodeBttMessage(fromHex(v.hex));
      if (v.expect === 'ignore') expect(d).toMatchObject({ ok: true, message: undefined });
      else if (v.expect.startsWith('reject '))
        expect(d).toMatchObject({ ok: false, code: Number(v.expect.slice(7)) });
      else expect(d.ok && d.message?.t).toBe(v.expect);
    });
  }

  for (const v of file.vouchers['ed25519-ledger']) {
    it(`ed25519-ledger voucher ${v.name}: key, channel id, signed bytes and signature`, () => {
      const key = ChannelKey.fromSeed(fromHex(v.seed ?? ''));
      const ledger = v.ledger ?? '';
      const amount = BigInt(v.amount ?? '');
      expect(toHex(key.publicKey)).toBe(v.publicKey);
      expect(channelIdFor(ledger, key.publicKey)).toBe(v.channelId);
      expect(toHex(voucherMessage(ledger, v.channelId ?? '', amount))).toBe(v.message);
      expect(toHex(signVoucher(key, ledger, v.channelId ?? '', amount).signature)).toBe(v.signature);
    });
  }

  for (const v of file.vouchers['eip712-bttc']) {
    it(`eip712-bttc ${v.name}`, () => {
      if (v.name === 'channel-id') {
        const { payer = '', payee = '', token = '', signer = '', salt = '' } = v;
        expect(eip712ChannelId({ payer, payee, token, signer, salt })).toBe(v.channelId);
        return;
      }
      const domain = { chainId: Number(v.chainId), verifyingContract: v.contract ?? '' };
      const amount = BigInt(v.amount ?? '');
      expect(`0x${toHex(domainSeparator(domain))}`).toBe(v.domainSeparator);
      expect(`0x${toHex(voucherDigest(domain, v.channelId ?? '', amount))}`).toBe(v.digest);
      const signed = signEip712Voucher(fromHex((v.key ?? '').slice(2)), domain, v.channelId ?? '', amount);
      expect(`0x${toHex(signed.signature)}`).toBe(v.signature);
    });
  }
});
