import type { InfoDictionary } from '../metainfo/torrent.js';
import { filePiecePriorities, PiecePicker, type Priority } from '../picker/picker.js';
import type { ChunkStore, RecheckResume } from '../storage/types.js';
import { pieceDataLengths } from '../storage/verifier.js';
import { Bitfield } from '../util/bitfield.js';
import { SessionError } from './errors.js';

/**
 * The picker of a torrent whose metadata just came: file priorities applied (skipped files
 * marked in the store), and what the store already holds (its recheck) marked as ours.
 */
export async function openPicker(
  info: InfoDictionary,
  store: ChunkStore,
  blockSize: number,
  priorities: readonly Priority[] | undefined,
  random: (() => number) | undefined,
  resume?: RecheckResume,
): Promise<PiecePicker<string>> {
  const dataLengths = pieceDataLengths(info);
  const picker = new PiecePicker<string>({
    ...(dataLengths ? { pieceDataLengths: dataLengths } : {}),
    pieceCount: info.pieceCount,
    pieceLength: info.pieceLength,
    lastPieceLength: info.lastPieceLength,
    blockSize,
    ...(random ? { random } : {}),
  });
  if (priorities) await applyFilePriorities(info, picker, store, priorities);
  const have = new Bitfield(info.pieceCount, await store.recheck(resume ? { resume } : {}));
  for (let i = 0; i < info.pieceCount; i++) if (have.get(i)) picker.markHave(i);
  return picker;
}

/** Per-file priorities (0 = skip; one per file, checked by the caller) to the picker and store. */
export async function applyFilePriorities(
  info: InfoDictionary,
  picker: PiecePicker<string>,
  store: ChunkStore,
  priorities: readonly Priority[],
): Promise<void> {
  picker.setPriorities(filePiecePriorities(info.files, priorities, info.pieceLength, info.pieceCount));
  for (let i = 0; i < priorities.length; i++) await store.setFileSkipped(i, priorities[i] === 0);
}

/**
 * Throws unless `priorities` has one entry per file of `info`.
 * @throws {SessionError} `SESSION_BAD_FILE_PRIORITIES`
 */
export function checkFilePriorities(info: InfoDictionary, priorities: readonly Priority[]): void {
  if (priorities.length !== info.files.length)
    throw new SessionError('SESSION_BAD_FILE_PRIORITIES', 'one priority per file is needed', {
      details: { files: info.files.length, priorities: priorities.length },
    });
}
