/**
 * A/B of two builds of the LZ4 encoder module (dist/wasm/lz4.wasm of two worktrees, or a copy of
 * one kept before a change), in one process, alternated round by round: CPU seconds per run (min and
 * median) and a digest of every block and consumed count, which must be equal when a change is to
 * keep the output bytes. Each file is compressed pcluster by pcluster from its own start (each call
 * offered the rest of the file, at most 1 MiB), as zfile.ts cuts a file.
 *
 *   node dist/bench/lz4-wasm-ab.js A.wasm B.wasm [--rounds 9] [--max-mb 48] [--level 9] [--dst 4096] [DIR]
 *
 * On the shared 2-vCPU machine runs of the same module differ by 2-4 %: look at the minimum over
 * 9+ rounds, and run A against A once to see the noise.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface Lz4Module {
  memory: WebAssembly.Memory;
  written: WebAssembly.Global;
  configure(inCap: number, outCap: number): number;
  outPtr(): number;
  compress(inOff: number, srcLen: number, cap: number, level: number): number;
}

const arg = (name: string, d: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : d;
};
const args = process.argv.slice(2);
const positional = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
if (positional.length < 2) {
  console.error('usage: lz4-wasm-ab A.wasm B.wasm [--rounds N] [--max-mb N] [--level N] [--dst N] [DIR]');
  process.exit(2);
}
const [fileA, fileB] = positional;
const dir = positional[2] ?? '/dev/shm/erofs-corpus/root';
const rounds = Number(arg('--rounds', '9'));
const maxBytes = Number(arg('--max-mb', '48')) * 1024 * 1024;
const level = Number(arg('--level', '9'));
const cap = Number(arg('--dst', '4096'));
const MAX_FILE = 8 << 20;
const MAX_CALL = 1 << 20;

function load(file: string): Lz4Module {
  const abort = (): never => {
    throw new Error(`${file}: aborted`);
  };
  return new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), { env: { abort } }).exports as unknown as Lz4Module;
}

const files: Uint8Array[] = [];
let left = maxBytes;
(function walk(d: string): void {
  for (const n of readdirSync(d).sort()) {
    if (left <= 0) return;
    const p = join(d, n);
    const st = lstatSync(p);
    if (st.isDirectory()) walk(p);
    else if (st.isFile() && st.size > 0) {
      const b = readFileSync(p);
      files.push(b.subarray(0, Math.min(b.length, MAX_FILE)));
      left -= b.length;
    }
  }
})(dir);

function run(x: Lz4Module): { cpu: number; digest: string; calls: number; bytes: number } {
  const inPtr = x.configure(MAX_FILE, cap);
  const out = x.outPtr();
  const h = createHash('sha256');
  let calls = 0;
  let bytes = 0;
  const c0 = process.cpuUsage();
  for (const f of files) {
    const mem = new Uint8Array(x.memory.buffer);
    mem.set(f, inPtr);
    for (let pos = 0; pos < f.length; ) {
      const consumed = x.compress(pos, Math.min(MAX_CALL, f.length - pos), cap, level);
      const w = x.written.value as number;
      h.update(mem.subarray(out, out + w));
      h.update(String(consumed));
      pos += consumed;
      calls++;
      bytes += consumed;
    }
  }
  const u = process.cpuUsage(c0);
  return { cpu: (u.user + u.system) / 1e6, digest: h.digest('hex').slice(0, 16), calls, bytes };
}

const mods = { A: load(fileA), B: load(fileB) };
run(mods.A); // warm-up: both modules tiered up before timing
run(mods.B);
const cpu: Record<'A' | 'B', number[]> = { A: [], B: [] };
const digests: Record<'A' | 'B', Set<string>> = { A: new Set(), B: new Set() };
let last = { calls: 0, bytes: 0 };
for (let r = 0; r < rounds; r++) {
  for (const k of r % 2 ? (['B', 'A'] as const) : (['A', 'B'] as const)) {
    const o = run(mods[k]);
    cpu[k].push(o.cpu);
    digests[k].add(o.digest);
    last = o;
  }
}
console.log(`${files.length} files, ${(last.bytes / 1e6).toFixed(1)} MB in ${last.calls} calls, level ${level}, dst ${cap}`);
for (const k of ['A', 'B'] as const) {
  const s = [...cpu[k]].sort((a, b) => a - b);
  const med = s[s.length >> 1];
  console.log(`${k} ${k === 'A' ? fileA : fileB}: min ${s[0].toFixed(3)} s, median ${med.toFixed(3)} s CPU (${(last.bytes / 1e6 / med).toFixed(1)} MB/s), digest ${[...digests[k]].join(',')}`);
}
const same = digests.A.size === 1 && [...digests.A][0] === [...digests.B][0];
console.log(same ? 'output: identical' : 'output: DIFFERENT');
if (!same) process.exitCode = 1;
