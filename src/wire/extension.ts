import type { BDict } from '../metainfo/bencode.js';
import type { Clock } from '../util/clock.js';
import type { WireError } from './errors.js';

/** A value in an extended handshake we send (BEP 10). Numbers must be safe integers. */
export type HandshakeValue =
  | number
  | string
  | Uint8Array
  | readonly HandshakeValue[]
  | { readonly [key: string]: HandshakeValue };

/** What the wire gives each extension. */
export interface ExtensionContext {
  /** The extension's registered name. */
  readonly name: string;
  /** The wire's clock. */
  readonly clock: Clock;
  /** True once the peer's extended handshake lists this extension. */
  readonly peerSupports: boolean;
  /**
   * Sends one message of this extension (the payload after the extended id). Throws
   * `WireError` `WIRE_NOT_SUPPORTED` when the peer did not announce the extension.
   */
  send(payload: Uint8Array): void;
  /** Drops the peer with `error`. */
  drop(error: WireError): void;
}

/**
 * A BEP 10 extension, one instance per wire. Create it from an {@link ExtensionFactory} through
 * `PeerWire.use`.
 */
export interface WireExtension {
  /** The name in the `m` dictionary, e.g. `ut_metadata`. */
  readonly name: string;
  /** Largest payload accepted from the peer; larger drops the peer. */
  readonly maxPayload: number;
  /** Fields to add to our extended handshake (besides `m`), read when we send it. */
  handshakeFields?(): Readonly<Record<string, HandshakeValue>>;
  /**
   * The peer's extended handshake arrived (or was updated), whether or not it lists this
   * extension (see `ExtensionContext.peerSupports`). Throw a `WireError` to drop the peer.
   */
  onExtendedHandshake?(handshake: BDict): void;
  /** A message for this extension. Throw a `WireError` to drop the peer. */
  onMessage(payload: Uint8Array): void;
  /** The wire closed. */
  onClose?(error: WireError | undefined): void;
}

/** Builds one extension instance for one wire. */
export type ExtensionFactory<X extends WireExtension> = (context: ExtensionContext) => X;
