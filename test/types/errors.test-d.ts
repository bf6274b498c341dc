/**
 * Error classes take only their module's codes: an unlisted or unprefixed code does not compile,
 * and `err.code` is typed by the module's list. Checked by `npx tsc --noEmit`.
 */
import { describe, expectTypeOf, test } from 'vitest';
import { CliError, type CliErrorCode } from '../../src/cli/errors.js';
import { DhtError, type DhtErrorCode } from '../../src/dht/index.js';
import {
  BencodeError,
  type BencodeErrorCode,
  MagnetError,
  type MagnetErrorCode,
  MetainfoError,
  type MetainfoErrorCode,
} from '../../src/metainfo/index.js';
import { SpeedError, type SpeedErrorCode } from '../../src/speed/index.js';
import { TrackerError, type TrackerErrorCode } from '../../src/tracker/index.js';
import {
  type AbortError,
  ArgumentError,
  TransportError,
  type TransportErrorCode,
  type UtilErrorCode,
} from '../../src/util/index.js';

describe('error classes are typed by their code lists', () => {
  test('err.code is the module code type', () => {
    expectTypeOf<ArgumentError['code']>().toEqualTypeOf<UtilErrorCode>();
    expectTypeOf<AbortError['code']>().toEqualTypeOf<'ABORTED'>();
    expectTypeOf<TransportError['code']>().toEqualTypeOf<TransportErrorCode>();
    expectTypeOf<BencodeError['code']>().toEqualTypeOf<BencodeErrorCode>();
    expectTypeOf<MetainfoError['code']>().toEqualTypeOf<MetainfoErrorCode>();
    expectTypeOf<MagnetError['code']>().toEqualTypeOf<MagnetErrorCode>();
    expectTypeOf<TrackerError['code']>().toEqualTypeOf<TrackerErrorCode>();
    expectTypeOf<DhtError['code']>().toEqualTypeOf<DhtErrorCode>();
    expectTypeOf<SpeedError['code']>().toEqualTypeOf<SpeedErrorCode>();
    expectTypeOf<CliError['code']>().toEqualTypeOf<CliErrorCode>();
  });

  test('a code of another module, or without a prefix, does not compile', () => {
    const f = () => [
      new TrackerError('TRACKER_TIMEOUT', 'ok'),
      // @ts-expect-error: the old unprefixed code
      new ArgumentError('BAD_HEX', 'x'),
      // @ts-expect-error: a tracker code on a DHT error
      new DhtError('TRACKER_TIMEOUT', 'x'),
      // @ts-expect-error: the old createTorrent code
      new MetainfoError('CREATE_EMPTY', 'x'),
      // @ts-expect-error: a metainfo code on a bencode error
      new BencodeError('METAINFO_EMPTY', 'x'),
      // @ts-expect-error: a misspelled magnet code
      new MagnetError('MAGNET_BAD_HASH', 'x'),
      // @ts-expect-error: not a speed code
      new SpeedError('BAD_VOUCHER', 'x'),
      // @ts-expect-error: a session code on a transport error
      new TransportError('SESSION_CONNECT_FAILED', 'x'),
      // @ts-expect-error: the CLI's codes carry CLI_
      new CliError('USAGE', 'x'),
      // @ts-expect-error: a tracker code must be listed
      new TrackerError('TRACKER_OOPS', 'x'),
    ];
    expectTypeOf(f).toBeFunction();
  });
});
