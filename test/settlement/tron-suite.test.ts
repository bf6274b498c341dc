import { TronKey } from '../../src/ledger/keys.js';
import { BTT, BTTOLD, TronSettlement } from '../../src/settlement/index.js';
import { TronNodeEmulator } from '../../src/settlement/testing/index.js';
import { POOR_FUNDING, settlementSuite } from './suite.js';

for (const token of [BTT, BTTOLD]) {
  settlementSuite(`TronSettlement + TronNodeEmulator (${token.symbol})`, async () => {
    const node = await TronNodeEmulator.start({ solidityLag: 2 });
    const keys = [TronKey.generate(), TronKey.generate(), TronKey.generate()] as const;
    const funding = token.standard === 'trc20' ? 2n ** 80n : 2n ** 62n;
    node.mint(keys[0].address, token, funding);
    node.mint(keys[1].address, token, funding);
    node.mint(keys[2].address, token, POOR_FUNDING);
    node.mine(3);
    const connect = (key: TronKey) =>
      TronSettlement.connect({
        key,
        token,
        fullNode: node.url,
        pollMs: 10,
        depositStartBlock: node.head.number,
      });
    return {
      token,
      hot: await connect(keys[0]),
      user: await connect(keys[1]),
      poor: await connect(keys[2]),
      funding,
      newAddress: () => TronKey.generate().address,
      mine: (n) => node.mine(n),
      confirmBlocks: 3,
      feePaid: async () => 0n,
      // TRON: a transaction expires 60 s (20 blocks) after its reference block.
      kill: async () => {
        node.mine(25 + 3);
        return 'SETTLEMENT_TX_EXPIRED';
      },
      close: () => node.close(),
    };
  });
}
