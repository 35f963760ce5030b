// DEFLATE pcluster benchmark: compress every regular file of a tree the way mkfs.erofs does
// (fixed-size output pclusters, each taking as much of the rest of the file as fits), count the
// bytes the data would take on disk, and time the compressor.
//
//   node dist/bench/deflate-bench.js [DIR] [--levels 6,5] [--block 4096] [--workers 2]
//                                    [--search] [--mkfs /path/to/mkfs.erofs]
//
// On-disk model (mkfs.erofs 1.9.3 rules, see docs/mkfs-erofs-reference.md 4.1):
//  - a remainder of at most one block is stored raw (one block: no pcluster can save anything);
//  - a pcluster is kept compressed only if round_up(csize, block) < consumed, else one raw block;
//  - whole-file fallback: if pcluster bytes + 16 + 8*lclusters >= i_size the file is stored
//    uncompressed (counted as i_size, like dump.erofs "On-disk size" for FLAT_INLINE files).
// --search adds the libdeflate-style search mkfs uses with -zlibdeflate (compress a prefix with
// zlib, extrapolate or bisect, stop when csize + 22 - 2*level >= capacity) as a baseline.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { deflateDestSize, type DeflateResult } from '../src/compress/deflate.js';
import { listFiles } from './tree-files.js';

interface Job {
  files: string[];
  level: number;
  block: number;
  engine: 'canonical' | 'search';
}
interface Stats {
  files: number;
  inBytes: number; // all file bytes
  onDisk: number; // modelled data bytes on disk
  compressedFiles: number;
  fallbackFiles: number;
  keptPclusters: number;
  rawBlocks: number;
  compressIn: number; // bytes of files that went through the compressor
  cpuSeconds: number; // process CPU time while compressing (excludes reading files; valid with 1 worker)
  calls: number;
}

/** libdeflate_compress_destsize's search (erofs-utils lib/compressor_libdeflate.c) on node:zlib */
function searchDestSize(src: Uint8Array, srcLen: number, capacity: number, level: number, last: { consumed: number }): DeflateResult {
  let l = 0;
  let best: Buffer | null = null;
  let r = srcLen + 1;
  let m = last.consumed ? Math.floor((last.consumed * 15) / 16) : capacity * 4;
  for (;;) {
    m = Math.min(Math.max(m, l + 1), r - 1);
    const c = zlib.deflateRawSync(src.subarray(0, m), { level, memLevel: 9 });
    if (c.length <= capacity) {
      l = m;
      best = c;
      if (r <= l + 1 || c.length + (22 - 2 * level) >= capacity) break;
      m = Math.floor((capacity * m) / c.length);
    } else {
      r = m;
      if (r <= l + 1) break;
      m = Math.floor((l + r) / 2);
    }
  }
  last.consumed = l;
  const data = best ? new Uint8Array(best) : Uint8Array.of(3, 0);
  if (data[0] === 0) data[0] = 0x08;
  return { consumed: l, data };
}

function runJob(job: Job): Stats {
  const st: Stats = { files: 0, inBytes: 0, onDisk: 0, compressedFiles: 0, fallbackFiles: 0, keptPclusters: 0, rawBlocks: 0, compressIn: 0, cpuSeconds: 0, calls: 0 };
  const B = job.block;
  for (const f of job.files) {
    const data = fs.readFileSync(f);
    const size = data.length;
    st.files++;
    st.inBytes += size;
    if (size <= B) {
      st.onDisk += size; // one block or inline: never compressed
      continue;
    }
    st.compressIn += size;
    const c0 = process.cpuUsage();
    let pos = 0;
    let bytes = 0;
    let kept = 0;
    let raw = 0;
    const last = { consumed: 0 };
    while (pos < size) {
      const rem = size - pos;
      if (rem <= B) {
        bytes += B;
        raw++;
        break;
      }
      const rest = data.subarray(pos);
      const r = job.engine === 'search' ? searchDestSize(rest, rem, B, job.level, last) : deflateDestSize(rest, rem, B, job.level);
      st.calls++;
      const plen = Math.ceil(r.data.length / B) * B;
      if (plen < r.consumed) {
        bytes += plen;
        pos += r.consumed;
        kept++;
      } else {
        bytes += B;
        pos += B;
        raw++;
      }
    }
    const cu = process.cpuUsage(c0);
    st.cpuSeconds += (cu.user + cu.system) / 1e6;
    if (bytes + 16 + 8 * Math.ceil(size / B) >= size) {
      st.fallbackFiles++;
      st.onDisk += size;
    } else {
      st.compressedFiles++;
      st.onDisk += bytes;
      st.keptPclusters += kept;
      st.rawBlocks += raw;
    }
  }
  return st;
}

function add(a: Stats, b: Stats): Stats {
  const r = { ...a };
  for (const k of Object.keys(b) as (keyof Stats)[]) r[k] += b[k];
  return r;
}

async function runParallel(files: string[], workers: number, job: Omit<Job, 'files'>): Promise<{ stats: Stats; wall: number }> {
  // deal files by size, largest first, onto the least-loaded worker
  const sized = files.map((f) => ({ f, s: fs.statSync(f).size })).sort((a, b) => b.s - a.s);
  const parts: { files: string[]; load: number }[] = Array.from({ length: workers }, () => ({ files: [], load: 0 }));
  for (const { f, s } of sized) {
    const p = parts.reduce((m, x) => (x.load < m.load ? x : m));
    p.files.push(f);
    p.load += s;
  }
  const t0 = performance.now();
  const results = await Promise.all(
    parts.map(
      (p) =>
        new Promise<Stats>((resolve, reject) => {
          const w = new Worker(fileURLToPath(import.meta.url), { workerData: { ...job, files: p.files } satisfies Job });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  return { stats: results.reduce(add), wall: (performance.now() - t0) / 1000 };
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

async function main(): Promise<void> {
  const dir = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : '/tmp/erofs-corpus/root';
  const levels = arg('--levels', '6').split(',').map(Number);
  const block = Number(arg('--block', '4096'));
  const workers = Number(arg('--workers', '1'));
  const mkfs = arg('--mkfs', '');
  const files = listFiles(dir);
  const mb = (n: number) => (n / 1e6).toFixed(2);
  console.log(`${dir}: ${files.length} files, block ${block}, workers ${workers}`);
  const engines: Job['engine'][] = process.argv.includes('--search') ? ['canonical', 'search'] : ['canonical'];
  for (const engine of engines) {
    for (const level of levels) {
      const { stats: s, wall } = await runParallel(files, workers, { level, block, engine });
      // process.cpuUsage() counts every thread of the process, so per-core CPU only with one worker
      const cpu =
        workers === 1
          ? `compressor ${s.cpuSeconds.toFixed(2)} CPU-s for ${mb(s.compressIn)} MB = ${(s.compressIn / s.cpuSeconds / 1e6).toFixed(1)} MB/s per core, ` +
            `${(s.calls / s.cpuSeconds / 1000).toFixed(1)}k calls/s; `
          : '';
      console.log(
        `${engine} level ${level}: on-disk data ${s.onDisk} B (${mb(s.onDisk)} MB) of ${mb(s.inBytes)} MB; ` +
          `${s.compressedFiles} compressed files, ${s.fallbackFiles} stored whole, ${s.keptPclusters} pclusters, ${s.rawBlocks} raw blocks; ` +
          `${cpu}wall ${wall.toFixed(2)} s with ${workers} worker(s) (incl. reading files)`,
      );
    }
  }
  if (mkfs) {
    const img = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'deflate-bench-')), 'ref.img');
    const t0 = performance.now();
    const r = spawnSync('/usr/bin/time', ['-f', '%U %S', mkfs, '--quiet', '-zlibdeflate', `-b${block}`, '-T0', '-Uclear', img, dir], { encoding: 'utf8' });
    const wall = (performance.now() - t0) / 1000;
    if (r.status !== 0) console.log(`mkfs.erofs failed: ${r.stderr}`);
    else {
      const [u, sy] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
      console.log(`mkfs.erofs -zlibdeflate: image ${fs.statSync(img).size} B (${mb(fs.statSync(img).size)} MB), wall ${wall.toFixed(2)} s, CPU ${(u + sy).toFixed(2)} s (whole build)`);
    }
    fs.rmSync(path.dirname(img), { recursive: true, force: true });
  }
}

if (isMainThread) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  parentPort!.postMessage(runJob(workerData as Job));
}
