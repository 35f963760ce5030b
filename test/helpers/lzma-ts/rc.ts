// The LZMA range encoder and the bit prices the optimal parser weighs choices with (1/16-bit units,
// as liblzma), plus the length and distance codings both share. Split from lzma-encoder.ts, which holds
// the parser; the decoder side is the kernel's (and our reader's) and is not here.
import {
  LzmaModel, LenModel, TOP, MOVE_BITS, BIT_MODEL_TOTAL, DIST_STATES, END_POS_MODEL,
  START_POS_MODEL, ALIGN_BITS, LEN_LOW_SYMBOLS, LEN_MID_SYMBOLS, MATCH_LEN_MIN,
} from '../../../src/compress/lzma-model.js';

// ---- prices (1/16 bit units) -----------------------------------------------------------------

const PRICE_SHIFT = 4;
const PRICES = new Uint32Array(BIT_MODEL_TOTAL >> PRICE_SHIFT);
// -log2(p) in 1/16 bits, from how many halvings p^16 (squared four times) needs to stay below 2^16:
// the integer approximation LZMA encoders price with. Rounding the exact
// logarithm instead chose other parses: +0.3 % input per 4 KiB pcluster lost on x86 code against
// liblzma, and sample images at -C4096 / -C65536 0.11 % / 0.08 % larger.
for (let i = 0; i < PRICES.length; i++) {
  let w = (i << PRICE_SHIFT) + (1 << (PRICE_SHIFT - 1));
  let bits = 0;
  for (let j = 0; j < PRICE_SHIFT; j++) {
    w *= w;
    bits <<= 1;
    while (w >= 1 << 16) {
      w >>>= 1;
      bits++;
    }
  }
  PRICES[i] = 11 * 16 - 15 - bits;
}
export const price0 = (p: number) => PRICES[p >>> PRICE_SHIFT];
// The price of a 1 looks up 2047 - p (the 11-bit complement), not 2048 - p: the two differ in the
// table slot whenever p is a multiple of 16, the initial 1024 among them. Pricing 2048 - p made
// other parse choices than liblzma's (mkfs.erofs's) encoder.
export const price1 = (p: number) => PRICES[(p ^ (BIT_MODEL_TOTAL - 1)) >>> PRICE_SHIFT];
export const priceBit = (p: number, b: number) => (b ? price1(p) : price0(p));
export const DIRECT_BIT_PRICE = 16;
export const INFINITY = 0x3fffffff;

export function treePrice(p: Uint16Array, base: number, bits: number, v: number): number {
  let m = 1;
  let s = 0;
  for (let k = bits - 1; k >= 0; k--) {
    const b = (v >>> k) & 1;
    s += priceBit(p[base + m], b);
    m = (m << 1) | b;
  }
  return s;
}
export function reverseTreePrice(p: Uint16Array, base: number, bits: number, v: number): number {
  let m = 1;
  let s = 0;
  for (let k = 0; k < bits; k++) {
    const b = (v >>> k) & 1;
    s += priceBit(p[base + m], b);
    m = (m << 1) | b;
  }
  return s;
}

export function distSlot(dist: number): number {
  if (dist < START_POS_MODEL) return dist;
  const n = 31 - Math.clz32(dist);
  return 2 * n + ((dist >>> (n - 1)) & 1);
}

// ---- range encoder ---------------------------------------------------------------------------

export class RangeEncoder {
  low = 0; // up to 33 bits: a double
  range = 0xffffffff;
  cache = 0;
  cacheSize = 1;
  out: Uint8Array;
  n = 0;
  constructor(cap: number) {
    this.out = new Uint8Array(cap + 16);
  }
  reset(): void {
    this.low = 0;
    this.range = 0xffffffff;
    this.cache = 0;
    this.cacheSize = 1;
    this.n = 0;
  }
  /** Bytes the stream would have if flushed now: written + pending + the 4 that flushing adds. */
  flushedSize(): number {
    return this.n + this.cacheSize + 4;
  }
  private put(b: number): void {
    if (this.n >= this.out.length) {
      const o = new Uint8Array(this.out.length * 2);
      o.set(this.out);
      this.out = o;
    }
    this.out[this.n++] = b;
  }
  shiftLow(): void {
    const lo32 = this.low % 0x100000000;
    const carry = this.low >= 0x100000000 ? 1 : 0;
    if (lo32 < 0xff000000 || carry) {
      let temp = this.cache;
      do {
        this.put((temp + carry) & 0xff);
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = lo32 >>> 24;
    }
    this.cacheSize++;
    this.low = (lo32 & 0x00ffffff) * 256;
  }
  bit(p: Uint16Array, i: number, b: number): void {
    const prob = p[i];
    const bound = (this.range >>> 11) * prob;
    if (b === 0) {
      this.range = bound;
      p[i] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
    } else {
      this.low += bound;
      this.range -= bound;
      p[i] = prob - (prob >>> MOVE_BITS);
    }
    while (this.range < TOP) {
      this.range = (this.range * 256) >>> 0;
      this.shiftLow();
    }
  }
  direct(v: number, bits: number): void {
    for (let k = bits - 1; k >= 0; k--) {
      this.range >>>= 1;
      if ((v >>> k) & 1) this.low += this.range;
      while (this.range < TOP) {
        this.range = (this.range * 256) >>> 0;
        this.shiftLow();
      }
    }
  }
  tree(p: Uint16Array, base: number, bits: number, v: number): void {
    let m = 1;
    for (let k = bits - 1; k >= 0; k--) {
      const b = (v >>> k) & 1;
      this.bit(p, base + m, b);
      m = (m << 1) | b;
    }
  }
  reverseTree(p: Uint16Array, base: number, bits: number, v: number): void {
    let m = 1;
    for (let k = 0; k < bits; k++) {
      const b = (v >>> k) & 1;
      this.bit(p, base + m, b);
      m = (m << 1) | b;
    }
  }
  flush(): void {
    for (let k = 0; k < 5; k++) this.shiftLow();
  }
}

export function encodeLen(rc: RangeEncoder, l: LenModel, len: number, posState: number): void {
  const v = len - MATCH_LEN_MIN;
  if (v < LEN_LOW_SYMBOLS) {
    rc.bit(l.choice, 0, 0);
    rc.tree(l.low, posState * LEN_LOW_SYMBOLS, 3, v);
  } else if (v < LEN_LOW_SYMBOLS + LEN_MID_SYMBOLS) {
    rc.bit(l.choice, 0, 1);
    rc.bit(l.choice, 1, 0);
    rc.tree(l.mid, posState * LEN_MID_SYMBOLS, 3, v - LEN_LOW_SYMBOLS);
  } else {
    rc.bit(l.choice, 0, 1);
    rc.bit(l.choice, 1, 1);
    rc.tree(l.high, 0, 8, v - LEN_LOW_SYMBOLS - LEN_MID_SYMBOLS);
  }
}

/** Returns whether the align bits were coded (far distances: they count toward the align price refresh). */
export function encodeDist(rc: RangeEncoder, m: LzmaModel, dist: number, len: number): boolean {
  const ls = Math.min(len - MATCH_LEN_MIN, DIST_STATES - 1);
  const slot = distSlot(dist);
  rc.tree(m.distSlot, ls * 64, 6, slot);
  if (slot < START_POS_MODEL) return false;
  const extra = (slot >>> 1) - 1;
  const base = ((2 | (slot & 1)) << extra) >>> 0;
  const reduced = dist - base;
  if (slot < END_POS_MODEL) {
    rc.reverseTree(m.distSpecial, base - slot, extra, reduced);
    return false;
  }
  rc.direct(reduced >>> ALIGN_BITS, extra - ALIGN_BITS);
  rc.reverseTree(m.distAlign, 0, ALIGN_BITS, reduced & 15);
  return true;
}
