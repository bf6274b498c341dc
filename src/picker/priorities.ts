import { PickerError } from './errors.js';
import type { Priority } from './types.js';

/**
 * Piece priorities from file priorities: a piece takes the highest priority of the files it
 * overlaps (so a piece shared with a wanted file is downloaded even if the other file is
 * skipped). Zero-length files overlap nothing.
 * @throws {PickerError} `PICKER_WRONG_LENGTH` unless there is one priority per file.
 */
export function filePiecePriorities(
  files: readonly { offset: number; length: number }[],
  filePriorities: readonly Priority[],
  pieceLength: number,
  pieceCount: number,
): Uint8Array {
  if (files.length !== filePriorities.length) {
    throw new PickerError('PICKER_WRONG_LENGTH', 'one priority per file', {
      details: { files: files.length, priorities: filePriorities.length },
    });
  }
  const out = new Uint8Array(pieceCount);
  files.forEach((f, k) => {
    if (f.length === 0) return;
    const prio = filePriorities[k] as number;
    const first = Math.floor(f.offset / pieceLength);
    const last = Math.min(pieceCount - 1, Math.floor((f.offset + f.length - 1) / pieceLength));
    for (let i = first; i <= last; i++) if (prio > (out[i] as number)) out[i] = prio;
  });
  return out;
}
