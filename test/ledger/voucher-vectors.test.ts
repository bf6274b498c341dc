/** The `ed25519-ledger` voucher vectors of docs/btt-extension.md, checked against the ledger's code. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ChannelKey,
  channelIdFor,
  signVoucher,
  verifyVoucherSignature,
  voucherMessage,
} from '../../src/ledger/index.js';
import { fromHex, toHex } from '../../src/util/bytes.js';

const md = readFileSync(new URL('../../docs/btt-extension.md', import.meta.url), 'utf8');
const vectors = [...md.matchAll(/```text\n(ed25519: [\s\S]*?)```/g)].map((m) => {
  const f = new Map<string, string>();
  for (const line of (m[1] ?? '').trim().split('\n'))
    f.set(line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2));
  return f;
});

describe('ed25519-ledger voucher vectors (docs/btt-extension.md)', () => {
  it('the spec has them', () => expect(vectors.length).toBeGreaterThanOrEqual(2));
  for (const v of vectors) {
    it(`vector ${v.get('ed25519')}`, () => {
      const key = ChannelKey.fromSeed(fromHex(v.get('seed') ?? ''));
      const ledger = v.get('ledger') ?? '';
      const amount = BigInt(v.get('amount') ?? '');
      expect(toHex(key.publicKey)).toBe(v.get('publicKey'));
      expect(channelIdFor(ledger, key.publicKey)).toBe(v.get('channelId'));
      const ch = v.get('channelId') ?? '';
      expect(toHex(voucherMessage(ledger, ch, amount))).toBe(v.get('message'));
      const signed = signVoucher(key, ledger, ch, amount);
      expect(toHex(signed.signature)).toBe(v.get('signature'));
      expect(
        verifyVoucherSignature(key.publicKey, { ...signed, signature: fromHex(v.get('signature') ?? '') }),
      ).toBe(true);
    });
  }
});
