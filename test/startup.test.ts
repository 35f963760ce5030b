// Start-up (issue 21 lever 3): the module compile cache is turned on only in a directory we own that
// nobody else can write, and an unusable cache location never stops or hangs the program.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import module from 'node:module';
import { pathToFileURL } from 'node:url';
import { FORGE_BIN } from './helpers/tools.js';

/** V8 before 13 (Node 22) counts --max-semi-space-size (the launcher's #! line) in its flag hash. */
const CACHE_LOST = Number(process.versions.v8.split('.')[0]) < 13;

function version(env: Record<string, string | undefined>): { status: number | null; stdout: string; error?: Error } {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) e[k] = v;
  const r = spawnSync(process.execPath, [FORGE_BIN, '--version'], { env: e, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, error: r.error };
}

test('compile_cache_unwritable_home_does_not_hang: a HOME that cannot be created falls back to TMPDIR/erofs-forge-UID, mode 0700', () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-startup-'));
  try {
    // Node's own recursive mkdir looped forever here (100% CPU, no output).
    const r = version({ HOME: '/proc/nonexistent', XDG_CACHE_HOME: undefined, TMPDIR: d });
    assert.equal(r.error, undefined, 'finished');
    assert.equal(r.status, 0);
    assert.equal(r.stdout, '0.1.0\n');
    const cache = path.join(d, `erofs-forge-${process.getuid!()}`, 'node-compile-cache');
    if (typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function') {
      assert.equal(fs.statSync(cache).mode & 0o777, 0o700);
      assert.ok(fs.readdirSync(cache).length > 0, 'the cache was written');
    }
    // A cache directory others can write is not used (its code would be run): nothing written there.
    const shared = path.join(d, 'shared');
    fs.mkdirSync(path.join(shared, 'erofs-forge', 'node-compile-cache'), { recursive: true });
    fs.chmodSync(path.join(shared, 'erofs-forge'), 0o777);
    const r2 = version({ XDG_CACHE_HOME: shared, TMPDIR: path.join(d, 'missing') });
    assert.equal(r2.status, 0);
    assert.equal(r2.stdout, '0.1.0\n');
    assert.deepEqual(fs.readdirSync(path.join(shared, 'erofs-forge', 'node-compile-cache')), []);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('compile_cache_in_workers: the job workers use the compile cache too (they compiled their modules from source at every build)', (t) => {
  if (typeof (module as { getCompileCacheDir?: unknown }).getCompileCacheDir !== 'function') {
    t.skip('this Node release cannot say where the cache is');
    return;
  }
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-startup-'));
  try {
    fs.mkdirSync(path.join(d, 'src'));
    // More lz4 work than a build runs on its main thread (inlineBudgetFor): a worker starts.
    fs.writeFileSync(path.join(d, 'src', 'a'), Buffer.alloc(9 << 20, 'a file\n'));
    const r = spawnSync(process.execPath, [FORGE_BIN, 'build', '--quiet', '-zlz4', '--workers', '1', path.join(d, 'img'), path.join(d, 'src')],
      { env: { ...process.env, XDG_CACHE_HOME: path.join(d, 'cache') }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const cache = path.join(d, 'cache', 'erofs-forge', 'node-compile-cache');
    const entries = fs.readdirSync(cache, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    // job-worker.js is loaded by the workers only: its compiled code is there if they wrote the cache.
    // The CLI runs the bundle (scripts/bundle-build.js): there, the chunk its worker entry imports.
    const boot = path.join(path.dirname(FORGE_BIN), '..', 'dist', 'src', 'bundle', 'worker-boot.js');
    const workerModule = fs.existsSync(boot) ? `bundle/${/import\("\.\/(chunk-[^"]+)"\)/.exec(fs.readFileSync(boot, 'utf8'))![1]}` : 'pipeline/work/job-worker.js';
    const byWorker = entries.some((e) => fs.readFileSync(path.join(e.parentPath, e.name)).includes(workerModule));
    assert.ok(byWorker, `a worker module in the cache (${entries.length} entries)`);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('built_in_code_cache_not_rejected: the launcher\'s V8 flags leave Node\'s code cache of its own modules usable (a worker took twice the CPU to start with --heap-growing-percent on the #! line)', (t) => {
  if (CACHE_LOST) { t.skip('V8 < 13 hashes the launcher\'s --max-semi-space-size: Node\'s code cache is lost anyway'); return; }
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-startup-'));
  try {
    fs.mkdirSync(path.join(d, 'src'));
    // More lz4 work than a build runs on its main thread (inlineBudgetFor): a worker starts.
    fs.writeFileSync(path.join(d, 'src', 'a'), Buffer.alloc(9 << 20, 'a file\n'));
    // Run as installed: through the kernel's #! handling, with the launcher's own flags.
    const r = spawnSync(FORGE_BIN, ['build', '--quiet', '-zlz4', '--workers', '1', path.join(d, 'img'), path.join(d, 'src')],
      { env: { ...process.env, NODE_DEBUG_NATIVE: 'CODE_CACHE' }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.split('\n');
    if (!lines.some((l) => /with code cache/.test(l))) { t.skip('this Node release prints no code cache lines (NODE_DEBUG_NATIVE=CODE_CACHE)'); return; }
    // A worker bootstraps by compiling Node's modules: with the cache, not from source.
    assert.ok(lines.some((l) => /Compiling worker_threads with code cache/.test(l)) || lines.filter((l) => /with code cache/.test(l)).length > 20, 'built-in modules compiled with their code cache');
    const rejected = lines.filter((l) => /is rejected/.test(l));
    assert.deepEqual(rejected.slice(0, 3), [], `${rejected.length} built-in modules compiled from source`);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

/**
 * A build run as the kernel runs the launcher (its #! flags), with Node's code cache lines
 * (NODE_DEBUG_NATIVE=CODE_CACHE) and, from a preloaded hook, each V8 flag the main thread sets.
 */
function buildWithCacheLines(args: string[], src: string, img: string, env: Record<string, string> = {}): { flags: string[]; lines: string[] } {
  const d = path.dirname(img);
  const hook = path.join(d, 'flags-hook.mjs');
  fs.writeFileSync(hook, `import { isMainThread } from 'node:worker_threads';
const v8 = process.getBuiltinModule('node:v8');
const set = v8.setFlagsFromString;
if (isMainThread) v8.setFlagsFromString = (f) => { process.stderr.write('FLAG ' + f + '\\n'); return set(f); };
`);
  const shebang = /^#!.*node (.*)$/m.exec(fs.readFileSync(FORGE_BIN, 'utf8'))![1].split(' ');
  const r = spawnSync(process.execPath, [...shebang, '--import', hook, FORGE_BIN, 'build', '--quiet', ...args, img, src],
    { env: { ...process.env, ...env, NODE_DEBUG_NATIVE: 'CODE_CACHE' }, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.split('\n');
  return { flags: lines.filter((l) => l.startsWith('FLAG ')).map((l) => l.slice(5)), lines };
}

test('worker_threads_start_with_code_cache_in_builds_without_turbofan: a build that turns TurboFan off (V8 --no-opt) does so once its threads have loaded their modules, not before: no built-in module compiled from source (the uncompressed build\'s worker compiled 142 of them)', (t) => {
  if (CACHE_LOST) { t.skip('V8 < 13 hashes the launcher\'s --max-semi-space-size: Node\'s code cache is lost anyway'); return; }
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-startup-'));
  try {
    // 100 directories: the walk lends directories to the pool's worker once it has seen 64.
    const flat = path.join(d, 'flat');
    for (let i = 0; i < 100; i++) {
      fs.mkdirSync(path.join(flat, `d${i}`), { recursive: true });
      fs.writeFileSync(path.join(flat, `d${i}`, 'f'), `file ${i}\n`);
    }
    // More lz4 work than a build runs on its main thread (inlineBudgetFor): the workers start.
    const big = path.join(d, 'big');
    fs.mkdirSync(big);
    fs.writeFileSync(path.join(big, 'a'), Buffer.alloc(9 << 20, 'a file\n'));
    fs.writeFileSync(path.join(big, 'b'), Buffer.alloc(9 << 20, 'b file\n'));
    const cases: [string, string[], string][] = [
      ['uncompressed, 1 worker', ['--workers', '1'], flat],
      ['uncompressed, 2 workers', ['--workers', '2'], flat],
      ['-zlz4, 2 workers', ['-zlz4', '--workers', '2'], big],
      ['--cache -zlz4, cold', ['-zlz4', '--workers', '2', '--cache', path.join(d, 'cache')], big],
      ['--cache -zlz4, warm', ['-zlz4', '--workers', '2', '--cache', path.join(d, 'cache')], big],
    ];
    for (const [name, args, src] of cases) {
      const { flags, lines } = buildWithCacheLines(args, src, path.join(d, 'img'));
      if (!lines.some((l) => /with code cache/.test(l))) { t.skip('this Node release prints no code cache lines (NODE_DEBUG_NATIVE=CODE_CACHE)'); return; }
      assert.ok(lines.some((l) => /Compiling internal\/main\/worker_thread /.test(l)), `${name}: a worker thread started`);
      // TurboFan went off (and stays off at the end: the tree is small).
      assert.equal(flags.filter((f) => /^--(no-)?opt$/.test(f)).at(-1), '--no-opt', `${name}: ${flags.join(' ')}`);
      const rejected = lines.filter((l) => /is rejected/.test(l));
      assert.deepEqual(rejected.slice(0, 3), [], `${name}: ${rejected.length} built-in modules compiled from source`);
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('build_start_up_modules: a small build loads the bundled command, starts no worker, and its image is the modules\' one', (t) => {
  if (!(module as { registerHooks?: unknown }).registerHooks) { t.skip('module.registerHooks needs Node >= 22.15'); return; }
  const bundle = path.join(path.dirname(FORGE_BIN), '..', 'dist', 'src', 'bundle', 'build.js');
  if (!fs.existsSync(bundle)) { t.skip('no bundle built (scripts/bundle-build.js)'); return; }
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-startup-'));
  try {
    fs.mkdirSync(path.join(d, 'src', 'sub'), { recursive: true });
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(d, 'src', i % 2 ? 'sub' : '', `f${i}`), `file ${i} `.repeat(100 * i));
    // Every module loaded, by thread (workers run the --import too), appended to a file.
    const log = path.join(d, 'loads');
    const hook = path.join(d, 'hook.mjs');
    fs.writeFileSync(hook, `import module from 'node:module';
import { appendFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
module.registerHooks({ load(url, ctx, next) { appendFileSync(${JSON.stringify(log)}, threadId + ' ' + url + '\\n'); return next(url, ctx); } });
`);
    const args = ['build', '--quiet', '-zlz4', '--workers', '2', '-T0', '-Uclear', '--xattr-inode-digest=trusted.erofs.fingerprint'];
    const r = spawnSync(process.execPath, ['--import', hook, FORGE_BIN, ...args, path.join(d, 'bundled.img'), path.join(d, 'src')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const loads = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]);
    assert.deepEqual([...new Set(loads.map(([thread]) => thread))], ['0'], 'no worker thread for a small build');
    // Ours: the launcher, main.js and what it shares with the bundle; the rest from dist/src/bundle/.
    const ours = loads.map(([, u]) => u).filter((u) => u.includes('/dist/src/')).map((u) => u.replace(/^.*\/dist\/src\//, ''));
    assert.deepEqual(ours.filter((u) => !u.startsWith('bundle/')).sort(), ['cli/main.js', 'cli/version.js', 'errors.js', 'sys/cleanup.js']);
    assert.ok(ours.includes('bundle/build.js'), ours.join(' '));
    assert.ok(ours.length < 40, `${ours.length} files of ours: ${ours.join(' ')}`);
    // The same image as the modules' own build (the library's, through dist/src/cli/build.js).
    const lib = spawnSync(process.execPath, ['--input-type=module', '-e', `
      const { buildCommand } = await import(${JSON.stringify(pathToFileURL(path.join(path.dirname(FORGE_BIN), '..', 'dist', 'src', 'cli', 'build.js')).href)});
      await buildCommand().exitOverride().parseAsync(${JSON.stringify([...args.slice(1), path.join(d, 'modules.img'), path.join(d, 'src')])}, { from: 'user' });`],
    { encoding: 'utf8', timeout: 60_000 });
    assert.equal(lib.status, 0, lib.stderr);
    assert.ok(fs.readFileSync(path.join(d, 'bundled.img')).equals(fs.readFileSync(path.join(d, 'modules.img'))), 'bundled and unbundled builds differ');
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('version_without_commander: --version and -V print package.json\'s version without loading commander or a command module', (t) => {
  if (!(module as { registerHooks?: unknown }).registerHooks) { t.skip('module.registerHooks needs Node >= 22.15'); return; }
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-startup-'));
  try {
    const log = path.join(d, 'loads');
    const hook = path.join(d, 'hook.mjs');
    fs.writeFileSync(hook, `import module from 'node:module';
import { appendFileSync } from 'node:fs';
module.registerHooks({ load(url, ctx, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, ctx); } });
`);
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(FORGE_BIN), '..', 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      fs.rmSync(log, { force: true });
      const r = spawnSync(process.execPath, ['--import', hook, FORGE_BIN, flag], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${pkg.version}\n`, flag);
      const loaded = fs.readFileSync(log, 'utf8').trim().split('\n').filter((u) => !u.startsWith('node:'));
      // The launcher and main.js with what it imports statically, nothing else (commander: 7 files).
      assert.deepEqual(loaded.map((u) => u.replace(/^.*\/(bin|dist\/src)\//, '')).sort(), ['cli/main.js', 'cli/version.js', 'erofs-forge.js', 'errors.js', 'sys/cleanup.js'], flag);
    }
    // With another argument commander answers, with the same words.
    const h = spawnSync(process.execPath, [FORGE_BIN, '--version', '--help'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(h.stdout, `${pkg.version}\n`);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
