/**
 * RC4's keystream loop as a WebAssembly module, assembled here from its instructions (no build
 * step, no dependency; ~800 bytes). Measured on the development machine (bench/crypto.bench.ts):
 * ~800 MB/s against ~500 MB/s for the best JavaScript loop — WebAssembly keeps i, j and the
 * two swapped values in registers and XORs eight keystream bytes into the data as one 64-bit
 * word.
 *
 * Memory (two 64 KiB pages, fixed):
 * - bytes 0..1023: the permutation S as 256 little-endian i32 (0..255): word loads and stores,
 *   ~10 % faster here than a byte table;
 * - 1024: i × 4, 1028: j × 4 (indices kept as byte offsets into S);
 * - 2048..: the data, at most {@link WASM_CHUNK} bytes per call.
 *
 * The function, in the text format:
 * ```wat
 * (func (export "rc4") (param $p i32) (param $len i32)
 *   (local $i i32) (local $j i32) (local $si i32) (local $sj i32) (local $end i32)
 *   (local $end8 i32) (local $x i64)
 *   i = load(1024); j = load(1028); end = p + len; end8 = p + (len & -8)
 *   ;; step (leaves one keystream byte):
 *   ;;   i = (i + 4) & 1020; si = S[i]; j = (j + si*4) & 1020; sj = S[j];
 *   ;;   S[i] = sj; S[j] = si; S[((si + sj) & 255) * 4]
 *   (loop while p < end8: x = step | step << 8 | … | step << 56; i64.store(p, i64.load(p) ^ x); p += 8)
 *   (loop while p < end:  i32.store8(p, i32.load8_u(p) ^ step); p += 1)
 *   store(1024, i); store(1028, j))
 * ```
 * WebAssembly memory is little-endian on every host, so byte k of the 64-bit word is data byte k.
 */

/** Largest slice processed by one call. */
export const WASM_CHUNK = 64 * 1024;
/** Where the data goes in the module's memory. */
export const WASM_DATA = 2048;
/** Where S, i and j go. */
export const WASM_STATE = 0;
export const WASM_IJ = 1024;

const uleb = (n: number): number[] => {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let b = v & 127;
    v >>>= 7;
    if (v) b |= 128;
    out.push(b);
  } while (v);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const b = v & 127;
    v >>= 7;
    if ((v === 0 && (b & 64) === 0) || (v === -1 && (b & 64) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 128);
  }
};
const name = (s: string): number[] => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];

// Opcodes (WebAssembly core spec, binary format).
const get = (l: number) => [0x20, l];
const set = (l: number) => [0x21, l];
const tee = (l: number) => [0x22, l];
const i32 = (n: number) => [0x41, ...sleb(n)];
const i64 = (n: number) => [0x42, ...sleb(n)];
const load = (offset = 0) => [0x28, 2, ...uleb(offset)];
const store = (offset = 0) => [0x36, 2, ...uleb(offset)];
const load8 = [0x2d, 0, 0];
const store8 = [0x3a, 0, 0];
const load64 = [0x29, 3, 0];
const store64 = [0x37, 3, 0];
const [ADD, AND, XOR, SHL, GE_U] = [[0x6a], [0x71], [0x73], [0x74], [0x4f]];
const [OR64, XOR64, SHL64, EXTEND_U] = [[0x84], [0x85], [0x86], [0xad]];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const END = [0x0b];
const br = (depth: number) => [0x0c, depth];
const brIf = (depth: number) => [0x0d, depth];

// Locals: parameters p (0) and len (1), then i, j, si, sj, end, end8 (i32) and x (i64).
const [P, LEN, I, J, SI, SJ, E, E8, X] = [0, 1, 2, 3, 4, 5, 6, 7, 8];

/** One keystream byte on the stack (see the module comment). */
// biome-ignore format: one line per statement of the loop
const step = (): number[] => [
  ...get(I), ...i32(4), ...ADD, ...i32(1020), ...AND, ...tee(I), ...load(), ...set(SI),
  ...get(J), ...get(SI), ...i32(2), ...SHL, ...ADD, ...i32(1020), ...AND, ...tee(J), ...load(), ...set(SJ),
  ...get(I), ...get(SJ), ...store(),
  ...get(J), ...get(SI), ...store(),
  ...get(SI), ...get(SJ), ...ADD, ...i32(255), ...AND, ...i32(2), ...SHL, ...load(),
];

function moduleBytes(): Uint8Array {
  const word: number[] = [];
  for (let b = 0; b < 8; b++) {
    word.push(...step(), ...EXTEND_U);
    if (b > 0) word.push(...i64(b * 8), ...SHL64, ...get(X), ...OR64);
    word.push(...set(X));
  }
  // biome-ignore format: one line per statement
  const body = [
    ...i32(0), ...load(WASM_IJ), ...set(I),
    ...i32(0), ...load(WASM_IJ + 4), ...set(J),
    ...get(P), ...get(LEN), ...ADD, ...set(E),
    ...get(P), ...get(LEN), ...i32(-8), ...AND, ...ADD, ...set(E8),
    // Eight bytes at a time.
    ...BLOCK, ...LOOP,
    ...get(P), ...get(E8), ...GE_U, ...brIf(1),
    ...word,
    ...get(P), ...get(P), ...load64, ...get(X), ...XOR64, ...store64,
    ...get(P), ...i32(8), ...ADD, ...set(P), ...br(0),
    ...END, ...END,
    // The tail, byte by byte.
    ...BLOCK, ...LOOP,
    ...get(P), ...get(E), ...GE_U, ...brIf(1),
    ...get(P), ...get(P), ...load8, ...step(), ...XOR, ...store8,
    ...get(P), ...i32(1), ...ADD, ...set(P), ...br(0),
    ...END, ...END,
    ...i32(0), ...get(I), ...store(WASM_IJ),
    ...i32(0), ...get(J), ...store(WASM_IJ + 4),
    ...END,
  ];
  const locals = [2, 6, 0x7f, 1, 0x7e];
  const code = [...locals, ...body];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, [1, 0x60, 2, 0x7f, 0x7f, 0]), // one type: (i32, i32) → ()
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0, 2]), // one memory, 2 pages, no maximum
    ...section(7, [2, ...name('memory'), 2, 0, ...name('rc4'), 0, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}

/** The instantiated module: its memory as views, and the function. */
export interface WasmRc4Engine {
  readonly bytes: Uint8Array;
  readonly state: Int32Array;
  readonly ij: Int32Array;
  rc4(ptr: number, len: number): void;
}

interface WasmGlobal {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    module: object,
    imports: object,
  ) => { exports: { memory: { buffer: ArrayBuffer }; rc4: (p: number, n: number) => void } };
}

let engine: WasmRc4Engine | null | undefined;

/**
 * The shared engine (one per process: every RC4 stream loads its state into it per call), or
 * undefined where WebAssembly is unavailable (then the JavaScript loop runs).
 */
export function wasmRc4(): WasmRc4Engine | undefined {
  if (engine === undefined) {
    engine = null;
    const wasm = (globalThis as { WebAssembly?: WasmGlobal }).WebAssembly;
    try {
      if (wasm) {
        const instance = new wasm.Instance(new wasm.Module(moduleBytes()), {});
        const { memory, rc4 } = instance.exports;
        engine = {
          bytes: new Uint8Array(memory.buffer),
          state: new Int32Array(memory.buffer, WASM_STATE, 256),
          ij: new Int32Array(memory.buffer, WASM_IJ, 2),
          rc4,
        };
      }
    } catch {
      // Compilation refused (a policy forbidding WebAssembly): the JavaScript loop runs.
    }
  }
  return engine ?? undefined;
}
