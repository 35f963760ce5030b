// glibc's dynamic mmap threshold (src/sys/malloc-threshold.ts): once a large block was
// freed, later blocks below its size came from malloc arenas that kept their memory after free, and
// a build's threads, which free large result buffers all the time, carried 50-150 MiB of freed
// memory at their peak. Fixed, a freed buffer's memory goes back to the system at once.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import * as path from 'node:path';

const glibc = process.platform === 'linux' && !!(process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;

/** RSS given back (MiB) when 100 buffers of 512 KiB are freed, kept small ones between them, after a 4 MiB block was freed. */
function freedMiB(fix: boolean): number {
  const mod = pathToFileURL(path.resolve(import.meta.dirname, '../src/sys/malloc-threshold.js')).href;
  const script = `
    import * as fs from 'node:fs';
    if (${fix}) (await import(${JSON.stringify(mod)})).fixMmapThreshold();
    const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) >> 10;
    new Uint8Array(4 << 20).fill(1).buffer.transfer(0);
    const keep = [], drop = [];
    for (let i = 0; i < 100; i++) { drop.push(new Uint8Array(512 << 10).fill(1)); keep.push(new Uint8Array(192 << 10).fill(1)); }
    const before = rss();
    for (const d of drop) d.buffer.transfer(0);
    console.log(before - rss(), keep.length);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim().split(' ')[0]);
}

test('malloc threshold: freed result buffers give their memory back (peak RSS of builds)', (t) => {
  if (!glibc) return t.skip('glibc malloc only (musl has no dynamic threshold)');
  if (typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer !== 'function') return t.skip('needs ArrayBuffer.prototype.transfer (Node >= 21)');
  // Unfixed, the 512 KiB buffers sit in the heap between the kept ones: nothing comes back.
  assert.ok(freedMiB(false) < 10, 'the unfixed case keeps the memory (the test would not see a regression otherwise)');
  assert.ok(freedMiB(true) >= 45, 'fixed: ~50 MiB given back');
});

/**
 * RSS given back (MiB) by trimMalloc once 100 buffers of 64 KiB (below the mmap threshold: from the
 * arena) are freed with kept small ones between them, on a worker thread (an arena of its own).
 */
function trimmedMiB(trim: boolean): number {
  const mod = pathToFileURL(path.resolve(import.meta.dirname, '../src/sys/malloc-threshold.js')).href;
  const script = `
    import * as fs from 'node:fs';
    import { Worker } from 'node:worker_threads';
    const m = await import(${JSON.stringify(mod)});
    m.fixMmapThreshold();
    const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) >> 10;
    const w = new Worker(\`
      const { parentPort } = process.getBuiltinModule('node:worker_threads');
      const keep = [], drop = [];
      for (let i = 0; i < 800; i++) { drop.push(new Uint8Array(64 << 10).fill(1)); keep.push(new Uint8Array(1024).fill(1)); }
      for (const d of drop) d.buffer.transfer(0);
      parentPort.postMessage(keep.length);
      parentPort.on('message', () => process.exit(0));\`, { eval: true });
    await new Promise((r) => w.once('message', r));
    const before = rss();
    if (${trim}) m.trimMalloc();
    console.log(before - rss());
    w.postMessage(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
}

test('arena_pages_freed_in_the_middle_given_back: trimMalloc returns a worker arena\'s free pages (peak RSS of builds)', (t) => {
  if (!glibc) return t.skip('glibc malloc only (malloc_trim)');
  if (typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer !== 'function') return t.skip('needs ArrayBuffer.prototype.transfer (Node >= 21)');
  // Untrimmed, the freed 64 KiB blocks stay in the worker's arena between the kept ones (50 MiB).
  assert.ok(trimmedMiB(false) < 10, 'untrimmed, the arena keeps the memory (the test would not see a regression otherwise)');
  assert.ok(trimmedMiB(true) >= 40, 'trimmed: ~50 MiB given back');
});

test('mmap_threshold_set_without_koffi_entry: fixMmapThreshold binds mallopt through libc.ts (koffi\'s native module by path), not koffi\'s own entry, which copied node:util\'s exports (six more built-in modules at each pool start, compiled from source once TurboFan is off)', (t) => {
  if (!glibc) { t.skip('glibc only'); return; }
  const mod = pathToFileURL(path.resolve(import.meta.dirname, '../src/sys/malloc-threshold.js')).href;
  const script = `
    import { createRequire } from 'node:module';
    const m = await import(${JSON.stringify(mod)});
    const before = new Set(process.moduleLoadList);
    m.fixMmapThreshold();
    const require = createRequire(import.meta.url);
    console.log(JSON.stringify({
      trim: m.trimMalloc(),
      koffiEntry: Object.keys(require.cache).filter((f) => /[\\\\/]koffi[\\\\/](index|src)/.test(f)),
      loaded: process.moduleLoadList.filter((x) => !before.has(x) && x.startsWith('NativeModule ')),
    }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { trim: boolean; koffiEntry: string[]; loaded: string[] };
  assert.equal(got.trim, true, 'malloc_trim bound');
  assert.deepEqual(got.koffiEntry, [], 'koffi\'s entry script not run');
  assert.deepEqual(got.loaded.filter((x) => /util/.test(x)), [], 'no node:util lazy exports loaded');
});
