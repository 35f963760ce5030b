// The LZ77 parser of the DEFLATE encoder: assembly/deflate.ts compiled to WebAssembly (one instance
// per thread), fed the input a piece at a time, its tokens appended to a TokenStore.
import { instantiateWasm } from './wasm.js';
import { type TokenStore, appendTokens } from './deflate-tokens.js';

interface DeflateLz77Exports extends WebAssembly.Exports {
  memory: WebAssembly.Memory;
  LOOKAHEAD: WebAssembly.Global;
  pos: WebAssembly.Global;
  nTok: WebAssembly.Global;
  tokPtr(): number;
  inputPtr(): number;
  reserve(cap: number, keep: number): number;
  begin(n: number, level: number): void;
  parse(stop: number): number;
}

let mod: DeflateLz77Exports | null = null;
let lookahead = 0;

/** One input being parsed: src[0..srcLen) at a level 1..9. */
export class Lz77Parser {
  private src: Uint8Array = new Uint8Array(0);
  private srcLen = 0;
  /** input bytes copied into the module's memory */
  private copied = 0;
  private cap = 0;

  begin(src: Uint8Array, srcLen: number, level: number): void {
    const m = (mod ??= instantiateWasm<DeflateLz77Exports>('deflate'));
    lookahead = m.LOOKAHEAD.value as number;
    this.src = src;
    this.srcLen = srcLen;
    this.copied = 0;
    this.cap = 0;
    m.begin(srcLen, level);
  }

  /** Parse on until at least `stop` bytes (or the whole input) are parsed; append the new tokens to ts.
   *  Returns the input bytes the tokens in ts cover (may be one less than stop). */
  parseTo(ts: TokenStore, stop: number): number {
    const m = mod!;
    const need = Math.min(this.srcLen, stop + lookahead);
    if (need > this.copied) {
      if (need > this.cap) {
        // grow geometrically: the module moves the bytes already copied
        this.cap = Math.min(this.srcLen, Math.max(need, this.cap * 2, 1 << 16));
        m.reserve(this.cap, this.copied);
      }
      new Uint8Array(m.memory.buffer, m.inputPtr(), this.cap).set(this.src.subarray(this.copied, need), this.copied);
      this.copied = need;
    }
    const from = m.nTok.value as number;
    const p = m.parse(stop);
    const to = m.nTok.value as number;
    appendTokens(ts, new Uint32Array(m.memory.buffer, m.tokPtr() + 4 * from, to - from));
    return p;
  }
}
