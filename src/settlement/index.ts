/**
 * Settlement on TRON: the {@link SettlementAdapter} interface, token profiles, `TronSettlement`
 * (tronweb, loaded on first use), the in-process `LocalChain`, and the `Settler` that connects an
 * adapter to the ledger (deposits credited once, withdrawals paid exactly once). Test support
 * (`TronNodeEmulator`) lives in `bttkit/settlement/testing`. See `docs/settlement.md`.
 * @module settlement
 */
export { provablyExpired } from './_common.js';
export { bttkitChannelAbi, bttkitChannelBytecode, SOLC_VERSION } from './bttc/artifacts.js';
export { BttcChannels, bttcChannelId } from './bttc/channel.js';
export {
  type BttcChannelParams,
  type BttcChannelState,
  type BttcChannelStatus,
  type BttcChannelsOptions,
  type BttcCloseResult,
  type BttcDeployOptions,
  type BttcOpenArgs,
  type BttcOpenResult,
  type BttcTxResult,
  type BttcVoucher,
  type BttcVoucherDomain,
  MAX_CHANNEL_DEPOSIT,
  NATIVE_TOKEN,
} from './bttc/channel-types.js';
export {
  BALANCE_OF_SELECTOR,
  BLOCK_INTERVAL_MS,
  BTT,
  BTTOLD,
  DEFAULT_FEE_LIMIT,
  MAX_FEE_LIMIT,
  MAX_TRC10_AMOUNT,
  MAX_TRC20_AMOUNT,
  maxTransferAmount,
  TOKEN_PROFILES,
  type TokenProfile,
  type TokenStandard,
  TRANSFER_SELECTOR,
  TRANSFER_TOPIC,
  TX_LIFETIME_MS,
  unitsPerToken,
} from './constants.js';
export { SETTLEMENT_ERROR_CODES, SettlementError, type SettlementErrorCode } from './errors.js';
export {
  type JournaledWithdrawal,
  MAX_SETTLEMENT_RECORD,
  SETTLEMENT_JOURNAL_MAGIC,
  SettlementJournal,
} from './journal.js';
export { LocalChain, type LocalChainOptions, type LocalTransfer } from './local-chain.js';
export {
  type DepositSync,
  type PayOptions,
  Settler,
  type SettlerOptions,
  type SettlerPhase,
  type WithdrawalOutcome,
} from './settler.js';
export { TronSettlement, type TronSettlementOptions } from './tron-settlement.js';
export type * from './types.js';
