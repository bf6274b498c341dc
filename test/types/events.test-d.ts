/**
 * Strict event maps: for every public emitter, a misspelled event name must fail to compile.
 * Checked by `npx tsc --noEmit` (tsconfig includes test/) and by `vitest --typecheck`.
 *
 * Two proofs per emitter: `keyof` its event map is a closed set of names (not `string`), and a
 * misspelled name passed to `on` / `once` / `off` is a compile error (`@ts-expect-error` fails the
 * build if the line compiles).
 */
import { describe, expectTypeOf, test } from 'vitest';
import type { Dht, DhtEvents } from '../../src/dht/index.js';
import type { Torrent, TorrentEvents } from '../../src/session/index.js';
import type { SpeedEvents, SpeedPlugin } from '../../src/speed/index.js';
import type { TrackerClient, TrackerClientEvents } from '../../src/tracker/index.js';
import type { EventMap } from '../../src/util/index.js';
import type {
  BttSpeedEvents,
  BttSpeedExtension,
  PeerWire,
  PeerWireEvents,
  UtMetadataEvents,
  UtMetadataExtension,
  UtPexEvents,
  UtPexExtension,
} from '../../src/wire/index.js';

const noop = () => {};

describe('event maps are closed sets of names', () => {
  test('no map has an index signature', () => {
    expectTypeOf<string>().not.toExtend<keyof TorrentEvents>();
    expectTypeOf<string>().not.toExtend<keyof PeerWireEvents>();
    expectTypeOf<string>().not.toExtend<keyof UtMetadataEvents>();
    expectTypeOf<string>().not.toExtend<keyof UtPexEvents>();
    expectTypeOf<string>().not.toExtend<keyof BttSpeedEvents>();
    expectTypeOf<string>().not.toExtend<keyof DhtEvents>();
    expectTypeOf<string>().not.toExtend<keyof SpeedEvents>();
    expectTypeOf<string>().not.toExtend<keyof TrackerClientEvents>();
  });

  test('the open EventMap (no argument) still takes any name', () => {
    expectTypeOf<string>().toExtend<keyof EventMap>();
  });
});

describe('a misspelled event name fails to compile', () => {
  test('Torrent', () => {
    const f = (t: Torrent) => {
      t.on('done', noop);
      // @ts-expect-error: misspelled
      t.on('donee', noop);
      // @ts-expect-error: misspelled
      t.once('eror', noop);
      // @ts-expect-error: misspelled
      t.off('pieces', noop);
    };
    expectTypeOf(f).toBeFunction();
  });

  test('PeerWire', () => {
    const f = (w: PeerWire) => {
      w.on('handshake', noop);
      // @ts-expect-error: misspelled
      w.on('handshak', noop);
      // @ts-expect-error: misspelled
      w.once('chokee', noop);
    };
    expectTypeOf(f).toBeFunction();
  });

  test('UtMetadataExtension', () => {
    const f = (x: UtMetadataExtension) => {
      x.on('metadata', noop);
      // @ts-expect-error: misspelled
      x.on('metdata', noop);
    };
    expectTypeOf(f).toBeFunction();
  });

  test('UtPexExtension', () => {
    const f = (x: UtPexExtension) => {
      x.on('peers', noop);
      // @ts-expect-error: misspelled
      x.on('peer', noop);
    };
    expectTypeOf(f).toBeFunction();
  });

  test('BttSpeedExtension', () => {
    const f = (x: BttSpeedExtension) => {
      x.on('grant', noop);
      // @ts-expect-error: misspelled
      x.on('grants', noop);
    };
    expectTypeOf(f).toBeFunction();
  });

  test('Dht', () => {
    const f = (d: Dht) => {
      d.on('peer', noop);
      // @ts-expect-error: misspelled
      d.on('peers', noop);
      // @ts-expect-error: Dht has no 'error' event (failures are warnings)
      d.on('error', noop);
    };
    expectTypeOf(f).toBeFunction();
  });

  test('SpeedPlugin', () => {
    const f = (p: SpeedPlugin) => {
      p.on('paid', noop);
      // @ts-expect-error: misspelled
      p.on('payed', noop);
    };
    expectTypeOf(f).toBeFunction();
  });

  test('TrackerClient', () => {
    const f = (c: TrackerClient) => {
      c.on('announce', noop);
      // @ts-expect-error: misspelled
      c.on('anounce', noop);
    };
    expectTypeOf(f).toBeFunction();
  });
});
