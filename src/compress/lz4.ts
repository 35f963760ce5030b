/**
 * LZ4 block codec (raw block format, no frame) written from the LZ4 block format description.
 *
 * - `lz4CompressDestSize`: "fixed output" compression as EROFS needs it: compress as much of the
 *   input as fits into `dst` as one valid LZ4 block and report how much input was consumed.
 *   level 0 = fast greedy hash parse ("lz4"), 1..12 = hash-chain levels ("lz4hc"):
 *   1..3 lazy parse, 4..12 near-optimal
 *   (price-based) parse.
 * - `lz4DecompressStrict`: a decoder that rejects everything the Linux kernel's
 *   `LZ4_decompress_safe` rejects (plus offset 0) and requires the exact output size.
 *
 * Block rules kept by the encoder (the kernel reports violations as corruption):
 * MINMATCH 4; a match starts at least MFLIMIT (12) bytes before the end of the decoded block and
 * ends at least LASTLITERALS (5) bytes before it; offsets 1..65535, never before the block start;
 * the block ends with a literal-only sequence.
 */

const MINMATCH = 4;
const MFLIMIT = 12;
const LASTLITERALS = 5;
const MAX_DISTANCE = 65535;
const RUN_MASK = 15;
const ML_MASK = 15;

/** Hash bits of the level-0 table (entries = 1 << FAST_HASH_LOG). */
const FAST_HASH_LOG = 14;
const FAST_HASH_SHIFT = 32 - FAST_HASH_LOG;
const HASH5_MUL = 0x2f0b4ad1;
/** Hash bits of the hash-chain head table. */
const HC_HASH_LOG = 15;
const HC_HASH_SHIFT = 32 - HC_HASH_LOG;
/** Window of the optimal parser (positions looked ahead before sequences are emitted). */
const OPT_NUM = 4096;
const PRIME = 2654435761 | 0;
/** Stored positions are `pos + base`; the base moves past every finished block, so entries of
 *  an earlier block are < base and therefore invalid (no clearing per call). */
const BASE_LIMIT = 0x3fffffff;
/** Longest input looked at in one call. */
const MAX_INPUT = 0x3fff0000;
/** Byte runs in the hash chains: longest run length measured, and the search depth a visited
 *  run costs (1 + length >> RUN_SHIFT). */
const RUN_CAP = 4096;
const RUN_VISIT = 1;
const RUN_SHIFT = 3;

export interface DestSizeResult {
  consumed: number;
  written: number;
}

/** Thrown by {@link lz4DecompressStrict}; `reason` is a short stable identifier. */
export class Lz4FormatError extends Error {
  readonly reason: string;
  constructor(reason: string, detail?: string) {
    super(`invalid LZ4 block: ${reason}${detail ? ` (${detail})` : ''}`);
    this.name = 'Lz4FormatError';
    this.reason = reason;
  }
}

interface LevelParams {
  /** 0 = fast, 1 = lazy hash chain, 2 = optimal */
  strategy: number;
  /** max candidates examined per search */
  depth: number;
  /** optimal parser: matches at least this long are taken at once */
  sufficient: number;
}

const LEVELS: LevelParams[] = [
  { strategy: 0, depth: 0, sufficient: 0 }, // 0: "lz4"
  { strategy: 1, depth: 8, sufficient: 0 }, // 1
  { strategy: 1, depth: 16, sufficient: 0 }, // 2
  { strategy: 1, depth: 32, sufficient: 0 }, // 3
  { strategy: 2, depth: 24, sufficient: 48 }, // 4
  { strategy: 2, depth: 40, sufficient: 64 }, // 5
  { strategy: 2, depth: 64, sufficient: 64 }, // 6
  { strategy: 2, depth: 96, sufficient: 64 }, // 7
  { strategy: 2, depth: 128, sufficient: 64 }, // 8
  { strategy: 2, depth: 256, sufficient: 128 }, // 9: lz4hc default
  { strategy: 2, depth: 512, sufficient: 192 }, // 10
  { strategy: 2, depth: 2048, sufficient: 512 }, // 11
  { strategy: 2, depth: 16384, sufficient: OPT_NUM }, // 12
];

/** Reusable work memory (hash tables, chains, parser arrays). Allocated lazily per strategy;
 *  one instance must not be used by two calls at the same time. */
export class Lz4Scratch {
  /** @internal */ fastTable: Int32Array | null = null;
  /** @internal */ fastBase = 1;
  /** @internal */ hcHead: Int32Array | null = null;
  /** @internal */ hcChain: Uint16Array | null = null;
  /** @internal */ hcBase = 1;
  /** @internal */ optPrice: Int32Array | null = null;
  /** @internal */ optLit: Int32Array | null = null;
  /** @internal */ optLen: Int32Array | null = null;
  /** @internal */ optOff: Int32Array | null = null;
  /** @internal last match found by the chain search */
  mOff = 0;

  /** @internal */ fast(srcLen: number): Int32Array {
    let t = this.fastTable;
    if (t === null) {
      t = this.fastTable = new Int32Array(1 << FAST_HASH_LOG);
      this.fastBase = 1;
    }
    if (this.fastBase + srcLen + 1 > BASE_LIMIT) {
      t.fill(0);
      this.fastBase = 1;
    }
    return t;
  }

  /** @internal */ hc(srcLen: number): void {
    if (this.hcHead === null) {
      this.hcHead = new Int32Array(1 << HC_HASH_LOG);
      this.hcChain = new Uint16Array(65536);
      this.hcBase = 1;
    }
    if (this.hcBase + srcLen + 1 > BASE_LIMIT) {
      this.hcHead.fill(0);
      this.hcBase = 1;
    }
  }

  /** @internal */ opt(): void {
    if (this.optPrice === null) {
      const n = OPT_NUM + 64;
      this.optPrice = new Int32Array(n);
      this.optLit = new Int32Array(n);
      this.optLen = new Int32Array(n);
      this.optOff = new Int32Array(n);
    }
  }
}

let defaultScratch: Lz4Scratch | null = null;

// ---------------------------------------------------------------------------------------------
// sizes and output helpers

/** Number of extra length bytes for a 4-bit length field holding `n`. */
function extLen(n: number): number {
  return n < 15 ? 0 : 1 + (((n - 15) / 255) | 0);
}

/** Largest literal count r such that a final literal-only sequence (token + length bytes + r)
 *  fits into `room` bytes; -1 if not even a token fits. */
function maxFinalRun(room: number): number {
  if (room <= 0) return -1;
  const avail = room - 1;
  if (avail < 15) return avail;
  let r = avail - 1 - (((avail - 15) / 256) | 0);
  while (r + 1 + extLen(r + 1) <= avail) r++;
  while (r + extLen(r) > avail) r--;
  return r;
}

/** Minimum final literal run after a match of length ml (match start >= 12 bytes before the
 *  end, match end >= 5 bytes before the end). */
function minTail(ml: number): number {
  return ml >= MFLIMIT - LASTLITERALS ? LASTLITERALS : MFLIMIT - ml;
}

function copyBytes(src: Uint8Array, from: number, n: number, dst: Uint8Array, op: number): void {
  if (n > 32) {
    dst.set(src.subarray(from, from + n), op);
  } else {
    for (let i = 0; i < n; i++) dst[op + i] = src[from + i];
  }
}

/** Writes one sequence (literals src[anchor..anchor+ll) then a match) and returns the new op. */
function writeSequence(
  src: Uint8Array,
  anchor: number,
  ll: number,
  off: number,
  ml: number,
  dst: Uint8Array,
  op: number,
): number {
  const tokenPos = op++;
  let token: number;
  if (ll >= RUN_MASK) {
    token = RUN_MASK << 4;
    let n = ll - RUN_MASK;
    while (n >= 255) {
      dst[op++] = 255;
      n -= 255;
    }
    dst[op++] = n;
  } else {
    token = ll << 4;
  }
  copyBytes(src, anchor, ll, dst, op);
  op += ll;
  dst[op++] = off & 255;
  dst[op++] = off >>> 8;
  const mc = ml - MINMATCH;
  if (mc >= ML_MASK) {
    token |= ML_MASK;
    let n = mc - ML_MASK;
    while (n >= 255) {
      dst[op++] = 255;
      n -= 255;
    }
    dst[op++] = n;
  } else {
    token |= mc;
  }
  dst[tokenPos] = token;
  return op;
}

function writeLastLiterals(src: Uint8Array, anchor: number, r: number, dst: Uint8Array, op: number): number {
  if (r >= RUN_MASK) {
    dst[op++] = RUN_MASK << 4;
    let n = r - RUN_MASK;
    while (n >= 255) {
      dst[op++] = 255;
      n -= 255;
    }
    dst[op++] = n;
  } else {
    dst[op++] = r << 4;
  }
  copyBytes(src, anchor, r, dst, op);
  return op + r;
}

/** Output cost of a sequence with ll literals and a match of length ml. */
function seqCost(ll: number, ml: number): number {
  return 3 + ll + extLen(ll) + extLen(ml - MINMATCH);
}

/** Ends the block with literals from `anchor` (as many as fit). */
function finish(src: Uint8Array, srcLen: number, dst: Uint8Array, cap: number, op: number, anchor: number): DestSizeResult {
  let r = maxFinalRun(cap - op);
  if (r < 0) return { consumed: anchor, written: op }; // only for cap === 0
  if (r > srcLen - anchor) r = srcLen - anchor;
  op = writeLastLiterals(src, anchor, r, dst, op);
  return { consumed: anchor + r, written: op };
}

/**
 * The sequence (literals from anchor up to ms, match ms/off/ml) does not fit together with the
 * tail reserve. Either end with literals from anchor, or emit the sequence with a shortened
 * match and end with literals after it; whichever consumes more input.
 */
function finishOverflow(
  src: Uint8Array,
  srcLen: number,
  dst: Uint8Array,
  cap: number,
  op: number,
  anchor: number,
  ms: number,
  off: number,
  ml: number,
): DestSizeResult {
  const room = cap - op;
  let rB = maxFinalRun(room);
  if (rB > srcLen - anchor) rB = srcLen - anchor;
  const consumedB = anchor + rB;
  const ll = ms - anchor;
  // bytes left for match-length bytes + final token + final literals
  const avail = room - (3 + ll + extLen(ll)) - 1;
  if (avail >= LASTLITERALS) {
    const e = avail - LASTLITERALS; // extra match length bytes allowed
    let ml2 = e === 0 ? MINMATCH + ML_MASK - 1 : MINMATCH + ML_MASK - 1 + 255 * e;
    if (ml2 > ml) ml2 = ml;
    if (minTail(ml2) <= avail) {
      const room2 = room - seqCost(ll, ml2);
      let r = maxFinalRun(room2);
      if (r > srcLen - (ms + ml2)) r = srcLen - (ms + ml2);
      if (r >= minTail(ml2) && ms + ml2 + r > consumedB) {
        op = writeSequence(src, anchor, ll, off, ml2, dst, op);
        op = writeLastLiterals(src, ms + ml2, r, dst, op);
        return { consumed: ms + ml2 + r, written: op };
      }
    }
  }
  if (rB < 0) return { consumed: anchor, written: op };
  op = writeLastLiterals(src, anchor, rB, dst, op);
  return { consumed: consumedB, written: op };
}

function read32(s: Uint8Array, i: number): number {
  return s[i] | (s[i + 1] << 8) | (s[i + 2] << 16) | (s[i + 3] << 24);
}

// ---------------------------------------------------------------------------------------------
// level 0: greedy single-probe hash parse

/** Level-0 hash of the 5 bytes at a position (v = its first 4 bytes, b4 = the fifth): a table
 *  slot then only holds positions sharing 5 bytes, so 4-byte matches do not evict the
 *  candidates of longer ones. */
function hashFastV(v: number, b4: number): number {
  return Math.imul(v ^ Math.imul(b4, HASH5_MUL), PRIME) >>> FAST_HASH_SHIFT;
}

function hashFast(src: Uint8Array, i: number): number {
  return hashFastV(read32(src, i), src[i + 4]);
}

function compressFast(src: Uint8Array, srcLen: number, dst: Uint8Array, cap: number, S: Lz4Scratch): DestSizeResult {
  const table = S.fast(srcLen);
  const base = S.fastBase;
  S.fastBase = base + srcLen + 1;
  const mflimit = srcLen - MFLIMIT; // last position where a match may start
  const matchLimit = srcLen - LASTLITERALS; // a match must end at or before this
  let anchor = 0;
  let op = 0;
  let ip = 0;
  // the search stops past mflimit or once the pending literals alone could not fit any more
  let stop = cap - 1 < mflimit ? cap - 1 : mflimit;

  table[hashFast(src, 0)] = base;
  ip = 1;
  let ref = 0;
  outer: for (;;) {
    // find a match
    let searches = 1 << 6;
    let step = 1;
    for (;;) {
      if (ip > stop) break outer;
      const v = src[ip] | (src[ip + 1] << 8) | (src[ip + 2] << 16) | (src[ip + 3] << 24);
      const h = hashFastV(v, src[ip + 4]);
      ref = table[h] - base;
      table[h] = ip + base;
      if (
        ref >= 0 &&
        ip - ref <= MAX_DISTANCE &&
        (src[ref] | (src[ref + 1] << 8) | (src[ref + 2] << 16) | (src[ref + 3] << 24)) === v
      ) {
        break;
      }
      ip += step;
      step = searches++ >> 6;
    }
    // catch up backwards
    while (ip > anchor && ref > 0 && src[ip - 1] === src[ref - 1]) {
      ip--;
      ref--;
    }
    for (;;) {
      // extend forwards
      let e = ip + MINMATCH;
      let r = ref + MINMATCH;
      while (e < matchLimit && src[e] === src[r]) {
        e++;
        r++;
      }
      const ml = e - ip;
      const ll = ip - anchor;
      const off = ip - ref;
      if (op + seqCost(ll, ml) + 1 + minTail(ml) > cap) {
        return finishOverflow(src, srcLen, dst, cap, op, anchor, ip, off, ml);
      }
      op = writeSequence(src, anchor, ll, off, ml, dst, op);
      ip = e;
      anchor = ip;
      if (ip > mflimit) break outer;
      stop = anchor + cap - op - 1;
      if (stop > mflimit) stop = mflimit;
      // fill the table with ip-2 and try an immediate match at ip
      table[hashFast(src, ip - 2)] = ip - 2 + base;
      const v = read32(src, ip);
      const h = hashFastV(v, src[ip + 4]);
      ref = table[h] - base;
      table[h] = ip + base;
      if (ref >= 0 && ip - ref <= MAX_DISTANCE && read32(src, ref) === v) continue;
      ip++;
      continue outer;
    }
  }
  return finish(src, srcLen, dst, cap, op, anchor);
}

// ---------------------------------------------------------------------------------------------
// hash chains (levels 1..12)

/** Inserts positions [from, to) into the chains; returns `to`. */
function hcInsert(src: Uint8Array, head: Int32Array, chain: Uint16Array, base: number, from: number, to: number): number {
  for (let p = from; p < to; p++) {
    const h = Math.imul(src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24), PRIME) >>> HC_HASH_SHIFT;
    const prev = head[h] - base;
    const d = p - prev;
    chain[p & 0xffff] = prev >= 0 && d <= MAX_DISTANCE ? d : 0;
    head[h] = p + base;
  }
  return to;
}

/**
 * Longest match for ip (all positions < ip must be inserted), longer than `minLen`, ending at or
 * before `limit`. Returns its length (0 if none) and stores the offset in S.mOff.
 */
function hcFind(
  src: Uint8Array,
  head: Int32Array,
  chain: Uint16Array,
  base: number,
  ip: number,
  limit: number,
  depth: number,
  minLen: number,
  S: Lz4Scratch,
): number {
  const maxLen = limit - ip;
  if (maxLen < MINMATCH || minLen >= maxLen) return 0;
  const v = src[ip] | (src[ip + 1] << 8) | (src[ip + 2] << 16) | (src[ip + 3] << 24);
  let cand = head[Math.imul(v, PRIME) >>> HC_HASH_SHIFT] - base;
  const lowest = ip - MAX_DISTANCE;
  let best = minLen < MINMATCH - 1 ? MINMATCH - 1 : minLen;
  let bestOff = 0;
  // Candidates are walked through the chain of position cand + k. Any candidate better than a
  // match of length L at cand also matches the 4 bytes at every offset k <= L - 4, so it lies
  // on the chain of cand + k as well: after each improvement k is switched to the offset whose
  // chain link reaches farthest back (fewer useless candidates); a chain end at any such
  // offset proves that no better candidate exists.
  let k = 0;
  // Runs of one byte value: the chain holds every position of every run, so walking it one
  // position at a time wastes the search depth. Only the candidate whose run ends exactly as
  // far after it as ip's run does can match beyond the run, so each run is visited once.
  const b = v & 0xff;
  const isRun = v === Math.imul(b, 0x01010101);
  let runIp = 0;
  let runSearched = false; // the candidates longer than runIp have been looked up already
  if (isRun) {
    // (capped: beyond RUN_CAP the exact alignment hardly matters and scans would get quadratic)
    const cap = maxLen < RUN_CAP ? maxLen : RUN_CAP;
    runIp = MINMATCH;
    while (runIp < cap && src[ip + runIp] === b) runIp++;
    // A candidate that matches more than runIp bytes is a run of at least runIp bytes
    // followed by the bytes that follow ip's run: look those up through the (far more
    // selective) chain of the 4 bytes after ip's run.
    const qe = ip + runIp;
    if (runIp < cap && qe + MINMATCH <= limit) {
      if (src[ip - 1] === b && runIp > best) {
        // the run goes on before ip: offset 1 gives exactly runIp
        best = runIp;
        bestOff = 1;
      }
      const w = src[qe] | (src[qe + 1] << 8) | (src[qe + 2] << 16) | (src[qe + 3] << 24);
      let q = head[Math.imul(w, PRIME) >>> HC_HASH_SHIFT] - base;
      let dq = depth;
      while (q >= 0 && dq-- > 0) {
        const a = q - runIp;
        if (a < lowest || a < 0) break;
        const x = best - runIp; // > 0: quick reject on the first byte that could improve
        if (
          src[q - 1] === b &&
          src[a] === b &&
          (x <= 0 || src[q + x] === src[qe + x]) &&
          (src[q] | (src[q + 1] << 8) | (src[q + 2] << 16) | (src[q + 3] << 24)) === w
        ) {
          let j = a + 1;
          while (j < q && src[j] === b) j++;
          if (j === q) {
            let l = runIp + MINMATCH;
            while (l < maxLen && src[a + l] === src[ip + l]) l++;
            if (l > best) {
              best = l;
              bestOff = ip - a;
              if (l >= maxLen) break;
            }
          }
        }
        const d = chain[q & 0xffff];
        if (d === 0) break;
        q -= d;
      }
      if (bestOff !== 0) {
        S.mOff = bestOff;
        return best;
      }
      runSearched = true;
    }
  }
  while (cand >= 0 && cand >= lowest && depth-- > 0) {
    if (isRun) {
      if ((src[cand] | (src[cand + 1] << 8) | (src[cand + 2] << 16) | (src[cand + 3] << 24)) === v) {
        let e = cand + MINMATCH;
        const eMax = ip + runIp;
        while (e < eMax && src[e] === b) e++;
        let st = cand;
        const stMin = cand - RUN_CAP > lowest ? cand - RUN_CAP : lowest;
        while (st > 0 && st > stMin && src[st - 1] === b) st--;
        let a = e - runIp;
        if (a < st) a = st;
        if (a >= ip) a = ip - 1;
        // [a, e) and [ip, ip + runIp) are both runs of b: a shorter candidate run ends the
        // match (src[e] is not b); otherwise compare on after runIp bytes
        let l = e - a;
        if (l >= runIp) {
          l = runIp;
          while (l < maxLen && src[a + l] === src[ip + l]) l++;
        }
        if (l > best) {
          best = l;
          bestOff = ip - a;
          if (l >= maxLen || (runSearched && l >= runIp + MINMATCH - 1)) break;
        }
        // a long run costs search depth in proportion to its length
        depth -= RUN_VISIT + ((cand - st) >> RUN_SHIFT);
        const d = chain[st & 0xffff];
        if (d === 0) break;
        cand = st - d;
        continue;
      }
    } else if (
      src[cand + best] === src[ip + best] &&
      (src[cand] | (src[cand + 1] << 8) | (src[cand + 2] << 16) | (src[cand + 3] << 24)) === v
    ) {
      let l = MINMATCH;
      while (l < maxLen && src[cand + l] === src[ip + l]) l++;
      if (l > best) {
        best = l;
        bestOff = ip - cand;
        if (l >= maxLen) break;
        if (cand + l <= ip) {
          let far = 0;
          let step = 1;
          let n = 16;
          const kEnd = l - MINMATCH;
          for (let j = 0; j <= kEnd; j += step) {
            const d = chain[(cand + j) & 0xffff];
            if (d === 0) {
              far = 0;
              break;
            }
            if (d > far) {
              far = d;
              k = j;
              n = 16;
            }
            step = n++ >> 4;
          }
          if (far === 0) break;
          cand -= far;
          continue;
        }
      }
    }
    const d = chain[(cand + k) & 0xffff];
    if (d === 0) break;
    cand -= d;
  }
  if (bestOff === 0) return 0;
  S.mOff = bestOff;
  return best;
}

/** Levels 1..3: hash chains with lazy evaluation of the next positions. */
function compressLazy(
  src: Uint8Array,
  srcLen: number,
  dst: Uint8Array,
  cap: number,
  S: Lz4Scratch,
  depth: number,
): DestSizeResult {
  S.hc(srcLen);
  const head = S.hcHead!;
  const chain = S.hcChain!;
  const base = S.hcBase;
  S.hcBase = base + srcLen + 1;
  const mflimit = srcLen - MFLIMIT;
  const matchLimit = srcLen - LASTLITERALS;
  let anchor = 0;
  let op = 0;
  let ip = 1;
  let next = 0; // next position to insert
  let litStop = anchor + cap - op - 1;
  while (ip <= mflimit && ip <= litStop) {
    next = hcInsert(src, head, chain, base, next, ip);
    let ml = hcFind(src, head, chain, base, ip, matchLimit, depth, 0, S);
    if (ml === 0) {
      ip++;
      continue;
    }
    let off = S.mOff;
    // lazy: prefer a longer match starting one or two bytes later
    for (;;) {
      if (ip + 1 > mflimit) break;
      next = hcInsert(src, head, chain, base, next, ip + 1);
      const ml1 = hcFind(src, head, chain, base, ip + 1, matchLimit, depth, ml, S);
      if (ml1 > ml) {
        ml = ml1;
        off = S.mOff;
        ip += 1;
        continue;
      }
      if (ip + 2 > mflimit) break;
      next = hcInsert(src, head, chain, base, next, ip + 2);
      const ml2 = hcFind(src, head, chain, base, ip + 2, matchLimit, depth, ml + 1, S);
      if (ml2 > ml + 1) {
        ml = ml2;
        off = S.mOff;
        ip += 2;
        continue;
      }
      break;
    }
    // catch up backwards
    let ref = ip - off;
    while (ip > anchor && ref > 0 && src[ip - 1] === src[ref - 1]) {
      ip--;
      ref--;
      ml++;
    }
    const ll = ip - anchor;
    if (op + seqCost(ll, ml) + 1 + minTail(ml) > cap) {
      return finishOverflow(src, srcLen, dst, cap, op, anchor, ip, off, ml);
    }
    op = writeSequence(src, anchor, ll, off, ml, dst, op);
    ip += ml;
    anchor = ip;
    litStop = anchor + cap - op - 1;
  }
  return finish(src, srcLen, dst, cap, op, anchor);
}

function litPrice(ll: number): number {
  return ll < 15 ? ll : ll + 1 + (((ll - 15) / 255) | 0);
}

function matchPrice(ml: number): number {
  // token + offset + match length bytes (the token is charged to the match)
  const mc = ml - MINMATCH;
  return mc < 15 ? 3 : 4 + (((mc - 15) / 255) | 0);
}

/** Levels 4..12: price-based parse over a look-ahead window (search depth and the length
 *  taken without further parsing grow with the level). */
function compressOpt(
  src: Uint8Array,
  srcLen: number,
  dst: Uint8Array,
  cap: number,
  S: Lz4Scratch,
  depth: number,
  sufficient: number,
): DestSizeResult {
  S.hc(srcLen);
  S.opt();
  const head = S.hcHead!;
  const chain = S.hcChain!;
  const price = S.optPrice!;
  const lit = S.optLit!;
  const mlen = S.optLen!;
  const moff = S.optOff!;
  const base = S.hcBase;
  S.hcBase = base + srcLen + 1;
  const mflimit = srcLen - MFLIMIT;
  const matchLimit = srcLen - LASTLITERALS;
  const INF = 0x3fffffff;
  let anchor = 0;
  let op = 0;
  let ip = 1;
  let next = 0;
  let litStop = anchor + cap - op - 1;
  while (ip <= mflimit && ip <= litStop) {
    next = hcInsert(src, head, chain, base, next, ip);
    const ml0 = hcFind(src, head, chain, base, ip, matchLimit, depth, 0, S);
    if (ml0 === 0) {
      ip++;
      continue;
    }
    const off0 = S.mOff;
    let last: number;
    // a long match found at window position forcedAt is taken as is and ends the window
    let forcedAt = -1;
    let forcedLen = 0;
    let forcedOff = 0;
    if (ml0 >= sufficient) {
      forcedAt = 0;
      forcedLen = ml0;
      forcedOff = off0;
      last = 0;
    } else {
      // window positions are relative to ip
      const ll0 = ip - anchor;
      const p0 = litPrice(ll0);
      price[0] = p0;
      lit[0] = ll0;
      mlen[0] = 0;
      for (let i = 1; i < MINMATCH; i++) {
        price[i] = litPrice(ll0 + i);
        lit[i] = ll0 + i;
        mlen[i] = 0;
      }
      for (let m = MINMATCH; m <= ml0; m++) {
        price[m] = p0 + matchPrice(m);
        lit[m] = 0;
        mlen[m] = m;
        moff[m] = off0;
      }
      last = ml0;
      price[last + 1] = INF;
      for (let cur = 1; cur < last; cur++) {
        const pc = price[cur];
        // literal transition cur -> cur + 1
        {
          const l = lit[cur] + 1;
          const p = pc - litPrice(l - 1) + litPrice(l);
          if (p < price[cur + 1]) {
            price[cur + 1] = p;
            lit[cur + 1] = l;
            mlen[cur + 1] = 0;
          }
        }
        const pos = ip + cur;
        if (pos > mflimit) continue;
        // a match from here cannot pay off if the next positions are already cheap
        if (cur + MINMATCH <= last && price[cur + 1] <= pc && price[cur + MINMATCH] < pc + 3) continue;
        next = hcInsert(src, head, chain, base, next, pos);
        const ml = hcFind(src, head, chain, base, pos, matchLimit, depth, 0, S);
        if (ml === 0) continue;
        const off = S.mOff;
        if (ml >= sufficient || cur + ml > OPT_NUM) {
          forcedAt = cur;
          forcedLen = ml;
          forcedOff = off;
          last = cur;
          break;
        }
        const end = cur + ml;
        if (end > last) {
          for (let i = last + 1; i <= end + 1; i++) price[i] = INF;
          last = end;
        }
        for (let m = MINMATCH; m <= ml; m++) {
          const p = pc + matchPrice(m);
          const t = cur + m;
          if (p <= price[t]) {
            price[t] = p;
            lit[t] = 0;
            mlen[t] = m;
            moff[t] = off;
          }
        }
      }
    }
    // backtrack from `last`, turning the arrival links into forward links: fwdLen[start] =
    // length of the step starting there (> 0 match, -1 literal), fwdOff[start] = its offset.
    // The DP arrays lit/price are free now and hold these.
    const fwdLen = lit;
    const fwdOff = price;
    let pos = last;
    // the path may end with literals; those stay pending for the next window (or precede the
    // forced match)
    if (forcedAt < 0) while (pos > 0 && mlen[pos] === 0) pos--;
    const end = pos;
    while (pos > 0) {
      const m = mlen[pos];
      if (m > 0) {
        const st = pos - m;
        fwdLen[st] = m;
        fwdOff[st] = moff[pos];
        pos = st;
      } else {
        fwdLen[pos - 1] = -1;
        pos--;
      }
    }
    // emit forward
    pos = 0;
    for (;;) {
      let m: number;
      let off: number;
      if (pos < end) {
        m = fwdLen[pos];
        if (m < 0) {
          pos++;
          continue;
        }
        off = fwdOff[pos];
      } else if (pos === forcedAt) {
        m = forcedLen;
        off = forcedOff;
      } else {
        break;
      }
      let s = ip + pos;
      let ml = m;
      // catch up backwards into pending literals
      let ref = s - off;
      while (s > anchor && ref > 0 && src[s - 1] === src[ref - 1]) {
        s--;
        ref--;
        ml++;
      }
      const ll = s - anchor;
      if (op + seqCost(ll, ml) + 1 + minTail(ml) > cap) {
        return finishOverflow(src, srcLen, dst, cap, op, anchor, s, off, ml);
      }
      op = writeSequence(src, anchor, ll, off, ml, dst, op);
      anchor = s + ml;
      pos += m;
    }
    litStop = anchor + cap - op - 1;
    // every position below ip + last may already be in the chains: continue from there
    ip += forcedAt >= 0 ? forcedAt + forcedLen : last;
  }
  return finish(src, srcLen, dst, cap, op, anchor);
}

// ---------------------------------------------------------------------------------------------
// public API

/**
 * Compress as much of src[0..srcLen) as fits into dst (capacity = dst.length bytes) as ONE valid
 * LZ4 block (like LZ4_compress_destSize / LZ4_compress_HC_destSize). level 0 = fast, 1..12 = HC
 * levels (9 is lz4hc's default). Returns bytes consumed and written; the block decodes to
 * exactly src[0..consumed). With a zero-capacity dst nothing is written (consumed 0). At most
 * the first ~1 GiB of src is looked at per call. Levels outside 0..12 are clamped.
 */
export function lz4CompressDestSize(
  src: Uint8Array,
  srcLen: number,
  dst: Uint8Array,
  level: number,
  scratch?: Lz4Scratch,
): DestSizeResult {
  if (!(srcLen >= 0 && srcLen <= src.length) || srcLen !== Math.floor(srcLen)) {
    throw new RangeError(`lz4CompressDestSize: bad srcLen ${srcLen}`);
  }
  const cap = dst.length;
  if (cap === 0) return { consumed: 0, written: 0 };
  // positions are kept in Int32Arrays: look at most at the first MAX_INPUT bytes (a block can
  // never cover more than 255 * dst.length of input anyway)
  if (srcLen > MAX_INPUT) srcLen = MAX_INPUT;
  if (srcLen < MFLIMIT + 1) return finish(src, srcLen, dst, cap, 0, 0);
  let lv = Math.floor(level);
  if (!(lv >= 0)) lv = 0;
  if (lv > 12) lv = 12;
  const S = scratch ?? (defaultScratch ??= new Lz4Scratch());
  const p = LEVELS[lv];
  if (p.strategy === 0) return compressFast(src, srcLen, dst, cap, S);
  if (p.strategy === 1) return compressLazy(src, srcLen, dst, cap, S, p.depth);
  return compressOpt(src, srcLen, dst, cap, S, p.depth, p.sufficient);
}

/** Worst-case compressed size of n input bytes (all literals). */
export function lz4CompressBound(n: number): number {
  return n + ((n / 255) | 0) + 16;
}

/**
 * Strict decoder mirroring the Linux kernel's LZ4_decompress_safe checks, with the output
 * required to be exactly outLen bytes. Reasons: empty-input, truncated-input, trailing-input,
 * output-overflow, output-short, match-in-mflimit, match-in-lastliterals, offset-zero,
 * offset-before-start.
 */
export function lz4DecompressStrict(src: Uint8Array, outLen: number, out?: Uint8Array): Uint8Array {
  if (!(outLen >= 0) || outLen !== Math.floor(outLen)) throw new RangeError(`bad outLen ${outLen}`);
  const o = out ?? new Uint8Array(outLen);
  if (o.length < outLen) throw new RangeError('output buffer smaller than outLen');
  const iend = src.length;
  if (iend === 0) throw new Lz4FormatError('empty-input');
  if (outLen === 0) {
    if (iend === 1 && src[0] === 0) return o.subarray(0, 0);
    throw new Lz4FormatError(src[0] >> 4 !== 0 ? 'output-overflow' : 'trailing-input');
  }
  let ip = 0;
  let op = 0;
  for (;;) {
    if (ip >= iend) throw new Lz4FormatError('truncated-input');
    const token = src[ip++];
    let ll = token >>> 4;
    if (ll === RUN_MASK) {
      let s: number;
      do {
        if (ip >= iend) throw new Lz4FormatError('truncated-input');
        s = src[ip++];
        ll += s;
      } while (s === 255);
    }
    const litEnd = op + ll;
    if (litEnd > outLen - MFLIMIT || ip + ll > iend - (2 + 1 + LASTLITERALS)) {
      // this must be the last sequence: literals only, consuming the input exactly
      if (litEnd > outLen) throw new Lz4FormatError('output-overflow', `${litEnd} > ${outLen}`);
      if (ip + ll > iend) throw new Lz4FormatError('truncated-input');
      if (ip + ll !== iend) {
        if (litEnd === outLen) throw new Lz4FormatError('trailing-input');
        if (litEnd > outLen - MFLIMIT) throw new Lz4FormatError('match-in-mflimit', `match at ${litEnd}`);
        throw new Lz4FormatError('truncated-input');
      }
      copyBytes(src, ip, ll, o, op);
      op = litEnd;
      if (op !== outLen) throw new Lz4FormatError('output-short', `${op} < ${outLen}`);
      return o.subarray(0, outLen);
    }
    copyBytes(src, ip, ll, o, op);
    ip += ll;
    op = litEnd;
    const off = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (off === 0) throw new Lz4FormatError('offset-zero');
    if (off > op) throw new Lz4FormatError('offset-before-start', `offset ${off} at ${op}`);
    let ml = token & ML_MASK;
    if (ml === ML_MASK) {
      let s: number;
      do {
        s = src[ip++];
        if (ip > iend - LASTLITERALS) throw new Lz4FormatError('truncated-input');
        ml += s;
      } while (s === 255);
    }
    ml += MINMATCH;
    const end = op + ml;
    if (end > outLen - LASTLITERALS) throw new Lz4FormatError('match-in-lastliterals', `match ends at ${end}`);
    let r = op - off;
    if (ml > 32 && off >= ml) {
      o.copyWithin(op, r, r + ml);
      op = end;
    } else {
      while (op < end) o[op++] = o[r++];
    }
  }
}
