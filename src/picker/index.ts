/**
 * A pure piece picker: availability, rarest-first, sequential and streaming, priorities,
 * block tracking and endgame. No I/O, no timers.
 * @module picker
 */
export { Bitfield } from '../util/bitfield.js';
export {
  type BlockReceipt,
  type BlockRequest,
  filePiecePriorities,
  type PeerBlock,
  type PickerOptions,
  type PickMode,
  PiecePicker,
  PRIORITY,
  type Priority,
} from './picker.js';
