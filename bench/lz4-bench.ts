/**
 * LZ4 destSize benchmark: compresses whole files pcluster by pcluster the way mkfs.erofs does
 * (each call gets the remaining file, capped at --incap bytes, and a --dst byte destination) and
 * reports pclusters per file set, mean consumed input per pcluster and throughput.
 *
 *   node dist/bench/lz4-bench.js [--list FILE | DIR...] [--levels 0,9] [--dst 4096]
 *        [--incap 65536] [--max-mb 64] [--verify] [--no-warmup]
 *
 * --verify decodes every block with lz4DecompressStrict (and reports its throughput).
 * "fixedSum" = total consumed over calls at fixed offsets (0, incap, 2*incap, ...) whose input is
 * at least 2*dst bytes: the same inputs for every encoder, so directly comparable.
 */
import { readFileSync, readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { lz4CompressDestSize, lz4DecompressStrict, Lz4Scratch } from '../src/compress/lz4.js';

function argValue(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

function walk(dir: string, out: string[], budget: { left: number }): void {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return;
  }
  for (const n of names) {
    if (budget.left <= 0) return;
    const p = join(dir, n);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) walk(p, out, budget);
    else if (st.isFile() && st.size > 0 && st.size <= budget.left) {
      out.push(p);
      budget.left -= st.size;
    }
  }
}

const levels = argValue('--levels', '0,9').split(',').map(Number);
const dstCap = Number(argValue('--dst', '4096'));
const inCap = Number(argValue('--incap', '65536'));
const maxMB = Number(argValue('--max-mb', '64'));
const verify = process.argv.includes('--verify');
const listFile = argValue('--list', '');
let files: string[];
if (listFile) {
  files = readFileSync(listFile, 'utf8').split('\n').filter((l) => l.length > 0);
} else {
  const dirs = process.argv.slice(2).filter((a, i, arr) => !a.startsWith('--') && !(i > 0 && arr[i - 1].startsWith('--')));
  const budget = { left: maxMB * 1024 * 1024 };
  files = [];
  for (const d of dirs.length ? dirs : ['/usr/include', '/usr/lib']) walk(d, files, budget);
}
const datas: Uint8Array[] = [];
for (const f of files) {
  try {
    datas.push(readFileSync(f));
  } catch {
    /* unreadable: skip */
  }
}

const scratch = new Lz4Scratch();
const dst = new Uint8Array(dstCap);
const outBuf = new Uint8Array(Math.min(dstCap * 255 + 64, Math.max(inCap, 1)));
const warmup = !process.argv.includes('--no-warmup');
for (const level of levels) {
  if (warmup) {
    // untimed pass over up to 8 MiB so the timings below are steady-state (JIT-compiled)
    let left = 8 << 20;
    for (const data of datas) {
      if (left <= 0) break;
      for (let pos = 0; pos < data.length && left > 0; ) {
        const src = data.subarray(pos, Math.min(data.length, pos + inCap));
        const r = lz4CompressDestSize(src, src.length, dst, level, scratch);
        pos += r.consumed;
        left -= r.consumed;
      }
    }
  }
  let calls = 0;
  let bytes = 0;
  let fixedSum = 0;
  let fixedCalls = 0;
  let processed = 0;
  let ms = 0;
  // CPU time as well as wall time: on a shared machine the wall clock overstates the cost
  const cpu0 = process.cpuUsage();
  let verifyCpu = 0;
  let decodeMs = 0;
  for (const data of datas) {
    let pos = 0;
    while (pos < data.length) {
      const src = data.subarray(pos, Math.min(data.length, pos + inCap));
      const t0 = performance.now();
      const r = lz4CompressDestSize(src, src.length, dst, level, scratch);
      ms += performance.now() - t0;
      const v0 = verify ? process.cpuUsage() : null;
      if (verify) {
        const d0 = performance.now();
        const out = lz4DecompressStrict(dst.subarray(0, r.written), r.consumed, outBuf);
        decodeMs += performance.now() - d0;
        for (let i = 0; i < r.consumed; i++) if (out[i] !== src[i]) throw new Error('verify failed');
      }
      if (v0) {
        const v = process.cpuUsage(v0);
        verifyCpu += v.user + v.system;
      }
      processed += r.consumed;
      if (r.consumed <= 0) throw new Error('zero consumed');
      pos += r.consumed;
      calls++;
    }
    bytes += data.length;
  }
  const cpuUsed = process.cpuUsage(cpu0);
  const cpuSec = (cpuUsed.user + cpuUsed.system - verifyCpu) / 1e6;
  for (const data of datas) {
    for (let p = 0; p < data.length; p += inCap) {
      const src = data.subarray(p, Math.min(data.length, p + inCap));
      const r = lz4CompressDestSize(src, src.length, dst, level, scratch);
      if (src.length >= dstCap * 2) {
        fixedSum += r.consumed;
        fixedCalls++;
      }
    }
  }
  console.log(
    JSON.stringify({
      level,
      dst: dstCap,
      files: datas.length,
      calls,
      bytes,
      fixedSum,
      fixedCalls,
      sec: +(ms / 1000).toFixed(3),
      MBps: +(processed / (ms / 1000) / 1e6).toFixed(1),
      cpuSec: +cpuSec.toFixed(3),
      cpuMBps: +(processed / cpuSec / 1e6).toFixed(1),
      ...(verify ? { decodeMBps: +(processed / (decodeMs / 1000) / 1e6).toFixed(1) } : {}),
    }),
  );
}
