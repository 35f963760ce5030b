// `node dist/bench/lzma-bench.js [--corpus DIR] [--mb N] [-C BYTES] [--level L] [--oracle]`: the MicroLZMA
// encoder alone, per core. Reads the first N MB (default 6) of the corpus's regular files (sorted walk),
// compresses each file pcluster after pcluster as the build does (input offered to its end, the
// next call where the last stream ended) and prints CPU seconds, MB/s and a digest of the streams.
// --oracle runs the TypeScript encoder the WebAssembly one replaced (test/helpers/lzma-ts/): the
// digests must be equal. For liblzma's speed, time mkfs.erofs 1.9.3 --workers=1 -zlzma on a tree.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { MicroLzmaEncoder, lzmaDefaultDictSize } from '../src/compress/lzma-encoder.js';
import { TsMicroLzmaEncoder } from '../test/helpers/lzma-ts/encoder.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const corpus = opt('--corpus', '/tmp/erofs-corpus/root');
const limit = Number(opt('--mb', '6')) * 1e6;
const cap = Number(opt('-C', '4096'));
const level = Number(opt('--level', '6'));

const files: Buffer[] = [];
let total = 0;
(function walk(dir: string): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (total >= limit) return;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.isFile()) {
      const b = fs.readFileSync(p);
      if (b.length > 64) {
        files.push(b);
        total += b.length;
      }
    }
  }
})(corpus);

const dict = lzmaDefaultDictSize(cap);
const enc = args.includes('--oracle') ? new TsMicroLzmaEncoder(level, dict) : new MicroLzmaEncoder(level, dict);
const digest = createHash('sha256');
let out = 0;
const t0 = process.cpuUsage();
for (const f of files) {
  for (let off = 0; off < f.length;) {
    const r = enc.compress(f.subarray(off), f.length - off, cap);
    if (r.consumed === 0) break;
    digest.update(r.data);
    out += r.data.length;
    off += r.consumed;
  }
}
const u = process.cpuUsage(t0);
const cpu = (u.user + u.system) / 1e6;
console.log(`${args.includes('--oracle') ? 'typescript' : 'wasm'} level ${level} -C${cap}: ${total} -> ${out} bytes, ${cpu.toFixed(2)} s CPU, `
  + `${(total / cpu / 1e6).toFixed(2)} MB/s, streams ${digest.digest('hex').slice(0, 16)}`);
