/**
 * Shared foundations: typed errors, the injectable {@link Clock}, byte helpers and hashing.
 * @module util
 */
export * from './bitfield.js';
export * from './bytes.js';
export * from './clock.js';
export * from './emitter.js';
export * from './errors.js';
export * from './hash.js';
export { formatIp, ipBytes, ipVersion, normalizeHost } from './ip.js';
export * from './transport.js';
