// Dynamic-block Huffman codes of the DEFLATE encoder (RFC 1951 3.2.7): built in WebAssembly
// (assembly/deflate.ts hbuild: length-limited code lengths, the run-length coded lengths of the
// header, the header's size and the data bits of the histograms under the code), held here for the
// destsize driver's walks (deflate.ts) and the writer (deflate-writer.ts). The construction was JS
// and ~15 % of the encoder's profile, two to three codes per pcluster; the lengths are the ones the JS
// gave (test/deflate-code.test.ts compares them with it, kept in test/helpers).
import { NUM_LL, NUM_D, NUM_CL } from './deflate-huffman.js';
import { deflateWasm, type DeflateWasm } from './deflate-lz77.js';

// hbuild's region in the module's memory (assembly/deflate.ts HUF), viewed again when the memory grows
let viewBuf: ArrayBuffer | null = null;
let hufAt = 0;
let vFreqLL = new Int32Array(0);
let vFreqD = new Int32Array(0);
let vLLLen = new Uint8Array(0);
let vDLen = new Uint8Array(0);
let vCLLen = new Uint8Array(0);
let vRle = new Uint16Array(0);
let vRes = new Int32Array(0);
let vBits = new Float64Array(0);

function bind(m: DeflateWasm): ArrayBuffer {
  let buf = m.memory.buffer;
  if (buf === viewBuf) return buf;
  hufAt = m.hufPtr(); // first: it may grow the memory
  buf = m.memory.buffer;
  vFreqLL = new Int32Array(buf, hufAt, NUM_LL);
  vFreqD = new Int32Array(buf, hufAt + 4 * 288, NUM_D);
  vLLLen = new Uint8Array(buf, hufAt + 1280, NUM_LL);
  vDLen = new Uint8Array(buf, hufAt + 1280 + 288, NUM_D);
  vCLLen = new Uint8Array(buf, hufAt + 1280 + 320, NUM_CL);
  vRle = new Uint16Array(buf, hufAt + 1280 + 352, NUM_LL + NUM_D);
  vRes = new Int32Array(buf, hufAt + 1280 + 992, 5);
  vBits = new Float64Array(buf, hufAt + 1280 + 992 + 24, 1);
  viewBuf = buf;
  return buf;
}

/** a dynamic-block code: lengths, header runs and the exact header size (the writer makes the
 *  canonical codes from the lengths: assembly/deflate.ts wdynamic) */
export class DynCode {
  readonly llLen = new Uint8Array(NUM_LL);
  readonly dLen = new Uint8Array(NUM_D);
  readonly clLen = new Uint8Array(NUM_CL);
  /** run-length coded code lengths: symbol | extra << 8 */
  readonly rle = new Uint16Array(NUM_LL + NUM_D);
  rleN = 0;
  hlit = 257;
  hdist = 1;
  hclen = 4;
  /** bits of the block header after BFINAL/BTYPE (HLIT .. last code length) */
  headerBits = 0;
  /** data bits of the histograms the code was built from, under the code (without extra bits) */
  bits = 0;

  /**
   * Build from frequencies (llFreq counts EOB), optimal lengths limited to 15 bits, at least two
   * codes in each alphabet, ties broken by symbol number: a pure function of the frequencies.
   * Histograms in the module's memory (the token store's) are read in place, others copied in.
   */
  build(llFreq: Int32Array, dFreq: Int32Array): void {
    const m = deflateWasm();
    const buf = bind(m);
    // a view of a memory since grown is detached (length 0): it would be read as stale counts
    if (llFreq.length < NUM_LL || dFreq.length < NUM_D) throw new Error('DynCode.build: short (or detached) histogram');
    let ll = hufAt;
    if (llFreq.buffer === buf) ll = llFreq.byteOffset;
    else vFreqLL.set(llFreq.length === NUM_LL ? llFreq : llFreq.subarray(0, NUM_LL));
    let d = hufAt + 4 * 288;
    if (dFreq.buffer === buf) d = dFreq.byteOffset;
    else vFreqD.set(dFreq.length === NUM_D ? dFreq : dFreq.subarray(0, NUM_D));
    m.hbuild(ll, d);
    this.llLen.set(vLLLen);
    this.dLen.set(vDLen);
    this.clLen.set(vCLLen);
    this.rle.set(vRle);
    const res = vRes;
    this.hlit = res[0];
    this.hdist = res[1];
    this.hclen = res[2];
    this.rleN = res[3];
    this.headerBits = res[4];
    this.bits = vBits[0];
  }
}
