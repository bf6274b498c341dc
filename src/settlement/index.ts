/**
 * Settlement on TRON and BTTC: the {@link SettlementAdapter} interface, token profiles,
 * `TronSettlement` (tronweb, loaded on first use), `BttcSettlement` (BTTC, an EVM chain, on viem,
 * loaded on first use) with BTTC's chains as plain data, the in-process `LocalChain`, and the
 * `Settler` that connects an adapter to the ledger (deposits credited once, withdrawals paid
 * exactly once). Test support (`TronNodeEmulator`) lives in `bttkit/settlement/testing`. See
 * `docs/settlement.md`.
 * @module settlement
 */
export { provablyExpired } from './_common.js';
export {
  addressFromBytes,
  addressOfPrivateKey,
  addressToBytes,
  BTTC_LEDGER_ADDRESSES,
  checkEvmAddress,
  evmToTronAddress,
  isEvmAddress,
  toChecksumAddress,
  tronToEvmAddress,
} from './bttc/address.js';
export { bttkitChannelAbi, bttkitChannelBytecode, SOLC_VERSION } from './bttc/artifacts.js';
export {
  BTT_NATIVE,
  BTTC_CHAINS,
  BTTC_DONAU,
  BTTC_MAINNET,
  type Erc20Description,
  type EvmChain,
  erc20Token,
} from './bttc/chains.js';
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
export { BttcSettlement, type BttcSettlementOptions } from './bttc/settlement.js';
export {
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
  MAX_UINT256,
  recoverDigestSigner,
  recoverVoucherSigner,
  type SignatureFault,
  signEip712Voucher,
  signVoucherDigest,
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
  type AddressMapping,
  type DepositSync,
  type PayOptions,
  Settler,
  type SettlerOptions,
  type SettlerPhase,
  type WithdrawalOutcome,
} from './settler.js';
export { TronSettlement, type TronSettlementOptions } from './tron-settlement.js';
export type * from './types.js';
