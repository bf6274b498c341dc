import { type BDict, decode } from '../metainfo/bencode.js';
import type { Clock } from '../util/clock.js';
import { WireError } from './errors.js';
import type { ExtensionContext, ExtensionFactory, HandshakeValue, WireExtension } from './extension.js';

/** The peer's BEP 10 handshake, with the common fields pulled out. */
export interface ExtendedHandshakeInfo {
  /** The whole decoded dictionary. */
  dict: BDict;
  /** Extension name → the peer's id for it (only those with id 1–255). */
  extensions: ReadonlyMap<string, number>;
  /** `reqq`: how many requests the peer queues, if it said. */
  reqq?: number;
  /** `v`: client name and version. */
  client?: string;
  /** `p`: the peer's listen port. */
  port?: number;
}

/** What an {@link ExtensionRegistry} needs from its wire. */
export interface ExtensionHost {
  readonly clock: Clock;
  readonly closed: boolean;
  /** Sends one BEP 10 message with the peer's id for the extension. */
  sendExtended(id: number, payload: Uint8Array): void;
  drop(error: WireError): void;
}

/** Most extensions one wire registers (BEP 10 ids 1–255, some left for growth). */
export const MAX_EXTENSIONS = 250;

/** Turns what an extension threw into a {@link WireError} (`WIRE_EXTENSION_ERROR` unless it is one). */
export function extensionError(err: unknown): WireError {
  if (err instanceof WireError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new WireError('WIRE_EXTENSION_ERROR', `an extension threw: ${msg}`, { cause: err });
}

/**
 * The BEP 10 extensions of one wire: registration (our id for extension i is i + 1), the
 * peer's ids from its extended handshake, and dispatch of incoming messages by our id.
 */
export class ExtensionRegistry {
  readonly #host: ExtensionHost;
  readonly #extensions: WireExtension[] = [];
  readonly #byName = new Map<string, WireExtension>();
  readonly #peerIds = new Map<string, number>();

  constructor(host: ExtensionHost) {
    this.#host = host;
  }

  /** Registers an extension built by `factory` (the wire checks it is not too late). */
  use<X extends WireExtension>(factory: ExtensionFactory<X>): X {
    const host = this.#host;
    const peerIds = this.#peerIds;
    let name = '';
    const ctx: ExtensionContext = {
      get name() {
        return name;
      },
      clock: host.clock,
      get peerSupports() {
        return peerIds.has(name);
      },
      send: (payload) => this.#send(name, payload),
      drop: (error) => host.drop(error),
    };
    const ext = factory(ctx);
    name = ext.name;
    if (this.#byName.has(name)) throw new WireError('WIRE_DUPLICATE_EXTENSION', `${name} registered twice`);
    if (this.#extensions.length >= MAX_EXTENSIONS)
      throw new WireError('WIRE_TOO_MANY_EXTENSIONS', 'too many extensions');
    this.#extensions.push(ext);
    this.#byName.set(name, ext);
    return ext;
  }

  /** True when the peer's extended handshake lists `name`. */
  peerSupports(name: string): boolean {
    return this.#peerIds.has(name);
  }

  /** Our extensions' names, in id order (id = index + 1). */
  names(): string[] {
    return this.#extensions.map((e) => e.name);
  }

  /** Adds each extension's handshake fields to `fields`. */
  addHandshakeFields(fields: Record<string, HandshakeValue>): void {
    for (const ext of this.#extensions) Object.assign(fields, ext.handshakeFields?.() ?? {});
  }

  #send(name: string, payload: Uint8Array): void {
    const id = this.#peerIds.get(name);
    if (id === undefined) throw new WireError('WIRE_NOT_SUPPORTED', `the peer does not support ${name}`);
    if (this.#host.closed) return;
    this.#host.sendExtended(id, payload);
  }

  /** A BEP 10 message with our id `id` (not 0). Throws a {@link WireError} to drop the peer. */
  onMessage(id: number, payload: Uint8Array): void {
    const ext = this.#extensions[id - 1];
    if (!ext) return; // not an id we gave out: ignored, as BEP 10 asks
    if (payload.length > ext.maxPayload) {
      throw new WireError(
        'WIRE_EXTENSION_MESSAGE_TOO_LARGE',
        `${ext.name} message of ${payload.length} bytes`,
        {
          details: { extension: ext.name, length: payload.length, max: ext.maxPayload },
        },
      );
    }
    try {
      ext.onMessage(payload);
    } catch (err) {
      throw extensionError(err);
    }
  }

  /**
   * Parses the peer's extended handshake (bounded) and takes its extension ids.
   * Throws `WIRE_BAD_EXTENDED_HANDSHAKE`.
   */
  parseHandshake(payload: Uint8Array): ExtendedHandshakeInfo {
    let dict: BDict;
    try {
      const v = decode(payload, { maxBytes: payload.length, maxDepth: 16, maxItems: 10_000 });
      if (!(v instanceof Map)) throw new WireError('WIRE_BAD_EXTENDED_HANDSHAKE', 'not a dictionary');
      dict = v;
    } catch (err) {
      if (err instanceof WireError) throw err;
      throw new WireError('WIRE_BAD_EXTENDED_HANDSHAKE', 'malformed extended handshake', { cause: err });
    }
    const m = dict.get('m');
    if (m !== undefined) {
      if (!(m instanceof Map)) throw new WireError('WIRE_BAD_EXTENDED_HANDSHAKE', '`m` is not a dictionary');
      for (const [name, v] of m) {
        if (typeof v !== 'bigint' || v < 0n || v > 255n) continue;
        if (v === 0n) this.#peerIds.delete(name);
        else this.#peerIds.set(name, Number(v));
      }
    }
    const info: ExtendedHandshakeInfo = { dict, extensions: new Map(this.#peerIds) };
    const reqq = dict.get('reqq');
    if (typeof reqq === 'bigint' && reqq > 0n && reqq <= 1_000_000n) info.reqq = Number(reqq);
    const v = dict.get('v');
    if (v instanceof Uint8Array && v.length <= 256) info.client = new TextDecoder().decode(v);
    const p = dict.get('p');
    if (typeof p === 'bigint' && p > 0n && p < 65536n) info.port = Number(p);
    return info;
  }

  /** Tells each extension about the peer's extended handshake, until the wire closes. */
  deliverHandshake(dict: BDict): void {
    for (const ext of this.#extensions) {
      if (this.#host.closed) return;
      try {
        ext.onExtendedHandshake?.(dict);
      } catch (err) {
        throw extensionError(err);
      }
    }
  }

  /** Tells each extension the wire closed; one that throws does not stop the others. */
  close(error: WireError | undefined): void {
    for (const ext of this.#extensions) {
      try {
        ext.onClose?.(error);
      } catch {
        // An extension failing while closing must not stop the others.
      }
    }
  }
}
