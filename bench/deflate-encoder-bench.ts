// DEFLATE encoder speed on a tree, pcluster by pcluster as a -zdeflate build calls it (4 KiB
// pclusters, input offered up to MAX_EXTENT_INPUT, a pcluster that saves no block stored as raw
// blocks), in one worker thread (so the driver's warm-up runs as in a build). Prints the encoder's
// CPU time, MB/s of input per core, and a SHA-256 over every (consumed, stream) pair: the same
// digest before and after a change means the encoder wrote the same bytes.
//
//   node dist/bench/deflate-encoder-bench.js [DIR] [--level 2] [--block 4096] [--rounds 1]
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { deflateDestSizeShared } from '../src/compress/deflate.js';
import { MAX_EXTENT_INPUT } from '../src/pipeline/files/zfile.js';
import { listFiles } from './tree-files.js';

/** this thread's CPU time (Node >= 23.9), else the process's */
const cpuUsage: (prev?: NodeJS.CpuUsage) => NodeJS.CpuUsage =
  (process as unknown as { threadCpuUsage?: typeof process.cpuUsage }).threadCpuUsage ?? process.cpuUsage;

interface Job { files: string[]; level: number; block: number; rounds: number }

function run(job: Job): void {
  const B = job.block;
  for (let round = 0; round < job.rounds; round++) {
    const h = createHash('sha256');
    const len = new Uint32Array(2);
    let cpu = 0;
    let input = 0;
    let calls = 0;
    for (const f of job.files) {
      const data = fs.readFileSync(f);
      if (data.length <= B) continue;
      const c0 = cpuUsage();
      let pos = 0;
      while (data.length - pos > B) {
        const rem = data.length - pos;
        const src = data.subarray(pos, pos + Math.min(rem, MAX_EXTENT_INPUT));
        const r = deflateDestSizeShared(src, src.length, B, job.level);
        calls++;
        len[0] = r.consumed;
        len[1] = r.data.length;
        h.update(len);
        h.update(r.data);
        if (Math.ceil(r.data.length / B) * B < r.consumed) pos += r.consumed;
        else pos += Math.max(1, Math.floor(Math.min(r.consumed, rem) / B)) * B;
      }
      const cu = cpuUsage(c0);
      cpu += (cu.user + cu.system) / 1e6;
      input += pos;
    }
    parentPort!.postMessage(`round ${round}: ${calls} calls, ${(input / 1e6).toFixed(1)} MB in ${cpu.toFixed(3)} s CPU = ${(input / 1e6 / cpu).toFixed(1)} MB/s per core; digest ${h.digest('hex').slice(0, 16)}`);
  }
}

if (isMainThread) {
  const args = process.argv.slice(2);
  const opt = (name: string, def: number): number => {
    const i = args.indexOf(name);
    if (i < 0) return def;
    const v = Number(args[i + 1]);
    args.splice(i, 2);
    return v;
  };
  const level = opt('--level', 2);
  const block = opt('--block', 4096);
  const rounds = opt('--rounds', 1);
  const root = args[0] ?? '/dev/shm/erofs-corpus/root';
  const files = listFiles(root);
  const w = new Worker(fileURLToPath(import.meta.url), { workerData: { files, level, block, rounds } satisfies Job });
  w.on('message', (m) => console.log(m));
  w.on('error', (e) => { console.error(e); process.exitCode = 1; });
} else {
  run(workerData as Job);
}
