/**
 * bttkit: BitTorrent with BitTorrent Speed–style BTT incentives.
 *
 * The root export gathers the common entry points; each module is also a subpath export
 * (`bttkit/metainfo`, `bttkit/util`, …) usable on its own.
 * @module bttkit
 */
export * from './metainfo/index.js';
export * from './session/index.js';
export * from './util/index.js';
export { VERSION } from './version.js';
