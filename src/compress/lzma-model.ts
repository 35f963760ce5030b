/**
 * The LZMA1 probability model shared by our MicroLZMA decoder and encoder, written from the LZMA
 * format description (an adaptive binary range coder over 11-bit probabilities). Both sides must
 * update the model identically, so it lives in one place.
 */

/** Probabilities are 11-bit (kBitModelTotal = 2048); each update moves 1/32 of the way. */
export const BIT_MODEL_TOTAL = 1 << 11;
export const MOVE_BITS = 5;
export const PROB_INIT = BIT_MODEL_TOTAL >> 1;

export const STATES = 12;
/** Literal states are 0..6: after a literal the next "literal" is plain, after a match it is matched. */
export const LIT_STATES = 7;
export const POS_STATES_MAX = 1 << 4;
export const MATCH_LEN_MIN = 2;
export const MATCH_LEN_MAX = 273;
/** Length coder: 8 low (2..9), 8 mid (10..17), 256 high (18..273). */
export const LEN_LOW_SYMBOLS = 8;
export const LEN_MID_SYMBOLS = 8;
export const LEN_HIGH_SYMBOLS = 256;
export const DIST_STATES = 4;
export const DIST_SLOTS = 64;
/** Slots below START_POS_MODEL have no extra bits; below END_POS_MODEL the extra bits are modelled. */
export const START_POS_MODEL = 4;
export const END_POS_MODEL = 14;
export const FULL_DISTANCES = 1 << (END_POS_MODEL >> 1);
export const ALIGN_BITS = 4;
export const ALIGN_SIZE = 1 << ALIGN_BITS;
/** Range coder normalisation threshold. */
export const TOP = 1 << 24;

export function litStateAfterLiteral(s: number): number {
  return s < 4 ? 0 : s < 10 ? s - 3 : s - 6;
}
export function stateAfterMatch(s: number): number {
  return s < LIT_STATES ? 7 : 10;
}
export function stateAfterRep(s: number): number {
  return s < LIT_STATES ? 8 : 11;
}
export function stateAfterShortRep(s: number): number {
  return s < LIT_STATES ? 9 : 11;
}

/** lc/lp/pb from the LZMA properties byte, as (pb * 5 + lp) * 9 + lc. */
export interface LzmaProps {
  lc: number;
  lp: number;
  pb: number;
}

export function decodePropsByte(b: number): LzmaProps | null {
  // xz-embedded (the kernel's decoder) accepts only what LZMA2 allows: pb <= 4 and lc + lp <= 4.
  if (b > (4 * 5 + 4) * 9 + 8) return null;
  const lc = b % 9;
  const lp = Math.floor(b / 9) % 5;
  const pb = Math.floor(b / 45);
  if (lc + lp > 4) return null;
  return { lc, lp, pb };
}

export function encodePropsByte(p: LzmaProps): number {
  return (p.pb * 5 + p.lp) * 9 + p.lc;
}

/** All adaptive probabilities of one LZMA stream, freshly initialised. */
export class LzmaModel {
  readonly isMatch = new Uint16Array(STATES * POS_STATES_MAX);
  readonly isRep = new Uint16Array(STATES);
  readonly isRepG0 = new Uint16Array(STATES);
  readonly isRepG1 = new Uint16Array(STATES);
  readonly isRepG2 = new Uint16Array(STATES);
  readonly isRep0Long = new Uint16Array(STATES * POS_STATES_MAX);
  readonly literal: Uint16Array;
  readonly distSlot = new Uint16Array(DIST_STATES * DIST_SLOTS);
  /** Modelled extra bits of slots 4..13, reverse bit trees packed as in the format (index base = dist - slot). */
  readonly distSpecial = new Uint16Array(FULL_DISTANCES - END_POS_MODEL + 1);
  readonly distAlign = new Uint16Array(ALIGN_SIZE);
  readonly matchLen = new LenModel();
  readonly repLen = new LenModel();

  constructor(readonly props: LzmaProps) {
    this.literal = new Uint16Array(0x300 << (props.lc + props.lp));
    for (const a of [this.isMatch, this.isRep, this.isRepG0, this.isRepG1, this.isRepG2, this.isRep0Long, this.literal,
      this.distSlot, this.distSpecial, this.distAlign]) a.fill(PROB_INIT);
  }

  /** Offset of the 0x300 literal probabilities for the byte at `pos` following `prev`. */
  literalBase(pos: number, prev: number): number {
    const { lc, lp } = this.props;
    return 0x300 * ((((pos & ((1 << lp) - 1)) << lc) + (prev >> (8 - lc))));
  }
}

export class LenModel {
  readonly choice = Uint16Array.of(PROB_INIT, PROB_INIT);
  readonly low = new Uint16Array(POS_STATES_MAX * LEN_LOW_SYMBOLS).fill(PROB_INIT);
  readonly mid = new Uint16Array(POS_STATES_MAX * LEN_MID_SYMBOLS).fill(PROB_INIT);
  readonly high = new Uint16Array(LEN_HIGH_SYMBOLS).fill(PROB_INIT);
}
