import fc from 'fast-check';
import { utils } from 'tronweb';
import { describe, expect, it } from 'vitest';
import { toJson } from '../../src/settlement/json.js';
import {
  encodeRawTransaction,
  type RawTransaction,
  rawTransactionToJson,
  txidOf,
} from '../../src/settlement/protobuf.js';
import { toHex, utf8 } from '../../src/util/bytes.js';

const RUNS = Number(process.env.SETTLEMENT_PROPERTY_RUNS ?? 2500);

const addr = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Uint8Array.from([0x41, ...b]));
const safe = (min: number) => fc.integer({ min, max: Number.MAX_SAFE_INTEGER });
const header = fc.record({
  refBlockBytes: fc.uint8Array({ minLength: 2, maxLength: 2 }),
  refBlockHash: fc.uint8Array({ minLength: 8, maxLength: 8 }),
  expiration: safe(1),
  timestamp: fc.oneof(fc.constant(0), safe(1)),
  data: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: 40 })),
  permissionId: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 9 })),
});

const trc10: fc.Arbitrary<RawTransaction> = fc
  .tuple(header, addr, addr, safe(1), fc.constantFrom('1002000', '1000001', '1004031'))
  .map(([h, owner, to, amount, id]) => ({
    ...h,
    feeLimit: 0,
    contract: { type: 'TransferAssetContract', assetName: utf8(id), owner, to, amount: BigInt(amount) },
  }));

const u256 = fc.bigInt({ min: 0n, max: (1n << 256n) - 1n });
const trc20: fc.Arbitrary<RawTransaction> = fc
  .tuple(header, addr, addr, addr, u256, safe(1), fc.oneof(fc.constant(0), safe(1)))
  .map(([h, owner, contract, to, value, feeLimit, callValue]) => ({
    ...h,
    feeLimit,
    contract: {
      type: 'TriggerSmartContract',
      owner,
      contract,
      callValue: BigInt(callValue),
      data: Uint8Array.from(
        Buffer.from(
          `a9059cbb${'0'.repeat(24)}${toHex(to.subarray(1))}${value.toString(16).padStart(64, '0')}`,
          'hex',
        ),
      ),
      callTokenValue: 0n,
      tokenId: 0n,
    },
  }));

function tronwebEncoding(raw: RawTransaction): { hex: string; txid: string } {
  const tx = { visible: false, txID: '', raw_data: JSON.parse(toJson(rawTransactionToJson(raw))) };
  const pb = utils.transaction.txJsonToPb(tx as never);
  return {
    hex: utils.transaction.txPbToRawDataHex(pb).toLowerCase(),
    txid: utils.transaction.txPbToTxID(pb).replace(/^0x/, '').toLowerCase(),
  };
}

describe('the emulator encoder agrees with tronweb', () => {
  for (const [name, arb] of [
    ['TRC-10 TransferAssetContract', trc10],
    ['TRC-20 TriggerSmartContract transfer', trc20],
  ] as const) {
    it(`${name}: raw_data_hex and txID (${RUNS} random transactions)`, () => {
      fc.assert(
        fc.property(arb, (raw) => {
          const ours = encodeRawTransaction(raw);
          const theirs = tronwebEncoding(raw);
          expect(toHex(ours)).toBe(theirs.hex);
          expect(txidOf(ours)).toBe(theirs.txid);
        }),
        { numRuns: RUNS },
      );
    });
  }
});
