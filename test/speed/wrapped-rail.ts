/**
 * The ledger's rail with knobs for tests: collects that fail on demand, opens held until
 * released, a batching `payEveryBytes`, and a log of every rail call (open, pay, accept, collect).
 */
import {
  LedgerRail,
  type LedgerRailOptions,
  type PaymentRail,
  type RailPayee,
  type RailPayer,
  type RailVoucher,
} from '../../src/speed/index.js';
import type { BttHandshake } from '../../src/wire/btt-speed.js';

export interface WrappedRailOptions {
  /** The error of collect attempt `n` (from 1), or undefined: it succeeds. */
  failCollect?: (n: number) => Error | undefined;
  /** Bytes a payer lets accrue before it signs (the ledger's: 0). */
  payEveryBytes?: number;
  /** Opens wait for this promise. */
  openGate?: Promise<void>;
  /** Channel checks (accept) wait for this promise. */
  acceptGate?: Promise<void>;
}

export class WrappedRail implements PaymentRail {
  readonly inner: LedgerRail;
  readonly id: string;
  readonly token: string;
  readonly address: string;
  readonly scheme: PaymentRail['scheme'];
  readonly hello: PaymentRail['hello'];
  readonly payEveryBytes: number;
  readonly defaultCreditBytes: number;
  /** Every rail call, in order: `open`, `pay`, `accept`, `collect`. */
  readonly calls: string[] = [];
  collects = 0;
  /** Opens and channel checks that completed. */
  opened = 0;
  accepted = 0;
  readonly #o: WrappedRailOptions;

  constructor(ledger: LedgerRailOptions, options: WrappedRailOptions = {}) {
    this.inner = new LedgerRail(ledger);
    this.#o = options;
    this.id = this.inner.id;
    this.token = this.inner.token;
    this.address = this.inner.address;
    this.scheme = this.inner.scheme;
    this.hello = this.inner.hello;
    this.payEveryBytes = options.payEveryBytes ?? this.inner.payEveryBytes;
    this.defaultCreditBytes = this.inner.defaultCreditBytes;
  }
  peerAddress(hs: BttHandshake): string | undefined {
    return this.inner.peerAddress(hs);
  }
  async open(payee: string, amount: bigint): Promise<RailPayer> {
    this.calls.push('open');
    await this.#o.openGate;
    const signer = await this.inner.open(payee, amount);
    this.opened++;
    const calls = this.calls;
    return {
      channel: signer.channel,
      get locked() {
        return signer.locked;
      },
      get cumulative() {
        return signer.cumulative;
      },
      pay(a: bigint): RailVoucher {
        calls.push('pay');
        return signer.pay(a);
      },
    };
  }
  async accept(channel: Uint8Array, payer: string): Promise<RailPayee> {
    this.calls.push('accept');
    await this.#o.acceptGate;
    try {
      return await this.inner.accept(channel, payer);
    } finally {
      this.accepted++;
    }
  }
  async collect(payee: RailPayee, _final: boolean): Promise<bigint> {
    this.calls.push('collect');
    const n = ++this.collects;
    const err = this.#o.failCollect?.(n);
    if (err) throw err;
    return this.inner.collect(payee);
  }
}
