// The reader's LZ4 block decoder, compiled to WebAssembly (scripts/build-wasm.js); loaded by
// src/compress/lz4-wasm.ts. It accepts exactly the blocks the strict TypeScript decoder
// (lz4DecompressStrict in src/compress/lz4.ts) accepts and gives the same bytes; on a rejection it
// only says so, and the caller asks the TypeScript decoder for the reason (errors are rare, so the
// reasons live in one place).
//
// Linear memory (one instance per thread, never shared):
//   [0, inCap)                  the compressed block
//   [outBase, outBase + outCap) the decoded block
// with SLACK bytes after each: the copies below move 8 or 16 bytes at a time and may read or write up to 15
// bytes past a sequence's end (output bytes past the current position are written again later).

const MINMATCH: i32 = 4;
const MFLIMIT: i32 = 12;
const LASTLITERALS: i32 = 5;
const RUN_MASK: i32 = 15;
const ML_MASK: i32 = 15;
const SLACK: i32 = 64;

let inCap: i32 = 0;
let outCap: i32 = 0;
let outBase: usize = 0;

/** Room for a block of inLen bytes decoding to outLen; returns where the output starts. */
export function configure(inLen: i32, outLen: i32): usize {
  if (inLen <= inCap && outLen <= outCap) return outBase;
  if (inLen > inCap) inCap = inLen;
  if (outLen > outCap) outCap = outLen;
  outBase = <usize>((inCap + SLACK + 63) & ~63);
  const pages = <i32>((outBase + <usize>outCap + <usize>SLACK + 0xffff) >>> 16);
  const have = memory.size();
  if (pages > have && memory.grow(pages - have) < 0) unreachable();
  return outBase;
}

/** Decode the iend bytes at 0 to exactly outLen bytes at outBase: 0, or 1 when the block is rejected. */
export function decode(iend: i32, outLen: i32): i32 {
  const ob = outBase;
  if (iend == 0) return 1;
  if (outLen == 0) return iend == 1 && load<u8>(0) == 0 ? 0 : 1;
  let ip: i32 = 0;
  let op: i32 = 0;
  while (true) {
    if (ip >= iend) return 1;
    const token = <i32>load<u8>(<usize>(ip++));
    let ll = token >>> 4;
    if (ll == RUN_MASK) {
      let s: i32;
      do {
        if (ip >= iend) return 1;
        s = <i32>load<u8>(<usize>(ip++));
        ll += s;
        // More literals than the output holds is rejected whatever follows (keeps ll in i32).
        if (ll > outLen) return 1;
      } while (s == 255);
    }
    const litEnd = op + ll;
    if (litEnd > outLen - MFLIMIT || ip + ll > iend - (2 + 1 + LASTLITERALS)) {
      // the last sequence: literals only, ending the output and the input exactly
      if (litEnd != outLen || ip + ll != iend) return 1;
      memory.copy(ob + <usize>op, <usize>ip, <usize>ll);
      return 0;
    }
    if (ll <= 16) {
      // one 16-byte copy (SIMD): most literal runs are short
      v128.store(ob + <usize>op, v128.load(<usize>ip));
    } else if (ll <= 32) {
      v128.store(ob + <usize>op, v128.load(<usize>ip));
      v128.store(ob + <usize>(op + 16), v128.load(<usize>(ip + 16)));
    } else {
      memory.copy(ob + <usize>op, <usize>ip, <usize>ll);
    }
    ip += ll;
    op = litEnd;
    const off = <i32>load<u16>(<usize>ip);
    ip += 2;
    if (off == 0 || off > op) return 1;
    let ml = token & ML_MASK;
    if (ml == ML_MASK) {
      let s: i32;
      do {
        s = <i32>load<u8>(<usize>(ip++));
        if (ip > iend - LASTLITERALS) return 1;
        ml += s;
        if (ml > outLen) return 1;
      } while (s == 255);
    }
    ml += MINMATCH;
    const end = op + ml;
    if (end > outLen - LASTLITERALS) return 1;
    let d = ob + <usize>op;
    let r = d - <usize>off;
    if (off >= 16) {
      if (ml > 64 && off >= ml) {
        memory.copy(d, r, <usize>ml);
      } else {
        // each 16-byte load reads bytes already written (off >= 16)
        const stop = ob + <usize>end;
        do {
          v128.store(d, v128.load(r));
          d += 16;
          r += 16;
        } while (d < stop);
      }
    } else if (off >= 8) {
      // each 8-byte load reads bytes already written (off >= 8)
      const stop = ob + <usize>end;
      while (d < stop) {
        store<u64>(d, load<u64>(r));
        d += 8;
        r += 8;
      }
    } else if (off == 1) {
      memory.fill(d, load<u8>(r), <usize>ml);
    } else {
      // off 2..7: the first 8 bytes one at a time, then 8 at a time from a whole number of periods
      // back (step >= 8), whose bytes are all written already and equal those at distance off.
      const stop = ob + <usize>end;
      for (let k: usize = 0; k < 8; k++) store<u8>(d + k, load<u8>(r + k));
      const step = <usize>(off * ((8 + off - 1) / off));
      d += 8;
      r = d - step;
      while (d < stop) {
        store<u64>(d, load<u64>(r));
        d += 8;
        r += 8;
      }
    }
    op = end;
  }
}
