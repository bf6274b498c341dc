/**
 * The mainline DHT (BEP 5) and BEP 44 storage: a typed, hardened layer over `bittorrent-dht`.
 * @module dht
 */
export {
  Dht,
  type DhtEvents,
  type DhtItem,
  type DhtKeyPair,
  type DhtOptions,
  MAINLINE_ROUTERS,
} from './dht.js';
export { DHT_ERROR_CODES, DhtError, type DhtErrorCode } from './errors.js';
