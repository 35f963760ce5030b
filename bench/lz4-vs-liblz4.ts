/**
 * Side-by-side LZ4 / LZ4HC destSize throughput: our WebAssembly encoder against the system liblz4
 * (LZ4_compress_destSize, LZ4_compress_HC_destSize: what mkfs.erofs calls), loaded with koffi for
 * this bench only (the product never calls it). Files are cut into pclusters as zfile.ts does: each
 * call is offered the rest of the file (at most 8000 KiB) and a --dst byte capacity.
 *
 *   node dist/bench/lz4-vs-liblz4.js [--levels 0,9] [--dst 4096] [--max-mb 128] [DIR...]
 *
 * Prints, per level and encoder, MB/s of input consumed per CPU-second and the pcluster count
 * (fewer = more input per pcluster). Runs alternate ours/liblz4 --rounds times; the best CPU time counts.
 */
import { readFileSync, readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { Lz4Scratch } from '../src/compress/lz4.js';

const arg = (name: string, d: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : d;
};
const levels = arg('--levels', '0,9').split(',').map(Number);
const dstCap = Number(arg('--dst', '4096'));
const maxMB = Number(arg('--max-mb', '128'));
const rounds = Number(arg('--rounds', '3'));
const dirs = process.argv.slice(2).filter((a, i, arr) => !a.startsWith('--') && !(i > 0 && arr[i - 1].startsWith('--')));

function walk(dir: string, out: string[], budget: { left: number }): void {
  let names: string[];
  try { names = readdirSync(dir).sort(); } catch { return; }
  for (const n of names) {
    if (budget.left <= 0) return;
    const p = join(dir, n);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) walk(p, out, budget);
    else if (st.isFile() && st.size > 0 && st.size <= budget.left) { out.push(p); budget.left -= st.size; }
  }
}
const files: string[] = [];
const budget = { left: maxMB * 1024 * 1024 };
for (const d of dirs.length ? dirs : ['/tmp/erofs-corpus/root']) walk(d, files, budget);
const datas = files.map((f) => readFileSync(f));
const total = datas.reduce((s, d) => s + d.length, 0);

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let lib: { destSize: (...a: any[]) => number; hcDestSize: (...a: any[]) => number; stateHC: Buffer; state: Buffer } | null = null;
try {
  const koffi = require('koffi');
  const so = koffi.load('liblz4.so.1');
  lib = {
    destSize: so.func('int LZ4_compress_destSize(const uint8_t *src, uint8_t *dst, _Inout_ int *srcSize, int dstCap)'),
    hcDestSize: so.func('int LZ4_compress_HC_destSize(void *state, const uint8_t *src, uint8_t *dst, _Inout_ int *srcSize, int dstCap, int level)'),
    state: Buffer.alloc(so.func('int LZ4_sizeofState()')() as number),
    stateHC: Buffer.alloc(so.func('int LZ4_sizeofStateHC()')() as number),
  };
} catch (e) {
  console.error(`liblz4 not loadable (${(e as Error).message}): ours only`);
}

const MAX_OFFER = 8000 * 1024;
const scratch = new Lz4Scratch();
const dst = Buffer.alloc(dstCap);

function runOurs(level: number): { cpu: number; pclusters: number } {
  let pclusters = 0;
  let cpu = 0;
  for (const data of datas) {
    const win = scratch.window(data.length, dstCap);
    win.set(data);
    const c0 = process.cpuUsage();
    for (let pos = 0; pos < data.length;) {
      const n = Math.min(data.length - pos, MAX_OFFER);
      const r = scratch.compress(win.subarray(pos, pos + n), n, dstCap, level);
      pos += r.consumed;
      pclusters++;
    }
    const c = process.cpuUsage(c0);
    cpu += c.user + c.system;
  }
  return { cpu: cpu / 1e6, pclusters };
}

function runLib(level: number): { cpu: number; pclusters: number } {
  const L = lib!;
  let pclusters = 0;
  const inOut = [0];
  const c0 = process.cpuUsage();
  for (const data of datas) {
    for (let pos = 0; pos < data.length;) {
      inOut[0] = Math.min(data.length - pos, MAX_OFFER);
      const src = data.subarray(pos);
      if (level === 0) L.destSize(src, dst, inOut, dstCap);
      else L.hcDestSize(L.stateHC, src, dst, inOut, dstCap, level);
      pos += inOut[0];
      pclusters++;
    }
  }
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1e6, pclusters };
}

console.log(`${datas.length} files, ${(total / 1e6).toFixed(1)} MB, dst ${dstCap}`);
for (const level of levels) {
  const best = { ours: Infinity, lib: Infinity };
  let pc = { ours: 0, lib: 0 };
  for (let r = 0; r < rounds; r++) {
    const o = runOurs(level);
    best.ours = Math.min(best.ours, o.cpu);
    pc.ours = o.pclusters;
    if (lib) {
      const l = runLib(level);
      best.lib = Math.min(best.lib, l.cpu);
      pc.lib = l.pclusters;
    }
  }
  const mbps = (s: number) => (total / s / 1e6).toFixed(0);
  console.log(`level ${level}: ours ${mbps(best.ours)} MB/s CPU (${best.ours.toFixed(2)} s, ${pc.ours} pclusters)` +
    (lib ? `  liblz4 ${mbps(best.lib)} MB/s CPU (${best.lib.toFixed(2)} s, ${pc.lib} pclusters)  ratio ${(best.ours / best.lib).toFixed(2)}x` : ''));
}
