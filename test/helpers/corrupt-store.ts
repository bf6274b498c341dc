import type { ChunkStore } from '../../src/storage/index.js';

/**
 * A store that serves corrupted copies of what it has — one byte flipped every 4 KiB of every
 * read — to play a peer that sends bad data. Everything else goes to `inner` unchanged.
 */
export function corrupting(inner: ChunkStore, flip = 0xff): ChunkStore {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'get') {
        return async (piece: number, offset: number, length: number) => {
          const data = (await target.get(piece, offset, length)).slice();
          for (let i = 7; i < data.length; i += 4096) data[i] = (data[i] ?? 0) ^ flip;
          return data;
        };
      }
      // Private fields: getters and methods must run on the real store, not the proxy.
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
