/**
 * A pure piece picker: availability, rarest-first, sequential and streaming, priorities,
 * block tracking and endgame. No I/O, no timers.
 * @module picker
 */
export { Bitfield } from '../util/bitfield.js';
export { PICKER_ERROR_CODES, PickerError, type PickerErrorCode } from './errors.js';
export { PiecePicker } from './picker.js';
export { filePiecePriorities } from './priorities.js';
export {
  type BlockReceipt,
  type PeerBlock,
  type PickedBlock,
  type PickerOptions,
  type PickMode,
  type PickOptions,
  PRIORITY,
  type Priority,
} from './types.js';
