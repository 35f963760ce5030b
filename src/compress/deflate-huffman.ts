// DEFLATE's Huffman side (RFC 1951 3.2): the length/distance tables, the fixed code, canonical code
// assignment and the table-driven decoder (Decoder). Length-limited code construction for dynamic
// blocks is the encoder's (deflate-code.ts, in WebAssembly). Scratch arrays here are reused by each
// call and carry nothing between calls.

// ---------------------------------------------------------------------------------------------
// RFC 1951 tables

export const LEN_BASE = Uint16Array.of(3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258);
export const LEN_EXTRA = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0);
export const DIST_BASE = Uint16Array.of(1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577);
export const DIST_EXTRA = Uint8Array.of(0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13);
/** by literal/length symbol: the length's extra bits (0 for a literal), its base length */
export const SYM_XB = new Uint8Array(288);
export const SYM_LEN_BASE = new Uint16Array(288);
SYM_XB.set(LEN_EXTRA, 257);
SYM_LEN_BASE.set(LEN_BASE, 257);
/** order in which code-length code lengths are sent */
export const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

export const NUM_LL = 286; // literal/length symbols that may be coded (286, 287 are invalid)
export const NUM_D = 30;
export const NUM_CL = 19;
export const EOB = 256;

/** fixed (BTYPE=01) code lengths */
export const FIXED_LL_LEN = new Uint8Array(288);
export const FIXED_D_LEN = new Uint8Array(30).fill(5);
for (let i = 0; i < 288; i++) FIXED_LL_LEN[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;

const REV8 = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let r = 0;
  for (let b = 0; b < 8; b++) r |= ((i >> b) & 1) << (7 - b);
  REV8[i] = r;
}
/** reverse the low `len` (<= 16) bits of `code` */
function reverseBits(code: number, len: number): number {
  return ((REV8[code & 255] << 8) | REV8[(code >> 8) & 255]) >> (16 - len);
}

const ccCount = new Uint16Array(16);
const ccNext = new Uint16Array(16);
/** canonical codes from code lengths, packed for the writer: bit-reversed code | length << 16 */
export function canonicalCodes(lens: Uint8Array, n: number, out: Int32Array): void {
  ccCount.fill(0);
  for (let i = 0; i < n; i++) ccCount[lens[i]]++;
  ccCount[0] = 0;
  let code = 0;
  for (let b = 1; b < 16; b++) {
    code = (code + ccCount[b - 1]) << 1;
    ccNext[b] = code;
  }
  for (let i = 0; i < n; i++) {
    const l = lens[i];
    out[i] = l ? reverseBits(ccNext[l]++, l) | (l << 16) : 0;
  }
}

export const FIXED_LL_CODE = new Int32Array(288);
export const FIXED_D_CODE = new Int32Array(30);
canonicalCodes(FIXED_LL_LEN, 288, FIXED_LL_CODE);
canonicalCodes(FIXED_D_LEN, 30, FIXED_D_CODE);

// ---------------------------------------------------------------------------------------------
// Decoding tables

/** canonical Huffman decoder: a primary table (entry = sym << 4 | len, 0 = longer code) + slow path */
export class Decoder {
  readonly table: Int32Array;
  readonly mask: number;
  readonly count = new Uint16Array(16);
  readonly sorted = new Uint16Array(320);
  private readonly offs = new Uint16Array(16);
  private readonly next = new Uint16Array(16);
  /** per symbol, or'ed into its entries: extra-bit count << 13 | base << 17 (0: none) */
  readonly aux: Int32Array;
  constructor(readonly pri: number, aux?: Int32Array) {
    this.aux = aux ?? new Int32Array(320);
    this.table = new Int32Array(1 << pri);
    this.mask = (1 << pri) - 1;
  }
  init(lens: Uint8Array, n: number): void {
    const count = this.count;
    count.fill(0);
    for (let i = 0; i < n; i++) count[lens[i]]++;
    count[0] = 0;
    const offs = this.offs;
    offs[1] = 0;
    for (let l = 1; l < 15; l++) offs[l + 1] = offs[l] + count[l];
    for (let i = 0; i < n; i++) if (lens[i]) this.sorted[offs[lens[i]]++] = i;
    const table = this.table;
    const next = this.next;
    let code = 0;
    for (let b = 1; b < 16; b++) {
      next[b] = code;
      code = (code + count[b]) << 1;
    }
    // Fill the table by doubling: after step l, table[0 .. 2^l) holds every code of length <= l
    // at each index whose low bits are that code (reversed), and 0 elsewhere (unused, or the
    // prefix of a longer code). Doubling is a memcpy, so each entry costs no JS store.
    const pri = this.pri;
    const sorted = this.sorted;
    const aux = this.aux;
    table[0] = 0;
    let idx = 0; // symbols in sorted[] are ordered by (length, symbol): canonical order
    for (let l = 1; l <= pri; l++) {
      const half = 1 << (l - 1);
      table.copyWithin(half, 0, half);
      let c = next[l];
      for (let j = count[l]; j > 0; j--) {
        const sym = sorted[idx++];
        table[reverseBits(c++, l)] = (sym << 4) | l | aux[sym];
      }
    }
  }
}

// length and distance symbols carry their extra-bit count and base in the table entry, which
// saves the decoder's hot loop four table loads per match
export const LL_AUX = new Int32Array(288);
export const D_AUX = new Int32Array(32);
for (let i = 0; i < 29; i++) LL_AUX[257 + i] = (LEN_EXTRA[i] << 13) | (LEN_BASE[i] << 17);
for (let i = 0; i < 30; i++) D_AUX[i] = (DIST_EXTRA[i] << 13) | (DIST_BASE[i] << 17);
