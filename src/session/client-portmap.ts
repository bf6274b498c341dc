import { PortMapper, type PortMapperOptions } from '../net/portmap.js';
import { isLoopbackHost, localNetworkAllowed } from '../net/route.js';
import type { BttkitError } from '../util/errors.js';
import type { Endpoint } from '../util/transport.js';
import { SessionError } from './errors.js';
import type { Settings } from './settings.js';

/** How long the announce port waits for the first mapping attempt before using the local port, ms. */
const SETTLE_MS = 15_000;

/** @throws {SessionError} `SESSION_BAD_SETTINGS` for a lease out of range. */
export function checkPortMapSettings(s: Readonly<Settings>): void {
  const lease = s.portMappingLease;
  if (!Number.isInteger(lease) || lease < 10 || lease > 604800)
    throw new SessionError(
      'SESSION_BAD_SETTINGS',
      'portMappingLease must be an integer in 10–604800 seconds',
    );
}

/**
 * The client's port mapping: a {@link PortMapper} for the listening port, started after
 * `listen()` when the settings allow (never for a loopback address, nor with
 * `BTTKIT_LOCAL_NETWORK=off`), and the port to announce — the router's external port once
 * mapped. Until the first attempt settles (bounded) the announce port is undefined, so trackers
 * start with the right port.
 */
export class ClientPortMapping {
  readonly #settings: Readonly<Settings>;
  readonly #warn: (err: BttkitError) => void;
  readonly #extra: Partial<PortMapperOptions>;
  #mapper: PortMapper | undefined;
  #settled = true;

  constructor(
    settings: Readonly<Settings>,
    warn: (err: BttkitError) => void,
    extra: Partial<PortMapperOptions> = {},
  ) {
    this.#settings = settings;
    this.#warn = warn;
    this.#extra = extra;
  }

  /** The running mapper (its `mappings`, `external` and events), or undefined when off. */
  get mapper(): PortMapper | undefined {
    return this.#mapper;
  }

  /** Starts mapping the bound port (no-op when off, on loopback, or already started). */
  start(bound: Endpoint): void {
    if (this.#mapper || !this.#settings.portMapping || !localNetworkAllowed()) return;
    if (isLoopbackHost(bound.host) || bound.port === 0) return;
    const wildcard = bound.host === '0.0.0.0' || bound.host === '::' || bound.host === '';
    const mapper = new PortMapper({
      port: bound.port,
      lifetime: this.#settings.portMappingLease,
      ...(wildcard || bound.host.includes(':') ? {} : { internalAddress: bound.host }),
      ...this.#extra,
    });
    mapper.on('warning', (e) => this.#warn(e));
    this.#mapper = mapper;
    this.#settled = false;
    const settle = setTimeout(() => {
      this.#settled = true;
    }, SETTLE_MS);
    settle.unref?.();
    void mapper.start().finally(() => {
      clearTimeout(settle);
      this.#settled = true;
    });
  }

  /**
   * The port peers should reach us on: the router's external TCP port when mapped, else the
   * local one; undefined while the first mapping attempt is under way.
   */
  announcePort(local: number | undefined): number | undefined {
    if (!this.#settled) return undefined;
    return this.#mapper?.external?.port ?? local;
  }

  /** Removes the mappings (bounded). */
  async stop(): Promise<void> {
    await this.#mapper?.stop();
  }
}
