import { describe, expect, it } from 'vitest';
import { TronKey } from '../../src/ledger/keys.js';
import { BTT, BTTOLD, LocalChain } from '../../src/settlement/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { POOR_FUNDING, settlementSuite } from './suite.js';

for (const token of [BTT, BTTOLD]) {
  settlementSuite(`LocalChain (${token.symbol})`, async () => {
    const chain = new LocalChain({ token, clock: new ManualClock(), solidityLag: 2 });
    const hot = TronKey.generate().address;
    const user = TronKey.generate().address;
    const poor = TronKey.generate().address;
    const funding = token.standard === 'trc20' ? 2n ** 80n : 2n ** 62n;
    chain.mint(hot, funding);
    chain.mint(user, funding);
    chain.mint(poor, POOR_FUNDING);
    return {
      token,
      hot: chain.wallet(hot),
      user: chain.wallet(user),
      poor: chain.wallet(poor),
      funding,
      newAddress: () => TronKey.generate().address,
      mine: (n) => chain.mine(n),
      confirmBlocks: 3,
      feePaid: async () => 0n,
      kill: async () => {
        chain.mine(25 + 3);
        return 'SETTLEMENT_TX_EXPIRED';
      },
      close: async () => chain.stop(),
    };
  });
}

describe('LocalChain', () => {
  it('mines on a timer of the injected clock', async () => {
    const clock = new ManualClock();
    const chain = new LocalChain({ clock, autoMine: true, blockIntervalMs: 1000 });
    const a = TronKey.generate().address;
    const b = TronKey.generate().address;
    chain.mint(a, 100n);
    const { txid } = await chain.wallet(a).transfer(b, 40n, 'k');
    expect(chain.head.number).toBe(0);
    const confirmed = chain.wallet(a).confirm(txid);
    clock.advance(1000);
    await Promise.resolve();
    clock.advance(1000);
    expect((await confirmed).state).toBe('confirmed');
    expect(chain.head.number).toBeGreaterThanOrEqual(1);
    expect(chain.balanceOf(b)).toBe(40n);
    expect(chain.transfers()).toHaveLength(1);
    chain.stop();
    clock.advance(10_000);
    const n = chain.head.number;
    clock.advance(10_000);
    expect(chain.head.number).toBe(n);
  });

  it('refuses a TRC-10 amount above 2^53-1', async () => {
    const chain = new LocalChain({ token: BTTOLD });
    await expect(
      chain.wallet(TronKey.generate().address).prepare(TronKey.generate().address, 2n ** 53n, {}),
    ).rejects.toMatchObject({
      code: 'SETTLEMENT_AMOUNT_OUT_OF_RANGE',
    });
  });
});
