/**
 * MicroLZMA, the stream format of EROFS "lzma" pclusters (Z_EROFS_COMPRESSION_LZMA), and a strict
 * decoder for it written from the LZMA format description.
 *
 * On-disk rules (checked against the kernel: fs/erofs/decompressor_lzma.c and xz-embedded's
 * xz_dec_microlzma_* in lib/xz/xz_dec_lzma2.c):
 *  - A MicroLZMA stream is a raw LZMA1 stream whose first byte, always 0x00 in LZMA's range coder,
 *    is replaced by the bitwise NOT of the properties byte (lc/lp/pb). There is no header, no
 *    dictionary size, no sizes and no end-of-payload marker: the container (the pcluster) gives the
 *    compressed size, the extent the decompressed size.
 *  - Properties: pb <= 4 and lc + lp <= 4 (xz-embedded decodes LZMA2-compatible properties only).
 *    The first byte is therefore never 0 (~props >= 0x1f), which 0PADDING relies on.
 *  - The compressed size must be 5..3 GiB; the range decoder reads the first 5 bytes as its init.
 *  - Match distances must reach only bytes already decoded in this pcluster (each pcluster starts with
 *    an empty dictionary) and be smaller than the dictionary size (z_erofs_lzma_cfgs.dict_size,
 *    4096..Z_EROFS_LZMA_MAX_DICT_SIZE = 8 MiB). The end-of-payload marker (distance 0xFFFFFFFF)
 *    therefore fails.
 *  - Exact decoding (the kernel's default, not partial_decoding): once the extent's length is out,
 *    every compressed byte must have been read, no match may be left half-copied, and the range
 *    coder's code must be 0 ("pedantic MicroLZMA"). Running out of input before that is corruption.
 *  - Partial decoding (dedupe PARTIAL_REF extents): decoding simply stops at the extent's length.
 */
import {
  LzmaModel, LenModel, decodePropsByte, TOP, MOVE_BITS, BIT_MODEL_TOTAL, LIT_STATES, DIST_STATES, END_POS_MODEL,
  START_POS_MODEL, ALIGN_BITS, LEN_LOW_SYMBOLS, LEN_MID_SYMBOLS, MATCH_LEN_MIN, litStateAfterLiteral, stateAfterMatch,
  stateAfterRep, stateAfterShortRep,
} from './lzma-model.js';

/** struct z_erofs_lzma_cfgs limits (erofs_fs.h): dictionary 4 KiB .. 8 MiB. */
export const LZMA_MIN_DICT_SIZE = 4096;
export const Z_EROFS_LZMA_MAX_DICT_SIZE = 8 << 20;
/** Range coder init bytes (RC_INIT_BYTES). */
export const RC_INIT_BYTES = 5;

export class LzmaFormatError extends Error {
  constructor(message: string) {
    super(`MicroLZMA: ${message}`);
    this.name = 'LzmaFormatError';
  }
}

class RangeDecoder {
  range = 0xffffffff;
  code = 0;
  pos: number;
  constructor(private readonly src: Uint8Array) {
    if (src.length < RC_INIT_BYTES) throw new LzmaFormatError(`stream of ${src.length} bytes is shorter than the range coder init`);
    // The first byte is the (negated) properties byte; the range coder ignores it.
    this.code = ((src[1] << 24) | (src[2] << 16) | (src[3] << 8) | src[4]) >>> 0;
    this.pos = RC_INIT_BYTES;
  }
  normalize(): void {
    if (this.range < TOP) {
      if (this.pos >= this.src.length) throw new LzmaFormatError('input ends before the output is complete');
      this.range = (this.range << 8) >>> 0;
      this.code = ((this.code << 8) | this.src[this.pos++]) >>> 0;
    }
  }
  bit(p: Uint16Array, i: number): number {
    this.normalize();
    const prob = p[i];
    const bound = (this.range >>> 11) * prob;
    if (this.code < bound) {
      this.range = bound;
      p[i] = prob + ((BIT_MODEL_TOTAL - prob) >>> MOVE_BITS);
      return 0;
    }
    this.range -= bound;
    this.code -= bound;
    p[i] = prob - (prob >>> MOVE_BITS);
    return 1;
  }
  direct(n: number): number {
    let v = 0;
    for (let k = 0; k < n; k++) {
      this.normalize();
      this.range >>>= 1;
      let b = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        b = 1;
      }
      v = ((v << 1) | b) >>> 0;
    }
    return v;
  }
  tree(p: Uint16Array, base: number, bits: number): number {
    let m = 1;
    for (let k = 0; k < bits; k++) m = (m << 1) | this.bit(p, base + m);
    return m - (1 << bits);
  }
  reverseTree(p: Uint16Array, base: number, bits: number): number {
    let m = 1;
    let v = 0;
    for (let k = 0; k < bits; k++) {
      const b = this.bit(p, base + m);
      m = (m << 1) | b;
      v |= b << k;
    }
    return v;
  }
}

function decodeLen(rc: RangeDecoder, l: LenModel, posState: number): number {
  if (rc.bit(l.choice, 0) === 0) return MATCH_LEN_MIN + rc.tree(l.low, posState * LEN_LOW_SYMBOLS, 3);
  if (rc.bit(l.choice, 1) === 0) return MATCH_LEN_MIN + LEN_LOW_SYMBOLS + rc.tree(l.mid, posState * LEN_MID_SYMBOLS, 3);
  return MATCH_LEN_MIN + LEN_LOW_SYMBOLS + LEN_MID_SYMBOLS + rc.tree(l.high, 0, 8);
}

function decodeDist(rc: RangeDecoder, m: LzmaModel, len: number): number {
  const lenState = Math.min(len - MATCH_LEN_MIN, DIST_STATES - 1);
  const slot = rc.tree(m.distSlot, lenState * 64, 6);
  if (slot < START_POS_MODEL) return slot;
  const extra = (slot >>> 1) - 1;
  let dist = ((2 | (slot & 1)) << extra) >>> 0;
  if (slot < END_POS_MODEL) return dist + rc.reverseTree(m.distSpecial, dist - slot, extra);
  dist = (dist + ((rc.direct(extra - ALIGN_BITS) << ALIGN_BITS) >>> 0)) >>> 0;
  return (dist + rc.reverseTree(m.distAlign, 0, ALIGN_BITS)) >>> 0;
}

/**
 * Decode a MicroLZMA stream (starting at its first non-zero byte, ending at the pcluster's end) into
 * `outLen` bytes. exact = the kernel's pedantic mode (see the header comment); !exact = partial
 * decoding, stopping at outLen. Throws LzmaFormatError on anything the kernel rejects.
 */
export function microLzmaDecode(src: Uint8Array, outLen: number, dictSize: number, exact = true): Uint8Array {
  if (src.length < RC_INIT_BYTES) throw new LzmaFormatError(`stream of ${src.length} bytes is shorter than the range coder init`);
  const props = decodePropsByte(~src[0] & 0xff);
  if (!props) throw new LzmaFormatError(`invalid properties byte 0x${(~src[0] & 0xff).toString(16)}`);
  const out = new Uint8Array(outLen);
  const m = new LzmaModel(props);
  const rc = new RangeDecoder(src);
  const pbMask = (1 << props.pb) - 1;
  let state = 0;
  let rep0 = 0;
  let rep1 = 0;
  let rep2 = 0;
  let rep3 = 0;
  let pos = 0;
  let pending = 0; // match bytes not yet copied when the output filled up
  while (pos < outLen) {
    const posState = pos & pbMask;
    if (rc.bit(m.isMatch, state * 16 + posState) === 0) {
      const base = m.literalBase(pos, pos > 0 ? out[pos - 1] : 0);
      let sym = 1;
      if (state < LIT_STATES) {
        while (sym < 0x100) sym = (sym << 1) | rc.bit(m.literal, base + sym);
      } else {
        let matchByte = out[pos - rep0 - 1] << 1;
        let offset = 0x100;
        while (sym < 0x100) {
          const matchBit = matchByte & offset;
          matchByte <<= 1;
          const b = rc.bit(m.literal, base + offset + matchBit + sym);
          sym = (sym << 1) | b;
          offset = b ? matchBit : offset & ~matchBit;
        }
      }
      out[pos++] = sym & 0xff;
      state = litStateAfterLiteral(state);
      continue;
    }
    let len: number;
    if (rc.bit(m.isRep, state) === 0) {
      len = decodeLen(rc, m.matchLen, posState);
      state = stateAfterMatch(state);
      rep3 = rep2;
      rep2 = rep1;
      rep1 = rep0;
      rep0 = decodeDist(rc, m, len);
      // 0xFFFFFFFF is LZMA's end-of-payload marker: MicroLZMA has none, so it fails like any far distance.
      if (rep0 >= pos) throw new LzmaFormatError(`match distance ${rep0 + 1} reaches before the start of the pcluster (at ${pos})`);
      if (rep0 >= dictSize) throw new LzmaFormatError(`match distance ${rep0 + 1} exceeds the dictionary size ${dictSize}`);
    } else {
      // A rep distance was already checked when it was first decoded; no rep exists before a match.
      if (pos === 0) throw new LzmaFormatError('repeated match before any data');
      if (rc.bit(m.isRepG0, state) === 0) {
        if (rc.bit(m.isRep0Long, state * 16 + posState) === 0) {
          state = stateAfterShortRep(state);
          out[pos] = out[pos - rep0 - 1];
          pos++;
          continue;
        }
      } else {
        let d: number;
        if (rc.bit(m.isRepG1, state) === 0) {
          d = rep1;
        } else {
          if (rc.bit(m.isRepG2, state) === 0) {
            d = rep2;
          } else {
            d = rep3;
            rep3 = rep2;
          }
          rep2 = rep1;
        }
        rep1 = rep0;
        rep0 = d;
      }
      len = decodeLen(rc, m.repLen, posState);
      state = stateAfterRep(state);
    }
    const n = Math.min(len, outLen - pos);
    pending = len - n;
    const from = pos - rep0 - 1;
    for (let k = 0; k < n; k++) out[pos + k] = out[from + k];
    pos += n;
  }
  if (exact) {
    // xz-embedded leaves its range decoder normalised after every run (the encoder normalises after
    // each bit, the decoder before), so the last byte is read here.
    rc.normalize();
    if (pending) throw new LzmaFormatError(`a match runs ${pending} bytes past the end of the extent`);
    if (rc.pos !== src.length) throw new LzmaFormatError(`${src.length - rc.pos} bytes of input left after the extent`);
    if (rc.code !== 0) throw new LzmaFormatError('range coder not finished (code != 0) at the end of the stream');
  }
  return out;
}

export { DIST_STATES };
