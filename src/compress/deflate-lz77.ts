// The LZ77 parser and bit writer of the DEFLATE encoder: assembly/deflate.ts compiled to WebAssembly
// (one instance per thread), fed the input a piece at a time. Its token store (symbols, extra bits,
// histograms) lives in the module's memory; the TokenStore holds views of it.
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
  symArr(): number;
  valArr(): number;
  dsymArr(): number;
  xbArr(): number;
  inputPtr(): number;
  tokCap(): number;
  reserve(cap: number, keep: number): number;
  begin(n: number, level: number): void;
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

/** One input being parsed: src[0..srcLen) at a level 1..9, its tokens in `ts`. */
export class Lz77Parser {
  private src: Uint8Array = new Uint8Array(0);
  private srcLen = 0;
  /** input bytes copied into the module's memory */
  private copied = 0;
  private cap = 0;
  private ts: TokenStore | null = null;
  // what ts's views were made for
  private buffer: ArrayBuffer | null = null;
  private valAt = -1;

  begin(ts: TokenStore, src: Uint8Array, srcLen: number, level: number): void {
    const m = deflateWasm();
    this.src = src;
    this.srcLen = srcLen;
    this.copied = 0;
    this.cap = 0;
    this.ts = ts;
    m.begin(srcLen, level);
    ts.n = 0;
    ts.cumXb = 0;
    ts.cumFixed = 0;
    this.bind();
  }

  /** (Re)make ts's views when the memory grew or the token arrays moved. */
  private bind(): void {
    const m = mod!;
    const ts = this.ts!;
    const buf = m.memory.buffer;
    // the token arrays grow in place (SYM) or move up (the others) with the input capacity
    const valAt = m.valArr();
    if (buf === this.buffer && valAt === this.valAt && ts.sym.buffer === buf) return;
    const cap = m.tokCap();
    ts.sym = new Uint16Array(buf, m.symArr(), cap);
    ts.val = new Uint32Array(buf, valAt, cap);
    ts.dsym = new Uint8Array(buf, m.dsymArr(), cap);
    ts.xb = new Uint8Array(buf, m.xbArr(), cap);
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
    this.valAt = valAt;
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
    if (need > this.copied) {
      if (need > this.cap) {
        // grow geometrically: the module moves the bytes already copied and the tokens
        this.cap = Math.min(this.srcLen, Math.max(need, this.cap * 2, 1 << 16));
        m.reserve(this.cap, this.copied);
        this.bind();
      }
      new Uint8Array(m.memory.buffer, m.inputPtr(), this.cap).set(this.src.subarray(this.copied, need), this.copied);
      this.copied = need;
    }
    const p = m.parse(stop);
    ts.n = m.nTok.value as number;
    ts.cumXb += m.addXb.value as number;
    ts.cumFixed += m.addFixed.value as number;
    return p;
  }
}
