/**
 * Test support for settlement: a loopback TRON node for tronweb, for bttkit's tests and yours.
 * @module settlement/testing
 */
export { type EmulatedTransfer, TronNodeEmulator, type TronNodeEmulatorOptions } from './emulator.js';
