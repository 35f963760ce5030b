// `build --cache` runs without TurboFan (bin/erofs-forge.js sets V8's --no-opt, as for extract): a
// rebuild is glue between system calls, compiled again in each of its isolates for nothing. So does
// a build that compresses nothing (`build` and `mkfs` without -z): the walk, the plan and the writer
// around kernel copies. Seen
// through --trace-opt, which names every function queued for TurboFan: some without --cache (so the
// test can fail), none with it once the build has turned TurboFan off (src/sys/turbofan.ts: at the
// build's start, after the modules are loaded, whose loading may make Node's own path functions hot).
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { FORGE_BIN } from './helpers/tools.js';

/**
 * A tree of 300 files in `dir`/src, and the TurboFan lines of --trace-opt for `forge ARGS IMAGE SRC`.
 * Small enough for the builds to start no worker thread (inlineBudgetFor): while one starts, a build
 * has TurboFan on (src/sys/turbofan.ts; startup.test.ts checks those builds).
 */
function setUp(dir: string): (args: string[]) => number {
  const root = path.join(dir, 'src');
  for (let d = 0; d < 20; d++) {
    fs.mkdirSync(path.join(root, `d${d}`), { recursive: true });
    for (let f = 0; f < 15; f++) fs.writeFileSync(path.join(root, `d${d}`, `f${f}`), `file ${d} ${f} `.repeat(1 + 7 * f));
  }
  // A mark on stdout, in --trace-opt's stream, where the build sets --no-opt: the functions queued for
  // TurboFan are counted from there (all of them when it never does).
  const hook = path.join(dir, 'no-opt-mark.mjs');
  fs.writeFileSync(hook, `const v8 = process.getBuiltinModule('node:v8');
const set = v8.setFlagsFromString;
v8.setFlagsFromString = (f) => { if (f === '--no-opt') process.stdout.write('@@NO-OPT\\n'); return set(f); };
`);
  return (args: string[]) => {
    const r = spawnSync(process.execPath, ['--trace-opt', '--import', hook, FORGE_BIN, ...args, path.join(dir, 'img'), root], { encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const from = lines.indexOf('@@NO-OPT');
    return lines.slice(from + 1).filter((l) => /^\[marking .* for optimization to TURBOFAN/i.test(l)).length;
  };
}

test('cached_build_runs_without_turbofan', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-no-opt-'));
  try {
    const run = setUp(dir);
    const turbofan = (extra: string[]) => run(['build', '--quiet', '-zlz4hc', ...extra]);
    assert.ok(turbofan([]) > 0, 'a build without --cache optimizes in TurboFan (else this test proves nothing)');
    assert.equal(turbofan(['--cache', path.join(dir, 'cache')]), 0, 'a cold --cache build');
    assert.equal(turbofan([`--cache=${path.join(dir, 'cache')}`]), 0, 'a warm one, --cache=DIR');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('uncompressed_build_runs_without_turbofan', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-no-opt-'));
  try {
    const run = setUp(dir);
    // The same tree with BLAKE3 fingerprints (hashed in JavaScript) keeps TurboFan: the test can fail.
    assert.ok(run(['build', '--quiet', '--xattr-inode-digest', '--fingerprint', 'blake3']) > 0, 'a BLAKE3 build optimizes in TurboFan');
    assert.equal(run(['build', '--quiet']), 0, 'build, uncompressed');
    assert.equal(run(['build', '--quiet', '--xattr-inode-digest']), 0, 'build, uncompressed, sha256 fingerprints');
    assert.equal(run(['mkfs', '--quiet', '--workers=1']), 0, 'mkfs, uncompressed');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sealed_uncompressed_build_runs_without_turbofan', () => {
  // build --verity hashes in OpenSSL (node:crypto for the salt, SHA256() by address for the leaves):
  // its JavaScript is the build's glue and a loop of calls, as an unsealed build's. Seen from a
  // preloaded hook on v8.setFlagsFromString: the last tier flag a build sets (the seal starts a worker
  // thread, with TurboFan on while it starts: src/sys/turbofan.ts).
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-no-opt-'));
  try {
    const hook = path.join(dir, 'hook.mjs');
    fs.writeFileSync(hook, `const v8 = process.getBuiltinModule('node:v8');
const set = v8.setFlagsFromString;
let last = 'none';
v8.setFlagsFromString = (f) => { if (/^--(no-)?opt$/.test(f)) last = f; return set(f); };
process.on('exit', () => process.stderr.write('LAST ' + last + '\\n'));
`);
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', 'a'), 'a'.repeat(100000));
    const last = (args: string[]): string => {
      const r = spawnSync(process.execPath, ['--import', hook, FORGE_BIN, 'build', '--quiet', ...args, path.join(dir, 'img'), path.join(dir, 'src')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stderr.split('\n').find((l) => l.startsWith('LAST '))?.slice(5) ?? '';
    };
    assert.equal(last(['-zlz4', '--verity']), 'none', 'a compressed sealed build keeps TurboFan');
    assert.equal(last(['--verity']), '--no-opt', 'build --verity, uncompressed');
    assert.equal(last(['--verity', '--verity-hash-file', path.join(dir, 'hash')]), '--no-opt', 'build --verity, hash file');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('no_builtin_loaded_while_turbofan_off: the main thread loads none of Node\'s modules while --no-opt is set (each would be compiled from source: the launcher set it before our modules were loaded)', (t) => {
  // V8 < 13 (Node 22) counts the launcher's --max-semi-space-size in its flag hash: the launcher turns
  // TurboFan off at once there, the code cache being lost anyway.
  if (Number(process.versions.v8.split('.')[0]) < 13) { t.skip('the code cache is lost anyway on V8 < 13'); return; }
  // Seen from a preloaded hook on v8.setFlagsFromString: the modules loaded while TurboFan was off.
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-no-opt-'));
  try {
    const hook = path.join(dir, 'hook.mjs');
    fs.writeFileSync(hook, `const v8 = process.getBuiltinModule('node:v8');
const set = v8.setFlagsFromString;
const natives = () => process.moduleLoadList.filter((m) => m.startsWith('NativeModule '));
let off = false, seen = 0, at = natives().length;
const note = () => { const l = natives(); if (off) process.stderr.write('LOADED ' + l.slice(at).join(' ') + '\\n'); at = l.length; };
v8.setFlagsFromString = (f) => { note(); if (/^--(no-)?opt$/.test(f)) { off = f === '--no-opt'; seen += off; } return set(f); };
process.on('exit', () => { note(); process.stderr.write('OFF ' + seen + '\\n'); });
`);
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', 'a'), 'a'.repeat(10000));
    for (const args of [[], ['-zlz4'], ['--cache', path.join(dir, 'cache')]]) {
      const r = spawnSync(process.execPath, ['--import', hook, FORGE_BIN, 'build', '--quiet', ...args, path.join(dir, 'img'), path.join(dir, 'src')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stderr.split('\n');
      assert.ok(Number(lines.find((l) => l.startsWith('OFF '))?.slice(4)) > 0, `build ${args.join(' ')} turned TurboFan off`);
      assert.deepEqual(lines.filter((l) => l.startsWith('LOADED ')).flatMap((l) => l.slice(7).split(' ').filter(Boolean)), [], `build ${args.join(' ')}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('big_tree_turns_turbofan_back_on', async () => {
  // Without TurboFan a 1,000,000-file uncompressed build took 8.9-9.2 s against 6.4-6.7 s with it:
  // once the walk has seen BIG_TREE_ENTRIES entries, a build the launcher marked to run without
  // TurboFan (and which turned it off at its start: sys/turbofan.ts) turns it back on. Seen through
  // --trace-opt on a hot function run after the walk's call (and, to show the test can fail, not
  // below the bound, nor for a --no-opt given on the command line).
  const { BIG_TREE_ENTRIES } = await import('../src/pipeline/heap-growth.js');
  const mod = new URL('../src/pipeline/heap-growth.js', import.meta.url).href;
  const tiers = new URL('../src/sys/turbofan.js', import.meta.url).href;
  const turbofanAfter = (entries: number, launcherOff: boolean): number => {
    const script = `
      if (${launcherOff}) globalThis[Symbol.for('erofs-forge.turbofan-off')] = true;
      (await import(${JSON.stringify(tiers)})).turbofanOffNow();
      const { heapForTreeOf } = await import(${JSON.stringify(mod)});
      heapForTreeOf(${entries});
      function hot(x) { let s = 0; for (let i = 0; i < 50; i++) s += (x * i) % 7; return s; }
      let t = 0; for (let k = 0; k < 300000; k++) t += hot(k);
      console.log('sum', t);`;
    const r = spawnSync(process.execPath, [...(launcherOff ? [] : ['--no-opt']), '--trace-opt', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => /turbofan/i.test(l) && l.includes('hot')).length;
  };
  assert.equal(turbofanAfter(BIG_TREE_ENTRIES - 1, true), 0, 'below the bound TurboFan stays off');
  assert.equal(turbofanAfter(BIG_TREE_ENTRIES, false), 0, 'a --no-opt the launcher did not set is left alone');
  assert.ok(turbofanAfter(BIG_TREE_ENTRIES, true) > 0, 'at the bound TurboFan is back on');
});
