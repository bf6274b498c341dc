import { Client, type ClientOptions } from '../session/client.js';
import { type SpeedOptions, SpeedPlugin } from './plugin.js';

/** Options of {@link SpeedClient}: a {@link ClientOptions} plus `speed`. */
export interface SpeedClientOptions extends ClientOptions {
  /** BitTorrent Speed: off when absent. */
  speed?: SpeedOptions;
}

/**
 * A {@link Client} with BitTorrent Speed as an option — `new SpeedClient({ speed: { wallet,
 * ledger, ledgerId, budget, reservePrice, strategy } })` — the same as adding `speed(options)` to
 * `plugins`. Without `speed` it is a plain client.
 */
export class SpeedClient extends Client {
  /** The payment plug-in (its events: `bid`, `grant`, `paid`, `earned`, `revoked`, `redeemed`). */
  readonly speed: SpeedPlugin | undefined;

  constructor(options: SpeedClientOptions = {}) {
    const plugin = options.speed ? new SpeedPlugin(options.speed) : undefined;
    super({ ...options, plugins: [...(options.plugins ?? []), ...(plugin ? [plugin] : [])] });
    this.speed = plugin;
  }
}
