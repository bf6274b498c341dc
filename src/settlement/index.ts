/**
 * Settlement on TRON: the {@link SettlementAdapter} interface, token profiles, `TronSettlement`
 * (tronweb, loaded on first use), the in-process `LocalChain`, and the `Settler` that connects an
 * adapter to the ledger (deposits credited once, withdrawals paid exactly once). Test support
 * (`TronNodeEmulator`) lives in `bttkit/settlement/testing`. See `docs/settlement.md`.
 * @module settlement
 */
export { provablyExpired } from './_common.js';
export {
  addressFromBytes,
  addressOfPrivateKey,
  addressToBytes,
  type ChannelIdInput,
  channelIdBytes,
  channelIdFor,
  domainSeparator,
  EIP712_CHANNEL_ID_LENGTH,
  EIP712_DOMAIN_NAME,
  EIP712_DOMAIN_TYPE,
  EIP712_DOMAIN_TYPEHASH,
  EIP712_DOMAIN_VERSION,
  EIP712_SIGNATURE_LENGTH,
  type Eip712Voucher,
  Eip712VoucherSigner,
  type Eip712VoucherSignerOptions,
  Eip712VoucherVerifier,
  type Eip712VoucherVerifierOptions,
  formatChannelId,
  isAddress,
  MAX_UINT256,
  parseAddress,
  recoverDigestSigner,
  recoverVoucherSigner,
  type SignatureFault,
  signEip712Voucher,
  signVoucherDigest,
  toChecksumAddress,
  VOUCHER_TYPE,
  VOUCHER_TYPEHASH,
  type VoucherDomain,
  verifyEip712VoucherSignature,
  voucherDigest,
  voucherStructHash,
  ZERO_ADDRESS,
} from './bttc/voucher.js';
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
