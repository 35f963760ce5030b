#!/usr/bin/env -S node --max-semi-space-size=8
// V8 memory settings, for peak RSS (figures: README, Benchmark). --max-semi-space-size=8 (16 by
// default): young generations of 8 MiB semi-spaces; smaller ones promote the objects of files in
// flight to the old generation (the worker threads get 1 MiB: src/pipeline/work/worker-heap.ts).
// It takes effect only from the command line: `node bin/erofs-forge.js` works the same, with more
// memory. --heap-growing-percent=50 is not here: a flag V8 does not have by default when code is
// compiled makes Node reject its built-in code cache (a worker thread took twice the CPU to start);
// a build sets it once its walk proves the tree big (src/pipeline/heap-growth.ts).
// Built-in modules through process.getBuiltinModule, not `import`: the ES module facade of node:fs
// and node:v8 reads every export, loading what they load lazily (fs streams: ~2.5 ms, v8: ~2 ms of
// CPU at each start).
const module = process.getBuiltinModule('node:module');
const v8 = process.getBuiltinModule('node:v8');
const { accessSync, constants, existsSync, lstatSync, mkdirSync } = process.getBuiltinModule('node:fs');
const { homedir, tmpdir } = process.getBuiltinModule('node:os');
const { basename, isAbsolute, join } = process.getBuiltinModule('node:path');

/**
 * Where Node >= 22.1 may keep the compiled code of our modules between runs (figure: README, Node
 * releases): $XDG_CACHE_HOME/erofs-forge or ~/.cache/erofs-forge, else $TMPDIR/erofs-forge-UID; each
 * only if it is a directory we own that nobody else can write (code read from it is run), else none.
 * Made here one level at a time: Node's recursive mkdir (fs.mkdirSync's and enableCompileCache's)
 * loops forever on a parent it cannot create (Node 24.22, HOME=/proc/x).
 */
function mkdirs(dir) {
  const parts = dir.split('/');
  for (let i = 2; i <= parts.length; i++) {
    try {
      mkdirSync(parts.slice(0, i).join('/'), { mode: 0o700 });
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
  }
}

function compileCacheDir() {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  const bases = [];
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) bases.push(join(xdg, 'erofs-forge'));
  else {
    try {
      const h = homedir();
      if (h && isAbsolute(h)) bases.push(join(h, '.cache', 'erofs-forge'));
    } catch { /* no home directory */ }
  }
  bases.push(join(tmpdir(), `erofs-forge-${uid}`));
  for (const base of bases) {
    const dir = join(base, 'node-compile-cache');
    try {
      // Made once: later runs find it (an EEXIST per level cost more than the rest of this check).
      if (!existsSync(dir)) mkdirs(dir);
      const safe = [base, dir].every((d) => { const st = lstatSync(d); return st.isDirectory() && st.uid === uid && !(st.mode & 0o022); });
      if (!safe) continue;
      accessSync(dir, constants.W_OK);
      return dir;
    } catch { /* unwritable: the next, or no cache */ }
  }
  return undefined;
}

// The same semi-space bound when started as `node bin/erofs-forge.js` (no shebang flags), unless given
// on the command line: it applies to the isolates made from now on, not to this one.
if (!process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) v8.setFlagsFromString('--max-semi-space-size=8');

// `extract` runs without TurboFan (V8 --no-opt; Maglev still optimizes): the process is short and
// its JavaScript is the glue between system calls and the WebAssembly LZ4 decoder, so compiling it
// again in TurboFan cost more CPU than it saved. CPU of extract (median of 7, alternated, load ~17):
// corpus lz4 886 -> 787 ms, corpus uncompressed 633 -> 591 ms, tricky tree 149 -> 134 ms, one
// 262 MB file with lz4 354 -> 311 ms. Process-wide: its worker threads run the same way.
const userTiers = process.execArgv.some((a) => /^--(no-)?(opt|turbofan)$/.test(a));
if (process.argv[2] === 'extract' && !userTiers) v8.setFlagsFromString('--no-opt');
// A `build --cache` likewise: a rebuild is mostly glue between system calls for the unchanged files
// (their entries fetched, their pclusters copied in the kernel), in three isolates that each compiled
// it again. CPU of the corpus lz4hc rebuild after a 1% change (2 workers, alternated, load ~16):
// 1656-1683 -> 1471-1497 ms; a full lz4hc build the same (7.9 s) either way: its codec is WebAssembly.
const cachedBuild = process.argv[2] === 'build' && process.argv.some((a) => a === '--cache' || a.startsWith('--cache='));
// A build that compresses nothing likewise: its JavaScript is the walk, the plan and the writer's
// glue around kernel copies, and TurboFan compiling it on the V8 threads was ~a sixth of the CPU.
// CPU of the corpus build, uncompressed (median of 8, alternated, load ~12): 2 workers 1.39 -> 1.22 s,
// 1 worker 1.26 -> 1.13, with --xattr-inode-digest (sha256, native) 2.03 -> 1.86; a tree of 200,000
// small files the same (3.1-3.3 s either way). Not with BLAKE3 fingerprints (JavaScript, hot). With
// --verity too: the seal hashes in OpenSSL (node:crypto for the salt, SHA256() by address for the
// leaves), its JavaScript is a loop of calls; corpus sealed build CPU (median of 6, alternated,
// load ~8-10): 1.90 -> 1.73 s, same image.
const args = process.argv.slice(2);
const asMkfsLink = basename(process.argv[1] ?? '') === 'mkfs.erofs';
const building = asMkfsLink || args[0] === 'build' || args[0] === 'mkfs';
const plainBuild = building && !args.some((a) => a.startsWith('-z') || a.startsWith('--compress') || a.includes('blake3'));

/** The algorithms named by -z (build and mkfs: -zALG or -z ALG; A:B:... each NAME[,LEVEL]). */
function zAlgorithms() {
  const names = [];
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    if (!args[i].startsWith('-z')) continue;
    const v = args[i].length > 2 ? args[i].slice(2) : args[i + 1] ?? '';
    for (const spec of v.split(':')) if (spec) names.push(spec.split(',')[0]);
  }
  return names;
}
// A build compressing with these codecs likewise: each is WebAssembly, around which the workers'
// JavaScript is a loop, and the main thread's is the walk, the plan and the writer (-zlz4, load 9-10,
// median of 3-5, alternated: CPU user+sys 2 workers 2.35 -> 2.11 s, 1 worker 2.18 -> 2.00 s, the V8
// compiler threads' share 550 -> 365 ms of samples; the workers' and the main thread's the same).
// Not LZ4HC nor DEFLATE: their workers' JavaScript ran slower without TurboFan by about what its
// compiler threads saved (2 workers, median of 4: lz4hc 6.06 -> 6.02 s, deflate 6.20 -> 6.30 s).
// Not BLAKE3 fingerprints, nor --verity with LZ4 (not measured).
// Maglev stays on in these builds: off with TurboFan (the same moments, sys/turbofan.ts) it cut the
// V8 threads' CPU 0.29 -> 0.15 s but the main thread's went 0.42 -> 0.62 s (perf, corpus -zlz4, 2
// workers; build CPU 1.92 -> 2.05 s, wall 1.11 -> 1.21 s, median of 7). Half its compile time is
// recompiles after deopts (pump, SourceReader, packZ, writeSegments...), a matter of the JavaScript's
// type feedback, not of flags. None of these paid (within +-0.04 s CPU, 5-9 rounds): fewer Maglev tier-ups
// (--invocation-count-for-maglev=1000/2000), --no-maglev-inlining, worker semi-spaces of 2 or 4 MiB
// (+10 MiB RSS at 4), main's 4 or 16 MiB, --v8-pool-size=1/2; --no-parallel-scavenge cost wall (+0.27 s).
const GLUE_CODECS = new Set(['lz4']);
const algorithms = zAlgorithms();
const wasmBuild = building && algorithms.length > 0 && algorithms.every((a) => GLUE_CODECS.has(a))
  && !args.some((a) => a.includes('blake3') || a.startsWith('--verity'));
// These builds turn TurboFan off themselves, once our modules are loaded, and back on while a worker
// thread starts (src/sys/turbofan.ts): a V8 flag that is not V8's default makes Node reject its
// built-in code cache, and every thread started (or module loaded) under --no-opt compiled Node's
// modules from source (an uncompressed build's worker: 142 of them, ~twice its start-up CPU). They
// turn it back on for good once the walk proves the tree big (src/pipeline/heap-growth.ts).
// V8 before 13 (Node 22) counts the #! line's --max-semi-space-size in that hash: the cache is lost
// anyway, so TurboFan goes off at once, for the loading of our modules too ('set').
if ((cachedBuild || plainBuild || wasmBuild) && !userTiers) {
  const cacheLost = Number(process.versions.v8.split('.')[0]) < 13;
  if (cacheLost) v8.setFlagsFromString('--no-opt');
  globalThis[Symbol.for('erofs-forge.turbofan-off')] = cacheLost ? 'set' : true;
}
// Nor Maglev, until the image is known to be large (src/cli/extract-cmd.ts: small images do without).
if (process.argv[2] === 'extract' && !process.execArgv.some((a) => /^--(no-)?maglev$/.test(a))) v8.setFlagsFromString('--no-maglev');

// Older releases lack the call and start as before. The main module is imported after it.
if (module.enableCompileCache) {
  const dir = compileCacheDir();
  if (dir) module.enableCompileCache(dir);
}
const { main } = await import('../dist/src/cli/main.js');

// Run through a link named mkfs.erofs, the program takes mkfs.erofs's command line (as `erofs-forge mkfs`).
main(asMkfsLink ? ['mkfs', ...args] : args, asMkfsLink ? 'mkfs.erofs' : undefined).then(
  (code) => { process.exitCode = code; },
  (e) => {
    process.stderr.write(`erofs-forge: internal error: ${e && e.stack ? e.stack : e}\n`);
    process.exitCode = 70;
  },
);
