// LZ4 "destsize" block compressor (EROFS fixed-output pclusters), compiled to WebAssembly by
// AssemblyScript (scripts/build-wasm.js). Same algorithm and same output bytes as the reference
// TypeScript encoder it replaced; the format rules are described in src/compress/lz4.ts, which
// loads this module and holds the decoder.
//
// Linear memory (one instance per thread, never shared):
//   FAST_TABLE  level 0 hash table, 2^14 x i32
//   HC_HEAD     hash-chain heads, 2^15 x i32
//   HC_CHAIN    distance to the previous position with the same hash, 2^16 x u16 (by pos & 0xffff);
//               MAX_DISTANCE where that position is out of reach (or none): a chain walk steps below
//               its lower bound there, so the walk needs no test for the chain's end
//   OPT_*       optimal parser arrays, OPT_SLOTS x i32 each
//   out         the compressed block (configure's outCap bytes)
//   in          the input window (configure's inCap bytes); callers compress views of it in place
//
// Table entries hold position + base, where base grows by srcLen + 65536 per call (FAST_GAP, HC_GAP):
// entries of earlier calls are more than MAX_DISTANCE below every position of the call, so tables
// need no clearing between calls (only when base nears 2^30).

const MINMATCH: i32 = 4;
const MFLIMIT: i32 = 12; // a match starts at least 12 bytes before the end of the block
const LASTLITERALS: i32 = 5; // ... and ends at least 5 bytes before it
const MAX_DISTANCE: i32 = 65535;
const RUN_MASK: i32 = 15;
const ML_MASK: i32 = 15;

const FAST_HASH_LOG: i32 = 14;
const FAST_HASH_SHIFT: i32 = 32 - FAST_HASH_LOG;
const HASH5_MUL64: u64 = 889523592379;
const HC_HASH_LOG: i32 = 15;
const HC_HASH_SHIFT: i32 = 32 - HC_HASH_LOG;
const OPT_NUM: i32 = 4096;
const PRIME: i32 = <i32>2654435761;
const BASE_LIMIT: i32 = 0x3fffffff;
/** Runs of one byte value: scans are capped at RUN_CAP bytes; walking past a run of length n costs
 *  RUN_VISIT + n >> RUN_SHIFT of the search depth. */
const RUN_CAP: i32 = 4096;
const RUN_VISIT: i32 = 1;
const RUN_SHIFT: i32 = 3;
const INF: i32 = 0x3fffffff;

const FAST_TABLE: usize = 0;
const WILD_SLACK: usize = 16;
const HC_HEAD: usize = FAST_TABLE + (4 << FAST_HASH_LOG);
const HC_CHAIN: usize = HC_HEAD + (4 << HC_HASH_LOG);
const OPT_SLOTS: usize = OPT_NUM + 64;
const OPT_PRICE: usize = HC_CHAIN + 2 * 65536;
const OPT_LIT: usize = OPT_PRICE + 4 * OPT_SLOTS;
const OPT_LEN: usize = OPT_LIT + 4 * OPT_SLOTS;
const OPT_OFF: usize = OPT_LEN + 4 * OPT_SLOTS;
const OUT: usize = (OPT_OFF + 4 * OPT_SLOTS + 65535) & ~65535;

let inPtr: usize = OUT;
/** Level 0's table entries of a call are position + fastBase; fastBase grows by srcLen + FAST_GAP per
 *  call, so an entry of an earlier call (or 0, a cleared table) is more than MAX_DISTANCE below every
 *  position of this one and one distance test rejects it. */
const FAST_GAP: i32 = MAX_DISTANCE + 1;
let fastBase: i32 = FAST_GAP;
/** As fastBase: the chains' tables hold position + hcBase, hcBase growing by srcLen + HC_GAP per call,
 *  so an entry of an earlier call (or 0, a cleared table) is more than MAX_DISTANCE below every
 *  position of this one and one unsigned distance test rejects it. */
const HC_GAP: i32 = MAX_DISTANCE + 1;
let hcBase: i32 = HC_GAP;
/** hcFind may start its walk on the chain of a later position when minLen allows (levels 4..9). */
let seedChain: bool = false;
/** Offset of the last match hcFind returned. */
let mOff: i32 = 0;
/** Bytes written by the last compress call. */
export let written: i32 = 0;

/** Make room for outCap output bytes and inCap input bytes; returns the input's address.
 *  May grow the memory (views of it must be made again). */
export function configure(inCap: i32, outCap: i32): usize {
  // WILD_SLACK bytes after the block: literal copies may write up to 15 bytes past their end
  inPtr = (OUT + <usize>outCap + WILD_SLACK + 15) & ~15;
  const need = inPtr + <usize>inCap + 16;
  const have = <usize>memory.size() << 16;
  if (need > have) memory.grow(<i32>((need - have + 65535) >> 16));
  return inPtr;
}

export function outPtr(): usize {
  return OUT;
}

// ---------------------------------------------------------------------------------------------
// sizes and output

/** Extra length bytes for a 4-bit length field holding n. */
@inline function extLen(n: i32): i32 {
  return n < 15 ? 0 : 1 + (n - 15) / 255;
}

/** Largest literal count r whose final literal-only sequence fits `room` bytes; -1 if no token fits. */
function maxFinalRun(room: i32): i32 {
  if (room <= 0) return -1;
  const avail = room - 1;
  if (avail < 15) return avail;
  let r = avail - 1 - (avail - 15) / 256;
  while (r + 1 + extLen(r + 1) <= avail) r++;
  while (r + extLen(r) > avail) r--;
  return r;
}

/** Minimum final literal run after a match of length ml. */
@inline function minTail(ml: i32): i32 {
  return ml >= MFLIMIT - LASTLITERALS ? LASTLITERALS : MFLIMIT - ml;
}

/** Output cost of a sequence with ll literals and a match of length ml. */
@inline function seqCost(ll: i32, ml: i32): i32 {
  return 3 + ll + extLen(ll) + extLen(ml - MINMATCH);
}

/**
 * Copies n bytes 16 at a time, writing up to 15 bytes past dst + n (configure leaves WILD_SLACK
 * bytes after the block; the input window has 16 bytes after it to read). memory.copy costs a call
 * into the engine per sequence, which for the few literals of most sequences took longer than the copy.
 */
@inline function wildCopy(dst: usize, src: usize, n: i32): void {
  const end = dst + <usize>n;
  do {
    v128.store(dst, v128.load(src));
    dst += 16;
    src += 16;
  } while (dst < end);
}

function writeLength(op: usize, n: i32): usize {
  while (n >= 255) {
    store<u8>(op++, 255);
    n -= 255;
  }
  store<u8>(op++, n);
  return op;
}

/** One sequence at o: the ll literals at lit, then a match (off, ml). Returns the address after it.
 *  Inlined into level 0's loop, where a call per sequence cost ~5% of its time. */
@inline function emitSequence(o: usize, lit: usize, ll: i32, off: i32, ml: i32): usize {
  const tokenAt = o++;
  let token: i32;
  if (ll >= RUN_MASK) {
    token = RUN_MASK << 4;
    o = writeLength(o, ll - RUN_MASK);
  } else token = ll << 4;
  wildCopy(o, lit, ll);
  o += <usize>ll;
  store<u16>(o, <u16>off);
  o += 2;
  const mc = ml - MINMATCH;
  if (mc >= ML_MASK) {
    token |= ML_MASK;
    o = writeLength(o, mc - ML_MASK);
  } else token |= mc;
  store<u8>(tokenAt, token);
  return o;
}

/** One sequence: literals src[anchor, anchor + ll) then a match (off, ml). Returns the new op. */
function writeSequence(src: usize, anchor: i32, ll: i32, off: i32, ml: i32, op: i32): i32 {
  return <i32>(emitSequence(OUT + <usize>op, src + <usize>anchor, ll, off, ml) - OUT);
}

function writeLastLiterals(src: usize, anchor: i32, r: i32, op: i32): i32 {
  let o = OUT + <usize>op;
  if (r >= RUN_MASK) {
    store<u8>(o++, RUN_MASK << 4);
    o = writeLength(o, r - RUN_MASK);
  } else store<u8>(o++, r << 4);
  memory.copy(o, src + <usize>anchor, <usize>r);
  return <i32>(o - OUT) + r;
}

/** Ends the block with literals from anchor (as many as fit); returns the input consumed. */
function finish(src: usize, srcLen: i32, cap: i32, op: i32, anchor: i32): i32 {
  let r = maxFinalRun(cap - op);
  if (r < 0) {
    written = op;
    return anchor;
  }
  if (r > srcLen - anchor) r = srcLen - anchor;
  written = writeLastLiterals(src, anchor, r, op);
  return anchor + r;
}

/**
 * The sequence (literals from anchor up to ms, match ms/off/ml) does not fit together with the
 * tail reserve. Either end with literals from anchor, or emit the sequence with a shortened
 * match and end with literals after it; whichever consumes more input.
 */
function finishOverflow(src: usize, srcLen: i32, cap: i32, op: i32, anchor: i32, ms: i32, off: i32, ml: i32): i32 {
  const room = cap - op;
  let rB = maxFinalRun(room);
  if (rB > srcLen - anchor) rB = srcLen - anchor;
  const consumedB = anchor + rB;
  const ll = ms - anchor;
  const avail = room - (3 + ll + extLen(ll)) - 1; // for match-length bytes + final token + literals
  if (avail >= LASTLITERALS) {
    const e = avail - LASTLITERALS; // extra match length bytes allowed
    let ml2 = e == 0 ? MINMATCH + ML_MASK - 1 : MINMATCH + ML_MASK - 1 + 255 * e;
    if (ml2 > ml) ml2 = ml;
    if (minTail(ml2) <= avail) {
      let r = maxFinalRun(room - seqCost(ll, ml2));
      if (r > srcLen - (ms + ml2)) r = srcLen - (ms + ml2);
      if (r >= minTail(ml2) && ms + ml2 + r > consumedB) {
        op = writeSequence(src, anchor, ll, off, ml2, op);
        written = writeLastLiterals(src, ms + ml2, r, op);
        return ms + ml2 + r;
      }
    }
  }
  if (rB < 0) {
    written = op;
    return anchor;
  }
  written = writeLastLiterals(src, anchor, rB, op);
  return consumedB;
}

/** Length of the common prefix of src[a..] and src[b..], at most max bytes (8 at a time). */
@inline function commonLength(a: usize, b: usize, max: i32): i32 {
  let l: i32 = 0;
  while (l + 16 <= max) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(a + <usize>l), v128.load(b + <usize>l)));
    if (m != 0xffff) return l + <i32>ctz(~m);
    l += 16;
  }
  while (l + 8 <= max) {
    const x = load<u64>(a + <usize>l) ^ load<u64>(b + <usize>l);
    if (x != 0) return l + <i32>(ctz(x) >> 3);
    l += 8;
  }
  while (l < max && load<u8>(a + <usize>l) == load<u8>(b + <usize>l)) l++;
  return l;
}

// ---------------------------------------------------------------------------------------------
// level 0: greedy single-probe hash parse

/** Table slot of the 5 bytes at p (one 8-byte load; the block's last 12 bytes are never hashed):
 *  a slot only holds positions sharing 5 bytes, so 4-byte matches do not evict the candidates of
 *  longer ones. */
@inline function fastSlot(p: usize): usize {
  return FAST_TABLE + ((<usize>(<u32>(((load<u64>(p) << 24) * HASH5_MUL64) >> (64 - FAST_HASH_LOG)))) << 2);
}

/**
 * Level 0. Positions are addresses here (ip, ref, anchor; op in the block): a table entry still holds
 * position + base, read and written as address + adj.
 */
function compressFast(src: usize, srcLen: i32, cap: i32): i32 {
  if (fastBase + srcLen + FAST_GAP > BASE_LIMIT) {
    memory.fill(FAST_TABLE, 0, 4 << FAST_HASH_LOG);
    fastBase = FAST_GAP;
  }
  const base = fastBase;
  fastBase = base + srcLen + FAST_GAP;
  const adj: usize = <usize>base - src; // entry = address + adj (mod 2^32)
  const mflimit = src + <usize>(srcLen - MFLIMIT); // last address where a match may start
  const matchLimit = src + <usize>(srcLen - LASTLITERALS); // a match must end at or before this
  const outEnd = OUT + <usize>cap;
  let anchor = src;
  let op = OUT;
  // the search stops past mflimit or once the pending literals alone could not fit any more
  let stop = cap - 1 < srcLen - MFLIMIT ? src + <usize>(cap - 1) : mflimit;
  store<i32>(fastSlot(src), base);
  let ip = src + 1;
  let ref: usize = 0;
  while (ip <= stop) {
    // find a match; the step grows after every 64 misses
    let searches: i32 = 1 << 6;
    let step: usize = 1;
    // the next position's slot is computed before this one is checked (as liblz4 does), so that the
    // table load does not wait for the comparison
    let h = fastSlot(ip);
    while (true) {
      ref = <usize>load<i32>(h) - adj;
      store<i32>(h, <i32>(ip + adj));
      const next = ip + step;
      step = <usize>(searches++ >> 6);
      if (next > stop) {
        // the last candidate of the search
        if (<u32>(ip - ref) <= <u32>MAX_DISTANCE && load<i32>(ref) == load<i32>(ip)) break;
        return finish(src, srcLen, cap, <i32>(op - OUT), <i32>(anchor - src));
      }
      h = fastSlot(next);
      // one unsigned test for "from this call and in reach": every entry is below ip, and those of
      // earlier calls (or a cleared table) are more than MAX_DISTANCE below it (FAST_GAP)
      if (<u32>(ip - ref) <= <u32>MAX_DISTANCE) {
        if (load<i32>(ref) == load<i32>(ip)) break;
      }
      ip = next;
    }
    // catch up backwards
    while (ip > anchor && ref > src && load<u8>(ip - 1) == load<u8>(ref - 1)) {
      ip--;
      ref--;
    }
    while (true) {
      const ml = MINMATCH + commonLength(ip + MINMATCH, ref + MINMATCH, <i32>(matchLimit - ip) - MINMATCH);
      const ll = <i32>(ip - anchor);
      const off = <i32>(ip - ref);
      // room for the sequence and the shortest tail after it; the exact sizes only near the end
      // (extLen(n) <= 1 + n / 128, minTail <= MFLIMIT - MINMATCH)
      if (op + <usize>(ll + (ll >> 7) + (ml >> 7) + 6 + MFLIMIT - MINMATCH) > outEnd && op + <usize>(seqCost(ll, ml) + 1 + minTail(ml)) > outEnd) {
        return finishOverflow(src, srcLen, cap, <i32>(op - OUT), <i32>(anchor - src), <i32>(ip - src), off, ml);
      }
      op = emitSequence(op, anchor, ll, off, ml);
      ip += <usize>ml;
      anchor = ip;
      if (ip > mflimit) return finish(src, srcLen, cap, <i32>(op - OUT), <i32>(anchor - src));
      stop = anchor + (outEnd - op) - 1;
      if (stop > mflimit) stop = mflimit;
      // fill the table with ip-2 and try an immediate match at ip
      store<i32>(fastSlot(ip - 2), <i32>(ip - 2 + adj));
      const v = load<i32>(ip);
      const h = fastSlot(ip);
      ref = <usize>load<i32>(h) - adj;
      store<i32>(h, <i32>(ip + adj));
      if (<u32>(ip - ref) <= <u32>MAX_DISTANCE && load<i32>(ref) == v) continue;
      ip++;
      break;
    }
  }
  return finish(src, srcLen, cap, <i32>(op - OUT), <i32>(anchor - src));
}

// ---------------------------------------------------------------------------------------------
// hash chains (levels 1..12)

@inline function hcSlot(v: i32): usize {
  return HC_HEAD + ((<usize>(<u32>(v * PRIME) >> HC_HASH_SHIFT)) << 2);
}

@inline function chainAt(p: i32): i32 {
  return <i32>load<u16>(HC_CHAIN + ((<usize>(p & 0xffff)) << 1));
}

/** Inserts positions [from, to) into the chains; returns to. A previous position from an earlier
 *  call (prev < 0) or MAX_DISTANCE or more back is stored as MAX_DISTANCE: out of reach of every
 *  position the chain is walked from (all are above it). */
function hcInsert(src: usize, base: i32, from: i32, to: i32): i32 {
  for (let p = from; p < to; p++) {
    const h = hcSlot(load<i32>(src + <usize>p));
    const prev = load<i32>(h) - base;
    const d = p - prev;
    store<u16>(HC_CHAIN + ((<usize>(p & 0xffff)) << 1), d < MAX_DISTANCE ? d : MAX_DISTANCE);
    store<i32>(h, p + base);
  }
  return to;
}

/** How many of the max bytes from p on equal b (16 at a time). */
function runForward(p: usize, b: i32, max: i32): i32 {
  const vb = i8x16.splat(<i8>b);
  let l: i32 = 0;
  while (l + 16 <= max) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(p + <usize>l), vb));
    if (m != 0xffff) return l + <i32>ctz(~m);
    l += 16;
  }
  while (l < max && <i32>load<u8>(p + <usize>l) == b) l++;
  return l;
}

/** How many of the max bytes before p (p - 1, p - 2, ...) equal b (16 at a time). */
function runBackward(p: usize, b: i32, max: i32): i32 {
  const vb = i8x16.splat(<i8>b);
  let l: i32 = 0;
  while (l + 16 <= max) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(p - <usize>l - 16), vb));
    if (m != 0xffff) return l + <i32>clz((~m) & 0xffff) - 16;
    l += 16;
  }
  while (l < max && <i32>load<u8>(p - <usize>l - 1) == b) l++;
  return l;
}

/**
 * Longest match for ip (all positions < ip inserted), longer than minLen, ending at or before
 * limit; cand = headAt(src, base, ip), which the callers mostly have already. Returns its length
 * (0 if none) and leaves the offset in mOff.
 */
function hcFind(src: usize, base: i32, ip: i32, limit: i32, depth: i32, minLen: i32, cand: i32): i32 {
  const maxLen = limit - ip;
  if (maxLen < MINMATCH || minLen >= maxLen) return 0;
  const v = load<i32>(src + <usize>ip);
  // A run of one byte value at ip takes its own walk (hcFindRun): kept out of this function, whose
  // plain walk is most of the search time, it cost that walk registers (values spilled to the stack).
  if (v == (v & 0xff) * 0x01010101) return hcFindRun(src, base, ip, maxLen, depth, minLen, v, cand);
  const lowest = ip - MAX_DISTANCE;
  let best = minLen < MINMATCH - 1 ? MINMATCH - 1 : minLen;
  let bestOff: i32 = 0;
  // Candidates are walked through the chain of position cand + k. Any candidate better than a
  // match of length L at cand also matches the 4 bytes at every offset k <= L - 4, so it lies on
  // the chain of cand + k as well: after each improvement k is switched to the offset whose chain
  // link reaches farthest back; a chain end at any such offset proves no better candidate exists.
  let k: i32 = 0;
  const low = lowest > 0 ? lowest : 0;
  // The walk is bound by the latency of the chain loads: the loop body is kept small. A
  // candidate can only beat best if it matches the two bytes ending at ip + best (a cheaper
  // filter than the full compare, and it rejects exactly candidates of length <= best).
  const ipp = src + <usize>ip;
  let tail = <i32>load<u16>(ipp + <usize>(best - 1));
  if (seedChain && best >= MINMATCH + 2) {
    // With minLen given, a better candidate c has the 4 bytes at ip + j at c + j for every
    // j <= best - 3 (as for k below): the walk starts from the chain of j = best - 3 when that one
    // begins farther back, skipping candidates that cannot be longer. Only a search cut short by
    // its depth finds more. Levels 4..9 only: 1-3 and 10-12 keep their bytes.
    const j = best - 3;
    const q = load<i32>(hcSlot(load<i32>(ipp + <usize>j))) - base - j;
    if (q < cand) {
      cand = q;
      k = j;
    }
  }
  while (cand >= low && depth-- > 0) {
    const cp = src + <usize>cand;
    if (<i32>load<u16>(cp + <usize>(best - 1)) == tail && load<i32>(cp) == v) {
      const l = MINMATCH + commonLength(cp + MINMATCH, ipp + MINMATCH, maxLen - MINMATCH);
      if (l > best) {
        best = l;
        bestOff = ip - cand;
        if (l >= maxLen) break;
        tail = <i32>load<u16>(ipp + <usize>(best - 1));
        if (cand + l <= ip) {
          let far: i32 = 0;
          let step: i32 = 1;
          let n: i32 = 16;
          const kEnd = l - MINMATCH;
          for (let j: i32 = 0; j <= kEnd; j += step) {
            const d = chainAt(cand + j);
            if (d == MAX_DISTANCE) {
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
          if (far == 0) break;
          cand -= far;
          continue;
        }
      }
    }
    // a chain's end steps below low (chainAt)
    cand -= chainAt(cand + k);
  }
  if (bestOff == 0) return 0;
  mOff = bestOff;
  return best;
}

/** hcFind where the 4 bytes at ip are one byte value repeated (v). */
function hcFindRun(src: usize, base: i32, ip: i32, maxLen: i32, depth: i32, minLen: i32, v: i32, cand: i32): i32 {
  const lowest = ip - MAX_DISTANCE;
  let best = minLen < MINMATCH - 1 ? MINMATCH - 1 : minLen;
  let bestOff: i32 = 0;
  // Runs of one byte value: the chain holds every position of every run; only the candidate whose
  // run ends exactly as far after it as ip's run does can match beyond the run, so each run is
  // visited once.
  const b = v & 0xff;
  let runSearched = false; // the candidates longer than runIp have been looked up already
  const cap = maxLen < RUN_CAP ? maxLen : RUN_CAP;
  let runIp = MINMATCH;
  if (runIp < cap) runIp += runForward(src + <usize>(ip + runIp), b, cap - runIp);
  // A candidate matching more than runIp bytes is a run of at least runIp bytes followed by the
  // byte after ip's run: its last three run bytes and that byte are on the chain of the 4 bytes
  // at qe (one position per run of b followed by that byte), so the walk looks at nothing else.
  const qe = ip + runIp - 3;
  if (runIp < cap) {
    if (<i32>load<u8>(src + <usize>ip - 1) == b && runIp > best) {
      best = runIp; // the run goes on before ip: offset 1 gives exactly runIp
      bestOff = 1;
    }
    const w = load<i32>(src + <usize>qe);
    let q = load<i32>(hcSlot(w)) - base;
    let dq = depth;
    while (q >= 0 && dq-- > 0) {
      const a = q - (runIp - 3);
      if (a < lowest || a < 0) break;
      const x = best - runIp; // > 0: quick reject on the first byte that could improve
      if (
        (x <= 0 || load<u8>(src + <usize>(q + 3 + x)) == load<u8>(src + <usize>(qe + 3 + x))) &&
        load<i32>(src + <usize>q) == w
      ) {
        let j = a;
        if (j < q) j += runForward(src + <usize>j, b, q - j);
        if (j == q) {
          const l = runIp + 1 + commonLength(src + <usize>(a + runIp + 1), src + <usize>(ip + runIp + 1), maxLen - runIp - 1);
          if (l > best) {
            best = l;
            bestOff = ip - a;
            if (l >= maxLen) break;
          }
        }
      }
      const d = chainAt(q);
      if (d == MAX_DISTANCE) break;
      q -= d;
    }
    if (bestOff != 0) {
      mOff = bestOff;
      return best;
    }
    // no candidate is longer than runIp: one of runIp bytes or less is looked for below
    if (best >= runIp) return 0;
    runSearched = true;
  }
  const low = lowest > 0 ? lowest : 0;
  while (cand >= low && depth-- > 0) {
    if (load<i32>(src + <usize>cand) == v) {
      let e = cand + MINMATCH;
      const eMax = ip + runIp;
      if (e < eMax) e += runForward(src + <usize>e, b, eMax - e);
      let st = cand;
      const stMin = cand - RUN_CAP > lowest ? cand - RUN_CAP : lowest;
      const stLow = stMin > 0 ? stMin : 0;
      if (st > stLow) st -= runBackward(src + <usize>st, b, st - stLow);
      let a = e - runIp;
      if (a < st) a = st;
      if (a >= ip) a = ip - 1;
      // [a, e) and [ip, ip + runIp) are both runs of b: a shorter candidate run ends the match
      // (src[e] is not b); otherwise compare on after runIp bytes
      let l = e - a;
      if (l >= runIp) {
        l = runIp + commonLength(src + <usize>(a + runIp), src + <usize>(ip + runIp), maxLen - runIp);
      }
      if (l > best) {
        best = l;
        bestOff = ip - a;
        if (l >= maxLen || (runSearched && l >= runIp)) break;
      }
      // a long run costs search depth in proportion to its length
      depth -= RUN_VISIT + ((cand - st) >> RUN_SHIFT);
      const d = chainAt(st);
      if (d == MAX_DISTANCE) break;
      cand = st - d;
      continue;
    }
    const d = chainAt(cand);
    if (d == MAX_DISTANCE) break;
    cand -= d;
  }
  if (bestOff == 0) return 0;
  mOff = bestOff;
  return best;
}

/**
 * Whether any position within reach before ip (all inserted) shares the hash of ip's 4 bytes. When
 * none does, ip has no match: hcFind would return 0 (a run's candidates, offset 1 included, also
 * start with ip's 4 bytes). Most positions between matches have none; the test is cheaper than the
 * call.
 */
@inline function hasCandidate(head: i32, ip: i32): bool {
  return <u32>(ip - head) <= <u32>MAX_DISTANCE;
}

/** The last position inserted with the hash of ip's 4 bytes (below 0: none in this call). */
@inline function headAt(src: usize, base: i32, ip: i32): i32 {
  return load<i32>(hcSlot(load<i32>(src + <usize>ip))) - base;
}

/** scanToCandidate's position's headAt. */
let scanHead: i32 = 0;

/**
 * From ip on (all positions below it inserted): the first position up to stop that hasCandidate,
 * not inserted; every position passed is inserted on the way, as hcInsert would (stop + 1 if none;
 * stop itself is then not inserted). One hash per position: most positions between matches have no
 * candidate, and hcInsert then hasCandidate hashed each of them twice.
 */
function scanToCandidate(src: usize, base: i32, ip: i32, stop: i32): i32 {
  for (; ip <= stop; ip++) {
    const h = hcSlot(load<i32>(src + <usize>ip));
    const prev = load<i32>(h) - base;
    if (<u32>(ip - prev) <= <u32>MAX_DISTANCE) {
      scanHead = prev;
      return ip;
    }
    if (ip == stop) break;
    const d = ip - prev;
    store<u16>(HC_CHAIN + ((<usize>(ip & 0xffff)) << 1), d < MAX_DISTANCE ? d : MAX_DISTANCE);
    store<i32>(h, ip + base);
  }
  return stop + 1;
}

function hcStart(srcLen: i32): i32 {
  if (hcBase + srcLen + HC_GAP > BASE_LIMIT) {
    memory.fill(HC_HEAD, 0, 4 << HC_HASH_LOG);
    hcBase = HC_GAP;
  }
  const base = hcBase;
  hcBase = base + srcLen + HC_GAP;
  return base;
}

/** Levels 1..3: hash chains with lazy evaluation of the next positions. */
function compressLazy(src: usize, srcLen: i32, cap: i32, depth: i32): i32 {
  const base = hcStart(srcLen);
  const mflimit = srcLen - MFLIMIT;
  const matchLimit = srcLen - LASTLITERALS;
  let anchor: i32 = 0;
  let op: i32 = 0;
  let ip: i32 = 1;
  let next: i32 = 0; // next position to insert
  let litStop = anchor + cap - op - 1;
  while (ip <= mflimit && ip <= litStop) {
    next = hcInsert(src, base, next, ip);
    const head = headAt(src, base, ip);
    let ml = hasCandidate(head, ip) ? hcFind(src, base, ip, matchLimit, depth, 0, head) : 0;
    if (ml == 0) {
      ip++;
      continue;
    }
    let off = mOff;
    // lazy: prefer a longer match starting one or two bytes later
    while (true) {
      if (ip + 1 > mflimit) break;
      next = hcInsert(src, base, next, ip + 1);
      const ml1 = hcFind(src, base, ip + 1, matchLimit, depth, ml, headAt(src, base, ip + 1));
      if (ml1 > ml) {
        ml = ml1;
        off = mOff;
        ip += 1;
        continue;
      }
      if (ip + 2 > mflimit) break;
      next = hcInsert(src, base, next, ip + 2);
      const ml2 = hcFind(src, base, ip + 2, matchLimit, depth, ml + 1, headAt(src, base, ip + 2));
      if (ml2 > ml + 1) {
        ml = ml2;
        off = mOff;
        ip += 2;
        continue;
      }
      break;
    }
    // catch up backwards
    let ref = ip - off;
    while (ip > anchor && ref > 0 && load<u8>(src + <usize>ip - 1) == load<u8>(src + <usize>ref - 1)) {
      ip--;
      ref--;
      ml++;
    }
    const ll = ip - anchor;
    if (op + seqCost(ll, ml) + 1 + minTail(ml) > cap) {
      return finishOverflow(src, srcLen, cap, op, anchor, ip, off, ml);
    }
    op = writeSequence(src, anchor, ll, off, ml, op);
    ip += ml;
    anchor = ip;
    litStop = anchor + cap - op - 1;
  }
  return finish(src, srcLen, cap, op, anchor);
}

@inline function litPrice(ll: i32): i32 {
  return ll < 15 ? ll : ll + 1 + (ll - 15) / 255;
}

/** Token + offset + match length bytes (the token is charged to the match). */
@inline function matchPrice(ml: i32): i32 {
  const mc = ml - MINMATCH;
  return mc < 15 ? 3 : 4 + (mc - 15) / 255;
}

@inline function at(arr: usize, i: i32): i32 {
  return load<i32>(arr + ((<usize>i) << 2));
}
@inline function put(arr: usize, i: i32, v: i32): void {
  store<i32>(arr + ((<usize>i) << 2), v);
}

/**
 * The arrivals a match (off, length MINMATCH..ml) from window position cur offers: where
 * pc + matchPrice(m) <= price[cur + m], position cur + m is reached by it. matchPrice is constant
 * over runs of m (3 up to ML_MASK + MINMATCH - 1, then one more per 255), so each run is compared
 * four positions at a time; the scalar loop's compare-and-branch per position was a third of the
 * parser's own time at level 9.
 */
function relaxMatch(cur: i32, ml: i32, pc: i32, off: i32): void {
  let m = MINMATCH;
  let p = pc + 3;
  let runEnd = ML_MASK + MINMATCH - 1;
  const vo = i32x4.splat(off);
  while (m <= ml) {
    const e = runEnd < ml ? runEnd : ml;
    const vp = i32x4.splat(p);
    let vm = i32x4.add(i32x4.splat(m), i32x4(0, 1, 2, 3));
    while (m + 3 <= e) {
      const a = (<usize>(cur + m)) << 2;
      const old = v128.load(OPT_PRICE + a);
      const take = i32x4.le_s(vp, old);
      if (v128.any_true(take)) {
        v128.store(OPT_PRICE + a, v128.bitselect(vp, old, take));
        v128.store(OPT_LIT + a, v128.andnot(v128.load(OPT_LIT + a), take));
        v128.store(OPT_LEN + a, v128.bitselect(vm, v128.load(OPT_LEN + a), take));
        v128.store(OPT_OFF + a, v128.bitselect(vo, v128.load(OPT_OFF + a), take));
      }
      vm = i32x4.add(vm, i32x4.splat(4));
      m += 4;
    }
    for (; m <= e; m++) {
      const t = cur + m;
      if (p <= at(OPT_PRICE, t)) {
        put(OPT_PRICE, t, p);
        put(OPT_LIT, t, 0);
        put(OPT_LEN, t, m);
        put(OPT_OFF, t, off);
      }
    }
    p++;
    runEnd += 255;
  }
}

/**
 * The window's first match: positions MINMATCH..ml are reached by it (price p0 + matchPrice(m), no
 * literals, length m, offset off), written four at a time. Slots up to ml + 3 are written; those
 * past ml are above the window's end, which compressOpt marks INF before reading them. Below
 * ML_MASK + MINMATCH + 255 match lengths cost one of two prices (compressOpt's matches here are
 * shorter than `sufficient` <= 128); longer ones take the scalar loop.
 */
function fillMatch(ml: i32, p0: i32, off: i32): void {
  if (ml >= ML_MASK + MINMATCH + 255) {
    for (let m = MINMATCH; m <= ml; m++) {
      put(OPT_PRICE, m, p0 + matchPrice(m));
      put(OPT_LIT, m, 0);
      put(OPT_LEN, m, m);
      put(OPT_OFF, m, off);
    }
    return;
  }
  const vo = i32x4.splat(off);
  const vz = i32x4.splat(0);
  const vp = i32x4.splat(p0 + 3);
  // matchPrice(m) is 3 below ML_MASK + MINMATCH, 4 from there on
  const vLong = i32x4.splat(ML_MASK + MINMATCH - 1);
  let vm = i32x4(MINMATCH, MINMATCH + 1, MINMATCH + 2, MINMATCH + 3);
  for (let m = MINMATCH; m <= ml; m += 4) {
    const a = (<usize>m) << 2;
    // gt_s is -1 in the lanes past ML_MASK + MINMATCH - 1: subtracting it adds one
    v128.store(OPT_PRICE + a, i32x4.sub(vp, i32x4.gt_s(vm, vLong)));
    v128.store(OPT_LIT + a, vz);
    v128.store(OPT_LEN + a, vm);
    v128.store(OPT_OFF + a, vo);
    vm = i32x4.add(vm, i32x4.splat(4));
  }
}

/** The first window position c >= from with price[c + 1] > price[c], four compared at a time; may
 *  return past the window's end (slots past it hold stale prices: the caller tests the result). */
@inline function nextRise(c: i32): i32 {
  while (true) {
    const a = OPT_PRICE + ((<usize>c) << 2);
    const m = i32x4.bitmask(i32x4.gt_s(v128.load(a + 4), v128.load(a)));
    if (m != 0) return c + <i32>ctz(m);
    c += 4;
  }
}

/** price[from..to] = INF, four at a time (slots up to to + 3 are written: all past the window's end). */
@inline function fillInf(from: i32, to: i32): void {
  const v = i32x4.splat(INF);
  for (let i = from; i <= to; i += 4) v128.store(OPT_PRICE + ((<usize>i) << 2), v);
}

/** Levels 4..9: price-based parse over a look-ahead window (search depth and the length taken
 *  without further parsing grow with the level). The window's first position is searched `depth`
 *  deep, the others `innerDepth` deep and only for matches that reach past the window's end. */
function compressOpt(src: usize, srcLen: i32, cap: i32, depth: i32, innerDepth: i32, sufficient: i32): i32 {
  const base = hcStart(srcLen);
  const price = OPT_PRICE;
  const lit = OPT_LIT;
  const mlen = OPT_LEN;
  const moff = OPT_OFF;
  const mflimit = srcLen - MFLIMIT;
  const matchLimit = srcLen - LASTLITERALS;
  let anchor: i32 = 0;
  let op: i32 = 0;
  let ip: i32 = 1;
  let next: i32 = 0;
  let litStop = anchor + cap - op - 1;
  while (true) {
    const stop = mflimit < litStop ? mflimit : litStop;
    if (ip > stop) break;
    next = hcInsert(src, base, next, ip);
    ip = scanToCandidate(src, base, ip, stop);
    if (ip > stop) break;
    next = ip;
    const ml0 = hcFind(src, base, ip, matchLimit, depth, 0, scanHead);
    if (ml0 == 0) {
      ip++;
      continue;
    }
    const off0 = mOff;
    let last: i32;
    // a long match found at window position forcedAt is taken as is and ends the window
    let forcedAt: i32 = -1;
    let forcedLen: i32 = 0;
    let forcedOff: i32 = 0;
    if (ml0 >= sufficient) {
      forcedAt = 0;
      forcedLen = ml0;
      forcedOff = off0;
      last = 0;
    } else {
      // window positions are relative to ip
      const ll0 = ip - anchor;
      const p0 = litPrice(ll0);
      put(price, 0, p0);
      put(lit, 0, ll0);
      put(mlen, 0, 0);
      for (let i: i32 = 1; i < MINMATCH; i++) {
        put(price, i, litPrice(ll0 + i));
        put(lit, i, ll0 + i);
        put(mlen, i, 0);
      }
      fillMatch(ml0, p0, off0);
      last = ml0;
      put(price, last + 1, INF);
      for (let cur: i32 = 1; cur < last; cur++) {
        let pc = at(price, cur);
        if (at(price, cur + 1) <= pc) {
          // nothing happens at cur (its literal step is dearer than the next position's price, and
          // such a position is not searched): go to the next position dearer than it is reached
          cur = nextRise(cur + 1);
          if (cur >= last) break;
          pc = at(price, cur);
        }
        // literal transition cur -> cur + 1
        {
          const l = at(lit, cur) + 1;
          // litPrice(l) - litPrice(l - 1): one more length byte at 15 and every 255 after
          const p = pc + (l >= RUN_MASK && (l - RUN_MASK) % 255 == 0 ? 2 : 1);
          if (p < at(price, cur + 1)) {
            put(price, cur + 1, p);
            put(lit, cur + 1, l);
            put(mlen, cur + 1, 0);
          }
        }
        const pos = ip + cur;
        if (pos > mflimit) continue;
        // Only positions dearer than the next one are searched (lz4hc's optimal parser does the same
        // below its full-update level): from a position reached no cheaper than its successor a
        // match rarely pays. Half the searches; output 0.007 % larger at 64 KiB pclusters.
        if (at(price, cur + 1) <= pc) continue;
        next = hcInsert(src, base, next, pos);
        // hasCandidate: most positions searched here have none (half of them in machine code)
        const head = headAt(src, base, pos);
        const ml = hasCandidate(head, pos) ? hcFind(src, base, pos, matchLimit, innerDepth, last - cur, head) : 0;
        if (ml == 0) continue;
        const off = mOff;
        if (ml >= sufficient || cur + ml > OPT_NUM) {
          forcedAt = cur;
          forcedLen = ml;
          forcedOff = off;
          last = cur;
          break;
        }
        const end = cur + ml;
        if (end > last) {
          fillInf(last + 1, end + 1);
          last = end;
        }
        relaxMatch(cur, ml, pc, off);
      }
    }
    // backtrack from last, turning the arrival links into forward links: fwdLen[start] = length of
    // the step starting there (> 0 match, -1 literal), fwdOff[start] = its offset. lit and price
    // are free now and hold these.
    const fwdLen = lit;
    const fwdOff = price;
    let pos = last;
    // the path may end with literals; those stay pending for the next window (or precede the
    // forced match)
    if (forcedAt < 0) while (pos > 0 && at(mlen, pos) == 0) pos--;
    const end = pos;
    while (pos > 0) {
      const m = at(mlen, pos);
      if (m > 0) {
        const st = pos - m;
        put(fwdLen, st, m);
        put(fwdOff, st, at(moff, pos));
        pos = st;
      } else {
        put(fwdLen, pos - 1, -1);
        pos--;
      }
    }
    // emit forward
    pos = 0;
    while (true) {
      let m: i32 = 0;
      let off: i32 = 0;
      if (pos < end) {
        m = at(fwdLen, pos);
        if (m < 0) {
          pos++;
          continue;
        }
        off = at(fwdOff, pos);
      } else if (pos == forcedAt) {
        m = forcedLen;
        off = forcedOff;
      } else {
        break;
      }
      let s = ip + pos;
      let ml = m;
      // catch up backwards into pending literals
      let ref = s - off;
      while (s > anchor && ref > 0 && load<u8>(src + <usize>s - 1) == load<u8>(src + <usize>ref - 1)) {
        s--;
        ref--;
        ml++;
      }
      const ll = s - anchor;
      if (op + seqCost(ll, ml) + 1 + minTail(ml) > cap) {
        return finishOverflow(src, srcLen, cap, op, anchor, s, off, ml);
      }
      op = writeSequence(src, anchor, ll, off, ml, op);
      anchor = s + ml;
      pos += m;
    }
    litStop = anchor + cap - op - 1;
    // every position below ip + last may already be in the chains: continue from there
    ip += forcedAt >= 0 ? forcedAt + forcedLen : last;
  }
  return finish(src, srcLen, cap, op, anchor);
}

/** Output bytes of a sequence with ll literals and a match of length ml, as lz4hc's optimal parser
 *  prices it (token, offset, length bytes). */
@inline function seqPrice(ll: i32, ml: i32): i32 {
  return 3 + litPrice(ll) + (ml >= ML_MASK + MINMATCH ? 1 + (ml - ML_MASK - MINMATCH) / 255 : 0);
}

/** Literals after the last match are priced as a new run (lz4hc's optimal parser does the same). */
const TRAILING_LITERALS: i32 = 3;

/**
 * Levels 10..12: the optimal parse of liblz4 1.9.4's LZ4HC_compress_optimal, rule for rule where a
 * rule decides a choice, so that a pcluster holds as much input as mkfs.erofs's (which calls
 * LZ4_compress_HC_destSize): positions are reached only through a match or through the one to three
 * literals after a position where a match was found (plus TRAILING_LITERALS after the farthest
 * match end); a later match wins a price tie (`<=`), a literal needs a strictly lower price; the
 * search is skipped where the next position is no dearer (and, with fullUpdate, a minimal match
 * four bytes on could not pay either); a match longer than `sufficient` (or reaching OPT_NUM) is
 * taken at once; matches never extend backwards. The end of the block follows our own rules
 * (finishOverflow), which fit at least as much as liblz4's.
 */
function compressOptHC(src: usize, srcLen: i32, cap: i32, depth: i32, sufficient: i32, fullUpdate: bool): i32 {
  const base = hcStart(srcLen);
  const price = OPT_PRICE;
  const lit = OPT_LIT;
  const mlen = OPT_LEN;
  const moff = OPT_OFF;
  const mflimit = srcLen - MFLIMIT;
  const matchLimit = srcLen - LASTLITERALS;
  if (sufficient >= OPT_NUM) sufficient = OPT_NUM - 1;
  let anchor: i32 = 0;
  let op: i32 = 0;
  let ip: i32 = 1; // no match can start at 0 (hcFind reads the byte before ip)
  let next: i32 = 0;
  let litStop = anchor + cap - op - 1;
  while (ip <= mflimit && ip <= litStop) {
    if (next < ip) next = hcInsert(src, base, next, ip);
    const head = headAt(src, base, ip);
    const ml0 = hasCandidate(head, ip) ? hcFind(src, base, ip, matchLimit, depth, MINMATCH - 1, head) : 0;
    if (ml0 == 0) {
      ip++;
      continue;
    }
    const off0 = mOff;
    const llen = ip - anchor;
    let cur: i32 = 0;
    let last: i32 = 0;
    let bestLen: i32 = ml0;
    let bestOff: i32 = off0;
    if (ml0 > sufficient) {
      last = 1; // the path is just this match
    } else {
      // a step of length 1 (mlen 1) is a literal; lit = the literal run ending at the position
      for (let r: i32 = 0; r < MINMATCH; r++) {
        put(price, r, litPrice(llen + r));
        put(mlen, r, 1);
        put(lit, r, llen + r);
      }
      for (let m = MINMATCH; m <= ml0; m++) {
        put(price, m, seqPrice(llen, m));
        put(mlen, m, m);
        put(moff, m, off0);
        put(lit, m, llen);
      }
      last = ml0;
      for (let a: i32 = 1; a <= TRAILING_LITERALS; a++) {
        put(price, last + a, at(price, last) + litPrice(a));
        put(mlen, last + a, 1);
        put(lit, last + a, a);
      }
      let forced = false;
      for (cur = 1; cur < last; cur++) {
        const pos = ip + cur;
        if (pos > mflimit) break;
        const pc = at(price, cur);
        if (at(price, cur + 1) <= pc && (!fullUpdate || at(price, cur + MINMATCH) < pc + 3)) continue;
        if (next < pos) next = hcInsert(src, base, next, pos);
        const ml = hcFind(src, base, pos, matchLimit, depth, fullUpdate ? MINMATCH - 1 : last - cur, headAt(src, base, pos));
        if (ml == 0) continue;
        const off = mOff;
        if (ml > sufficient || ml + cur >= OPT_NUM) {
          bestLen = ml;
          bestOff = off;
          last = cur + 1;
          forced = true;
          break;
        }
        // one to three literals after cur
        const baseLit = at(lit, cur);
        for (let l: i32 = 1; l < MINMATCH; l++) {
          const p = pc - litPrice(baseLit) + litPrice(baseLit + l);
          if (p < at(price, cur + l)) {
            put(price, cur + l, p);
            put(mlen, cur + l, 1);
            put(lit, cur + l, baseLit + l);
          }
        }
        // the match from cur, priced together with the literal run before it
        let ll: i32 = 0;
        let before: i32 = pc;
        if (at(mlen, cur) == 1) {
          ll = at(lit, cur);
          before = cur > ll ? at(price, cur - ll) : 0;
        }
        for (let m = MINMATCH; m <= ml; m++) {
          const t = cur + m;
          const p = before + seqPrice(ll, m);
          if (t > last + TRAILING_LITERALS || p <= at(price, t)) {
            if (m == ml && last < t) last = t;
            put(price, t, p);
            put(mlen, t, m);
            put(moff, t, off);
            put(lit, t, ll);
          }
        }
        for (let a: i32 = 1; a <= TRAILING_LITERALS; a++) {
          put(price, last + a, at(price, last) + litPrice(a));
          put(mlen, last + a, 1);
          put(lit, last + a, a);
        }
      }
      if (!forced) {
        bestLen = at(mlen, last);
        bestOff = at(moff, last);
        cur = last - bestLen;
      }
      // turn the arrival steps into forward steps, from the chosen last step back to position 0
      let c = cur;
      let selLen = bestLen;
      let selOff = bestOff;
      while (true) {
        const nLen = at(mlen, c);
        const nOff = at(moff, c);
        put(mlen, c, selLen);
        put(moff, c, selOff);
        selLen = nLen;
        selOff = nOff;
        if (nLen > c) break;
        c -= nLen;
      }
    }
    // emit forward
    let r: i32 = 0;
    while (r < last) {
      let m: i32;
      let off: i32;
      if (last == 1 && r == 0 && ml0 > sufficient) {
        m = ml0;
        off = off0;
      } else {
        m = at(mlen, r);
        off = at(moff, r);
      }
      if (m == 1) {
        r++;
        continue;
      }
      const s = ip + r;
      const ll = s - anchor;
      if (op + seqCost(ll, m) + 1 + minTail(m) > cap) {
        return finishOverflow(src, srcLen, cap, op, anchor, s, off, m);
      }
      op = writeSequence(src, anchor, ll, off, m, op);
      anchor = s + m;
      r += m;
    }
    ip += r;
    litStop = anchor + cap - op - 1;
  }
  return finish(src, srcLen, cap, op, anchor);
}

/**
 * Compress as much of in[inOff, inOff + srcLen) as fits cap bytes (<= configure's outCap) as ONE
 * valid LZ4 block at outPtr(). Returns the input consumed; `written` holds the block's length.
 * level 0 = fast, 1..3 lazy hash chains, 4..12 optimal parse (9 is lz4hc's default); the caller
 * validates arguments (cap >= 1, srcLen <= 2^30 - 2^16).
 */
export function compress(inOff: i32, srcLen: i32, cap: i32, level: i32): i32 {
  const src = inPtr + <usize>inOff;
  if (srcLen < MFLIMIT + 1) return finish(src, srcLen, cap, 0, 0);
  if (level <= 0) return compressFast(src, srcLen, cap);
  seedChain = level >= 4 && level <= 9;
  if (level <= 3) return compressLazy(src, srcLen, cap, level == 1 ? 8 : level == 2 ? 16 : 32);
  switch (level) {
    // Levels 4..8 search as level 9 does (inside the window only for matches reaching past its end),
    // less deep: liblz4's attempts at each level (8 << (level - 4)) doubled for the window's first
    // position. They used to look for every match inside the window as deep as at its start, which
    // made them 1.2-1.5x slower than level 9. A pcluster still holds as much input as liblz4's at the
    // same level: 4 KiB / 16 KiB / 64 KiB pclusters over 24 MB of the corpus and of usrtree2, never
    // more pclusters than LZ4_compress_HC_destSize (e.g. corpus 64 MB, 4 KiB, levels 4..8: 7418
    // 7402 7397 7393 7390, liblz4 7428 7415 7406 7401 7400).
    case 4: return compressOpt(src, srcLen, cap, 16, 8, 48);
    case 5: return compressOpt(src, srcLen, cap, 32, 12, 48);
    case 6: return compressOpt(src, srcLen, cap, 64, 16, 64);
    case 7: return compressOpt(src, srcLen, cap, 128, 32, 64);
    case 8: return compressOpt(src, srcLen, cap, 256, 48, 64);
    // lz4hc's default: inside the window only matches reaching past its end are looked for. At 4 KiB
    // pclusters (the default) depths and sufficient length are the fastest found whose pclusters stay no more than liblz4's level 9
    // (its hash-chain parser, mkfs.erofs's default) on the corpus and on a /usr tree, 4 KiB: first
    // position 64 deep (was 256), inside 16 (was 64), taken as is from 64 bytes (was 128). Whole
    // trees, pclusters (ours before / now / liblz4): corpus 45741 / 45807 / 45820, usrtree7 101875 /
    // 101961 / 101991; encoder 1.09-1.15x faster. The parse itself, not the search depth, is most
    // of the rest (at depth 1 it runs 1.3x faster on binaries, not more). The same parse as level 6.
    // Pclusters above 4 KiB keep the deeper search: there these depths made images 0.1-0.3 % larger
    // than mkfs.erofs's (test/size-vs-mkfs.test.ts: -C16384 / -C65536 / -C262144).
    case 9: return cap <= 4096 ? compressOpt(src, srcLen, cap, 64, 16, 64) : compressOpt(src, srcLen, cap, 256, 64, 128);
    // lz4hc's levels 10..12 (search attempts, sufficient length; full update at 12)
    case 10: return compressOptHC(src, srcLen, cap, 512, 64, false);
    case 11: return compressOptHC(src, srcLen, cap, 2048, 128, false);
    default: return compressOptHC(src, srcLen, cap, 16384, OPT_NUM, true);
  }
}
