import { privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { TronKey } from '../../../src/ledger/keys.js';
import {
  BTT_NATIVE,
  BTTC_CHAINS,
  BTTC_DONAU,
  BTTC_LEDGER_ADDRESSES,
  BTTC_MAINNET,
  checkEvmAddress,
  erc20Token,
  evmToTronAddress,
  isEvmAddress,
  maxTransferAmount,
  tronToEvmAddress,
} from '../../../src/settlement/index.js';

// EIP-55's own test vectors.
const EIP55 = [
  '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
  '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
  '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB',
  '0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb',
];

describe('EVM addresses', () => {
  it('EIP-55 vectors: lower and upper case come back checksummed; a bad checksum is refused', () => {
    for (const v of EIP55) {
      expect(checkEvmAddress(v)).toBe(v);
      expect(checkEvmAddress(v.toLowerCase())).toBe(v);
      expect(checkEvmAddress(`0x${v.slice(2).toUpperCase()}`)).toBe(v);
      // Swap the case of one letter: still mixed case, checksum broken.
      const i = v.slice(2).search(/[a-fA-F]/) + 2;
      const c = v[i] ?? '';
      const flipped =
        v.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + v.slice(i + 1);
      expect(flipped).not.toBe(v);
      expect(() => checkEvmAddress(flipped)).toThrow(
        expect.objectContaining({ code: 'SETTLEMENT_BAD_ADDRESS' }),
      );
    }
    for (const bad of [
      '',
      '0x',
      '0x123',
      `0x${'g'.repeat(40)}`,
      `${'a'.repeat(40)}`,
      42,
      null,
      'T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb',
    ])
      expect(isEvmAddress(bad)).toBe(false);
  });

  it('one key has the same 20 bytes on TRON and BTTC (checked against viem)', () => {
    for (let i = 0; i < 20; i++) {
      const key = TronKey.generate();
      const evm = privateKeyToAccount(`0x${key.exportPrivateKey()}`).address;
      expect(tronToEvmAddress(key.address)).toBe(evm);
      expect(evmToTronAddress(evm)).toBe(key.address);
      expect(BTTC_LEDGER_ADDRESSES.toLedger(BTTC_LEDGER_ADDRESSES.toChain(key.address))).toBe(key.address);
    }
    expect(() => tronToEvmAddress('0x1234')).toThrow(
      expect.objectContaining({ code: 'SETTLEMENT_BAD_ADDRESS' }),
    );
    expect(() => evmToTronAddress('T-nope')).toThrow(
      expect.objectContaining({ code: 'SETTLEMENT_BAD_ADDRESS' }),
    );
  });
});

describe('BTTC chains and token profiles', () => {
  it('are plain data with the network ids and BTT 18 decimals', () => {
    expect(BTTC_MAINNET.id).toBe(199);
    expect(BTTC_DONAU.id).toBe(1029);
    expect(BTTC_CHAINS[199]).toBe(BTTC_MAINNET);
    expect(BTTC_MAINNET.nativeCurrency).toEqual({ name: 'BitTorrent', symbol: 'BTT', decimals: 18 });
    expect(JSON.parse(JSON.stringify(BTTC_DONAU))).toEqual(BTTC_DONAU);
    expect(BTT_NATIVE).toMatchObject({ symbol: 'BTT', standard: 'native', decimals: 18 });
    expect(maxTransferAmount(BTT_NATIVE)).toBe(2n ** 256n - 1n);
  });

  it('erc20Token checksums the address and checks decimals and symbol', () => {
    const t = erc20Token({ address: EIP55[0]?.toLowerCase() ?? '', decimals: 6, symbol: 'USDT' });
    expect(t).toEqual({ symbol: 'USDT', standard: 'erc20', decimals: 6, contract: EIP55[0] });
    expect(() => erc20Token({ address: '0x12', decimals: 6, symbol: 'X' })).toThrow(
      expect.objectContaining({ code: 'SETTLEMENT_BAD_ADDRESS' }),
    );
    expect(() => erc20Token({ address: EIP55[0] ?? '', decimals: 78, symbol: 'X' })).toThrow(
      expect.objectContaining({ code: 'SETTLEMENT_BAD_OPTIONS' }),
    );
    expect(() => erc20Token({ address: EIP55[0] ?? '', decimals: 6, symbol: '' })).toThrow(
      expect.objectContaining({ code: 'SETTLEMENT_BAD_OPTIONS' }),
    );
  });
});
