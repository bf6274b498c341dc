import { randomBytes } from 'node:crypto';
import { utf8 } from '../util/bytes.js';
import { VERSION } from '../version.js';
import { SessionError } from './errors.js';
import type { Settings } from './settings.js';

const ENCRYPTION_POLICIES: readonly string[] = ['disabled', 'enabled', 'forced'];

/** @throws {SessionError} `SESSION_BAD_SETTINGS` for transport and encryption settings that make no sense. */
export function checkLinkSettings(s: Readonly<Settings>): void {
  if (!ENCRYPTION_POLICIES.includes(s.encryption))
    throw new SessionError('SESSION_BAD_SETTINGS', 'encryption must be disabled, enabled or forced');
  if (!s.enableTcp && !s.enableUtp)
    throw new SessionError('SESSION_BAD_SETTINGS', 'enableTcp and enableUtp cannot both be off');
}

/**
 * @throws {SessionError} `SESSION_BAD_SETTINGS` for a block size that is not a power of two in
 *   16 KiB–4 MiB, a `maxOpenFiles` below 1, a negative `resumeSaveIntervalMs` or
 *   `maxAnnouncesPerSecond` (0: no limit).
 */
export function checkScaleSettings(s: Readonly<Settings>): void {
  const bs = s.blockSize;
  if (!(Number.isInteger(bs) && bs >= 16384 && bs <= 4 * 1024 * 1024 && (bs & (bs - 1)) === 0))
    throw new SessionError('SESSION_BAD_SETTINGS', 'blockSize must be a power of two from 16 KiB to 4 MiB');
  if (!(Number.isInteger(s.maxOpenFiles) && s.maxOpenFiles >= 1))
    throw new SessionError('SESSION_BAD_SETTINGS', 'maxOpenFiles must be an integer ≥ 1');
  if (!(s.resumeSaveIntervalMs >= 0 && Number.isFinite(s.resumeSaveIntervalMs)))
    throw new SessionError('SESSION_BAD_SETTINGS', 'resumeSaveIntervalMs must be a finite number ≥ 0');
  if (!(s.maxAnnouncesPerSecond >= 0))
    throw new SessionError('SESSION_BAD_SETTINGS', 'maxAnnouncesPerSecond must be ≥ 0 (0: no limit)');
}

/** `-BK<version>-` and 12 random bytes (Azureus style). */
export function defaultPeerId(): Uint8Array {
  const v = VERSION.split('.').map((n) => n.padStart(1, '0'));
  const prefix = utf8(
    `-BK${(v[0] ?? '0').slice(0, 1)}${(v[1] ?? '0').padStart(2, '0').slice(0, 2)}${(v[2] ?? '0').slice(0, 1)}-`,
  );
  const id = new Uint8Array(20);
  id.set(prefix);
  id.set(randomBytes(12), 8);
  return id;
}
