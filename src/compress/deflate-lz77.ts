// The LZ77 parser and bit writer of the DEFLATE encoder: assembly/deflate.ts compiled to WebAssembly
// (one instance per thread). It reads its input in place when the input lies in the module's input
// region (deflateWindow: the window the caller reads a file into), else is fed copies of it a piece
// at a time. Its token store (symbols, extra bits, histograms) lives in the module's memory; the
// TokenStore holds views of it.
import { instantiateWasm } from './wasm.js';
import { NUM_LL, NUM_D } from './deflate-huffman.js';
import type { TokenStore } from './deflate-tokens.js';

export interface DeflateWasm extends WebAssembly.Exports {
  memory: WebAssembly.Memory;
  LOOKAHEAD: WebAssembly.Global;
  pos: WebAssembly.Global;
  nTok: WebAssembly.Global;
  addXb: WebAssembly.Global;
  addFixed: WebAssembly.Global;
  statsPtr(): number;
  splitPtr(): number;
  pricePtr(): number;
  splitPrice(from: number, n: number, tlB: number, tdB: number): void;
  hufPtr(): number;
  hbuild(llFreq: number, dFreq: number): void;
  codesPtr(): number;
  tokArr(): number;
  inputPtr(): number;
  inputCap(): number;
  tokenCap(): number;
  outputCap(): number;
  configure(inCap: number, tokCap: number, outCap: number): number;
  begin(n: number, level: number, off: number): void;
  parse(stop: number): number;
  wreset(capacity: number): number;
  wput(v: number, n: number): void;
  wflush(): number;
  wtokens(from: number, k: number): void;
  wdPtr(): number;
  wdynamic(final: number, hlit: number, hdist: number, hclen: number, rleN: number): void;
}

let mod: DeflateWasm | null = null;
let lookahead = 0;

/** This thread's instance of the DEFLATE module. */
export function deflateWasm(): DeflateWasm {
  if (!mod) {
    mod = instantiateWasm<DeflateWasm>('deflate', { log2: Math.log2 });
    lookahead = mod.LOOKAHEAD.value as number;
  }
  return mod;
}

/**
 * A region of at least n bytes in the module's memory that Lz77Parser reads in place (no copy), for
 * inputs whose tokens fit `tokens` and outputs of up to outCap bytes: parsing and writing them never
 * grows the memory, so the view stays valid until an input is copied in (one not in it, or one
 * asking for more tokens or output) or the next deflateWindow call with larger sizes.
 */
export function deflateWindow(n: number, tokens: number, outCap: number): Uint8Array {
  const m = deflateWasm();
  const at = m.configure(n, tokens, outCap);
  if (m.memory.buffer !== winBuf || winView.length < n) {
    winBuf = m.memory.buffer;
    winView = new Uint8Array(winBuf, at, m.inputCap());
  }
  return winView;
}
let winBuf: ArrayBuffer | null = null;
let winView = new Uint8Array(0);

/** One input being parsed: src[0..srcLen) at a level 1..9, its tokens in `ts`. */
export class Lz77Parser {
  private src: Uint8Array = new Uint8Array(0);
  private srcLen = 0;
  /** input bytes in the module's memory (all of them when read in place) */
  private copied = 0;
  /** input bytes parsed */
  private parsed = 0;
  private ts: TokenStore | null = null;
  // what ts's views were made for
  private buffer: ArrayBuffer | null = null;
  private tokAt = -1;
  private tokCap = -1;

  /**
   * Start parsing src[0..srcLen): in place when src lies in the module's input region and at most
   * `maxTokens` tokens (a bound the caller proves) fit the token store, else copied in as needed.
   */
  begin(ts: TokenStore, src: Uint8Array, srcLen: number, level: number, maxTokens: number): void {
    const m = deflateWasm();
    this.src = src;
    this.srcLen = srcLen;
    this.parsed = 0;
    this.ts = ts;
    const off = src.byteOffset - m.inputPtr();
    if (src.buffer === m.memory.buffer && off >= 0 && off + srcLen <= m.inputCap() && maxTokens <= m.tokenCap()) {
      this.copied = srcLen;
      m.begin(srcLen, level, off);
    } else {
      this.copied = 0;
      m.begin(srcLen, level, 0);
    }
    ts.n = 0;
    ts.cumXb = 0;
    ts.cumFixed = 0;
    this.bind();
  }

  /** (Re)make ts's views when the memory grew or the tokens moved. */
  private bind(): void {
    const m = mod!;
    const ts = this.ts!;
    const buf = m.memory.buffer;
    const tokAt = m.tokArr();
    const cap = m.tokenCap();
    if (buf === this.buffer && tokAt === this.tokAt && cap === this.tokCap && ts.tok.buffer === buf) return;
    ts.tok = new Uint32Array(buf, tokAt, cap);
    const st = m.statsPtr();
    ts.cumLL = new Int32Array(buf, st, NUM_LL);
    ts.cumD = new Int32Array(buf, st + 4 * 288, NUM_D);
    const sp = m.splitPtr();
    ts.bLL = new Int32Array(buf, sp, NUM_LL);
    ts.bD = new Int32Array(buf, sp + 4 * 288, NUM_D);
    ts.nLL = new Int32Array(buf, sp + 1280, NUM_LL);
    ts.nD = new Int32Array(buf, sp + 1280 + 4 * 288, NUM_D);
    ts.jLL = new Int32Array(buf, sp + 2560, NUM_LL);
    ts.jD = new Int32Array(buf, sp + 2560 + 4 * 288, NUM_D);
    ts.priceE = new Float64Array(buf, m.pricePtr(), 2);
    ts.priceN = new Int32Array(buf, m.pricePtr() + 16, 3);
    this.buffer = buf;
    this.tokAt = tokAt;
    this.tokCap = cap;
  }

  /**
   * Price the split before tokens [from, from + n): ts.nLL/nD := their statistics, ts.jLL/jD :=
   * ts.bLL/bD + those; ts.priceE = Shannon bits of n and j (open block totals tlB, tdB), ts.priceN =
   * n's extra bits, fixed-code bits and matches (assembly/deflate.ts splitPrice).
   */
  splitPrice(from: number, n: number, tlB: number, tdB: number): void {
    mod!.splitPrice(from, n, tlB, tdB);
  }

  /** Parse on until at least `stop` bytes (or the whole input) are parsed; the tokens and statistics
   *  in ts grow to match. Returns the input bytes the tokens in ts cover (may be one less than stop). */
  parseTo(stop: number): number {
    const m = mod!;
    const ts = this.ts!;
    const need = Math.min(this.srcLen, stop + lookahead);
    // tokens: at most one per input byte parsed, and one held back by the lazy evaluation
    const tokens = ts.n + Math.max(0, Math.min(this.srcLen, stop) - this.parsed) + 2;
    if (need > this.copied || tokens > m.tokenCap()) {
      // grow geometrically (the module moves the tokens up when the input grows)
      const inCap = m.inputCap();
      const tokCap = m.tokenCap();
      m.configure(need > inCap ? Math.min(this.srcLen, Math.max(need, inCap * 2, 1 << 16)) : inCap,
        tokens > tokCap ? Math.max(tokens, tokCap * 2, 1 << 14) : tokCap, m.outputCap());
      this.bind();
      if (need > this.copied) {
        new Uint8Array(m.memory.buffer, m.inputPtr() + this.copied, need - this.copied).set(this.src.subarray(this.copied, need));
        this.copied = need;
      }
    }
    const p = m.parse(stop);
    this.parsed = p;
    ts.n = m.nTok.value as number;
    ts.cumXb += m.addXb.value as number;
    ts.cumFixed += m.addFixed.value as number;
    return p;
  }
}
