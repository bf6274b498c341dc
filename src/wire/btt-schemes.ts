/**
 * Voucher schemes of `btt_speed` (docs/btt-extension.md, "Voucher schemes"): their names, the
 * lengths of their channel ids and signatures, and negotiation.
 * @module
 */
import type { BttHandshake } from './btt-speed.js';

/** Channel ids (bytes32 of the BTTC channel contract) in scheme `eip712-bttc`. */
export const BTT_EIP712_CHANNEL_ID_LENGTH = 32;
/** EIP-712 signatures (r ‖ s ‖ v) in scheme `eip712-bttc`. */
export const BTT_EIP712_SIGNATURE_LENGTH = 65;

/** Voucher scheme of the ledger's channels: ed25519 vouchers (the default, and all an old peer knows). */
export const BTT_SCHEME_ED25519 = 'ed25519-ledger';
/** Voucher scheme of the BTTC channel contract: EIP-712 typed-data vouchers, secp256k1. */
export const BTT_SCHEME_EIP712 = 'eip712-bttc';
/** A voucher scheme this codec knows. */
export type BttVoucherScheme = typeof BTT_SCHEME_ED25519 | typeof BTT_SCHEME_EIP712;
/** Every scheme this codec knows. */
export const BTT_SCHEMES: readonly BttVoucherScheme[] = [BTT_SCHEME_ED25519, BTT_SCHEME_EIP712];
/** Most entries in a handshake's `vs` list. */
export const BTT_MAX_SCHEMES = 8;
/** Channel id and signature lengths per scheme. */
export const BTT_SCHEME_LENGTHS: Readonly<Record<BttVoucherScheme, { ch: number; sig: number }>> = {
  [BTT_SCHEME_ED25519]: { ch: 16, sig: 64 },
  [BTT_SCHEME_EIP712]: { ch: BTT_EIP712_CHANNEL_ID_LENGTH, sig: BTT_EIP712_SIGNATURE_LENGTH },
};
/** What a payee needs of the `eip712-bttc` scheme: where its channels live and whom they pay. */
export interface BttEvmInfo {
  /** EVM chain id (BTTC mainnet 199, Donau 1029), 1 … 2⁵³ − 1. */
  chainId: number;
  /** The channel contract (`0x` + 40 lower-case hex digits). */
  contract: string;
  /** The peer's EVM account, the payee of channels to it (`0x` + 40 lower-case hex digits). */
  addr: string;
}

/** The schemes a handshake offers: its `vs`, or `ed25519-ledger` alone when absent. */
export function bttSchemesOf(h: BttHandshake): BttVoucherScheme[] {
  return h.vs ? [...h.vs] : [BTT_SCHEME_ED25519];
}

/**
 * The scheme to pay a peer with: the first of `ours` (our preference) that the peer offers, or
 * `undefined`. For `eip712-bttc` the payment layer must also check the peer's chain and contract.
 */
export function negotiateScheme(
  ours: readonly BttVoucherScheme[],
  theirs: BttHandshake,
): BttVoucherScheme | undefined {
  const offered = bttSchemesOf(theirs);
  return ours.find((s) => offered.includes(s));
}
