/**
 * The local channel id of BttcChannels (noble keccak) against viem's ABI encoder + keccak (an
 * independent implementation), and the client's refusal of malformed input (typed errors, no node).
 * The contract's own `channelId` is compared in test/settlement/bttc/channel.test.ts.
 */
import fc from 'fast-check';
import { encodeAbiParameters, type Hex, keccak256 } from 'viem';
import { describe, expect, it } from 'vitest';
import { BttcChannels, bttcChannelId, NATIVE_TOKEN, SettlementError } from '../../src/settlement/index.js';

const hexOf = (bytes: Uint8Array): Hex => `0x${Buffer.from(bytes).toString('hex')}`;
const addr = fc.uint8Array({ minLength: 20, maxLength: 20 }).map(hexOf);
const b32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(hexOf);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof SettlementError) return err.code;
    throw err;
  }
  return 'no error';
}

describe('bttcChannelId', () => {
  it('equals keccak256(abi.encode(payer, payee, token, signer, salt)) (viem as the reference)', () => {
    fc.assert(
      fc.property(addr, addr, addr, addr, b32, (payer, payee, token, signer, salt) => {
        const expected = keccak256(
          encodeAbiParameters(
            [
              { type: 'address' },
              { type: 'address' },
              { type: 'address' },
              { type: 'address' },
              { type: 'bytes32' },
            ],
            [payer, payee, token, signer, salt],
          ),
        );
        expect(bttcChannelId({ payer, payee, token, signer, salt })).toBe(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('a vector, native token by default, case-insensitive addresses', () => {
    const params = {
      payer: '0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A',
      payee: '0x1563915e194D8CfBA1943570603F7606A3115508',
      signer: '0x5CbDd86a2FA8Dc4bDdd8a8f69dBa48572EeC07FB',
      salt: `0x${'00'.repeat(31)}01`,
    } as const;
    const id = bttcChannelId(params);
    expect(id).toBe('0x329aec38bf706b6eacedba5273ed153acd7331492e626906eb01af8ded5a83c4');
    expect(bttcChannelId({ ...params, token: NATIVE_TOKEN })).toBe(id);
    expect(bttcChannelId({ ...params, payer: params.payer.toLowerCase() as Hex })).toBe(id);
    expect(BttcChannels.channelId(params)).toBe(id);
    expect(id).toBe(
      keccak256(
        encodeAbiParameters(
          [
            { type: 'address' },
            { type: 'address' },
            { type: 'address' },
            { type: 'address' },
            { type: 'bytes32' },
          ],
          [params.payer, params.payee, NATIVE_TOKEN, params.signer, params.salt],
        ),
      ),
    );
  });

  it('refuses malformed input with typed errors', () => {
    const ok = {
      payer: NATIVE_TOKEN,
      payee: NATIVE_TOKEN,
      signer: NATIVE_TOKEN,
      salt: `0x${'ab'.repeat(32)}` as Hex,
    };
    expect(codeOf(() => bttcChannelId({ ...ok, payer: '0x1234' }))).toBe('SETTLEMENT_BAD_ADDRESS');
    expect(codeOf(() => bttcChannelId({ ...ok, payee: `0x${'g'.repeat(40)}` }))).toBe(
      'SETTLEMENT_BAD_ADDRESS',
    );
    expect(codeOf(() => bttcChannelId({ ...ok, token: 'TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4' as Hex }))).toBe(
      'SETTLEMENT_BAD_ADDRESS',
    );
    expect(codeOf(() => bttcChannelId({ ...ok, salt: '0xab' }))).toBe('SETTLEMENT_BAD_OPTIONS');
    expect(codeOf(() => bttcChannelId({ ...ok, salt: 42 as unknown as Hex }))).toBe('SETTLEMENT_BAD_OPTIONS');
  });

  it('connect refuses bad options before any network call', async () => {
    const address = NATIVE_TOKEN;
    const code = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (err) {
        if (err instanceof SettlementError) return err.code;
        throw err;
      }
      return 'no error';
    };
    expect(
      await code(BttcChannels.connect({ rpcUrl: 'ftp://x', privateKey: `0x${'11'.repeat(32)}`, address })),
    ).toBe('SETTLEMENT_BAD_OPTIONS');
    expect(
      await code(BttcChannels.connect({ rpcUrl: 'http://127.0.0.1:1', privateKey: '0x11', address })),
    ).toBe('SETTLEMENT_BAD_OPTIONS');
    expect(
      await code(
        BttcChannels.connect({
          rpcUrl: 'http://127.0.0.1:1',
          privateKey: `0x${'11'.repeat(32)}`,
          address: '0x1',
        }),
      ),
    ).toBe('SETTLEMENT_BAD_ADDRESS');
    expect(
      await code(
        BttcChannels.deploy({
          rpcUrl: 'http://127.0.0.1:1',
          privateKey: `0x${'11'.repeat(32)}`,
          challengePeriod: 0,
        }),
      ),
    ).toBe('SETTLEMENT_BAD_OPTIONS');
  });
});
