/** Re-exported from util, where every module can reach it. */
export { type EventMap, TypedEmitter } from '../util/emitter.js';
