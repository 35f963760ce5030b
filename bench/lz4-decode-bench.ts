// `node dist/bench/lz4-decode-bench.js [DIR] [--max-mb N] [--dst BYTES] [--level L] [--reps N]`: throughput
// of the reader's strict LZ4 decoder alone. Files under DIR (default /tmp/erofs-corpus/root) are cut
// into pclusters the way mkfs.erofs -zlz4 does (destsize into --dst bytes, default 4096), the blocks
// kept in memory, then all decoded --reps times (default 5) into one reused output buffer; prints the
// median MB/s of decoded output and the same with a fresh output buffer per block.
import { readFileSync, readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { lz4CompressDestSize, lz4DecompressStrict, Lz4Scratch } from '../src/compress/lz4.js';
import { lz4DecodeTransient } from '../src/compress/lz4-wasm.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const dir = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--'))) ?? '/tmp/erofs-corpus/root';
const maxBytes = Number(opt('--max-mb', '64')) * 1e6;
const dstCap = Number(opt('--dst', '4096'));
const level = Number(opt('--level', '0'));
const reps = Number(opt('--reps', '5'));

const files: string[] = [];
let budget = maxBytes;
const walk = (d: string): void => {
  let names: string[];
  try { names = readdirSync(d).sort(); } catch { return; }
  for (const n of names) {
    if (budget <= 0) return;
    const p = join(d, n);
    const st = lstatSync(p);
    if (st.isDirectory()) walk(p);
    else if (st.isFile() && st.size > 0) { files.push(p); budget -= st.size; }
  }
};
walk(dir);

const scratch = new Lz4Scratch();
const dst = new Uint8Array(dstCap);
const blocks: { s: Uint8Array; n: number }[] = [];
let total = 0;
for (const f of files) {
  const data = readFileSync(f);
  for (let pos = 0; pos < data.length;) {
    const src = data.subarray(pos, Math.min(data.length, pos + 1024 * 1024));
    const r = lz4CompressDestSize(src, src.length, dst, level, scratch);
    blocks.push({ s: dst.slice(0, r.written), n: r.consumed });
    total += r.consumed;
    pos += r.consumed;
  }
}
const maxOut = blocks.reduce((m, b) => Math.max(m, b.n), 0);
const out = new Uint8Array(maxOut);
const run = (fresh: boolean): number => {
  const t0 = process.hrtime.bigint();
  for (const b of blocks) lz4DecompressStrict(b.s, b.n, fresh ? undefined : out);
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
run(false); run(true);
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const reused: number[] = [];
const freshT: number[] = [];
for (let i = 0; i < reps; i++) { reused.push(run(false)); freshT.push(run(true)); }
const mbps = (s: number) => (total / s / 1e6).toFixed(0);
process.stdout.write(`${blocks.length} blocks, ${(total / 1e6).toFixed(1)} MB decoded (mean ${(total / blocks.length).toFixed(0)} B/block), level ${level}, dst ${dstCap}: `
  + `reused buffer ${mbps(med(reused))} MB/s, fresh buffer ${mbps(med(freshT))} MB/s\n`);
const runWasm = (copy: boolean): number => {
  const t0 = process.hrtime.bigint();
  for (const b of blocks) { const v = lz4DecodeTransient(b.s, b.n); if (copy) out.set(v); }
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
for (const b of blocks) {
  const a = lz4DecodeTransient(b.s, b.n);
  const j = lz4DecompressStrict(b.s, b.n);
  if (Buffer.compare(a, j) !== 0) throw new Error('WebAssembly and TypeScript decoders disagree');
}
const w: number[] = [];
const wc: number[] = [];
for (let i = 0; i < reps; i++) { w.push(runWasm(false)); wc.push(runWasm(true)); }
process.stdout.write(`WebAssembly decoder: in place ${mbps(med(w))} MB/s, copied out to a reused buffer ${mbps(med(wc))} MB/s\n`);
