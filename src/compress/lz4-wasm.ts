// The reader's fast path for LZ4: assembly/lz4dec.ts compiled to WebAssembly, decoding into memory
// reused for every block on this thread (no allocation per block). It accepts exactly what
// lz4DecompressStrict accepts; when it rejects a block, lz4DecompressStrict is run on it for the
// reason, so both paths fail with the same error. That decoder lives with the encoder (lz4.ts), which
// is loaded only then (require of an ES module): reading an image loads no encoder.
const { createRequire } = process.getBuiltinModule('node:module');
import { instantiateWasm } from './wasm.js';
import type * as Lz4 from './lz4.js';

// Names below are written from dist/src/<folder>/ (../compress/...): they resolve the same from the
// extract bundle (dist/src/cli/extract-cmd.bundle.js, scripts/bundle-extract.js).
const require = createRequire(import.meta.url);
const lz4DecompressStrict = (src: Uint8Array, outLen: number): Uint8Array => (require('../compress/lz4.js') as typeof Lz4).lz4DecompressStrict(src, outLen);

interface Lz4DecExports extends WebAssembly.Exports {
  memory: WebAssembly.Memory;
  configure(inLen: number, outLen: number): number;
  decode(inLen: number, outLen: number): number;
}

let dec: Lz4DecExports | null = null;
let mem = new Uint8Array(0);

/**
 * `src` decoded strictly to exactly outLen bytes, as a view into this thread's decoder memory: valid
 * only until the next call (on this thread). Copy it to keep it.
 */
export function lz4DecodeTransient(src: Uint8Array, outLen: number): Uint8Array {
  if (!Number.isSafeInteger(outLen) || outLen < 0 || src.length === 0) return lz4DecompressStrict(src, outLen);
  dec ??= instantiateWasm<Lz4DecExports>('lz4dec');
  const ob = dec.configure(src.length, outLen);
  // growing the memory replaces its buffer (the old one is detached)
  if (mem.buffer !== dec.memory.buffer) mem = new Uint8Array(dec.memory.buffer);
  mem.set(src, 0);
  if (dec.decode(src.length, outLen) !== 0) {
    lz4DecompressStrict(src, outLen);
    throw new Error('internal error: the WebAssembly LZ4 decoder rejected a block the strict decoder accepts');
  }
  return mem.subarray(ob, ob + outLen);
}
