import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * The codes of {@link PickerError}. Every code is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `PICKER_BAD_OPTIONS` | `pieceCount`, `pieceLength` or `lastPieceLength` out of range |
 * | `PICKER_OUT_OF_RANGE` | a piece index outside the torrent (`have`, `setPiecePriority`) |
 * | `PICKER_BAD_BITFIELD` | a peer's bitfield of the wrong size |
 * | `PICKER_BAD_PRIORITY` | a priority that is not an integer in 0..7 |
 * | `PICKER_WRONG_LENGTH` | a list of priorities that is not one per piece (or one per file) |
 * | `PICKER_INVARIANT` | `checkInvariant()` found the picker inconsistent (a bug: please report it) |
 */
export const PICKER_ERROR_CODES = [
  'PICKER_BAD_OPTIONS',
  'PICKER_OUT_OF_RANGE',
  'PICKER_BAD_BITFIELD',
  'PICKER_BAD_PRIORITY',
  'PICKER_WRONG_LENGTH',
  'PICKER_INVARIANT',
] as const;

/** One of {@link PICKER_ERROR_CODES}. */
export type PickerErrorCode = (typeof PICKER_ERROR_CODES)[number];

/** An error of the {@link PiecePicker}. `code` is one of {@link PickerErrorCode}. */
export class PickerError extends BttkitError {
  declare readonly code: PickerErrorCode;

  constructor(code: PickerErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}
