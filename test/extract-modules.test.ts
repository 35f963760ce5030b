// Reading an image loads only what it needs: `extract` of an LZ4 image loads the LZ4 decoder and no
// encoder (compress/lz4.ts holds the encoder; its strict decoder is loaded only when the WebAssembly
// decoder rejects a block), and none of the deflate, LZMA or zstd decoders (fzstd builds its tables
// when loaded). Start-up is most of the CPU time of extracting a small image (the tricky tree).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import module from 'node:module';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { buildImage } from '../src/pipeline/build.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { parseCompressor } from '../src/compress/codec.js';
import { FORGE_BIN } from './helpers/tools.js';
import { pseudoRandom } from './helpers/tricky-tree.js';

// Records every module URL loaded, printed to stderr at exit.
const HOOK = `import module from 'node:module';
const seen = [];
module.registerHooks({ load(url, ctx, next) { seen.push(url); return next(url, ctx); } });
process.on('exit', () => { process.stderr.write('MODULES ' + JSON.stringify(seen) + '\\n'); });
`;

test('extract of an LZ4 image loads the LZ4 decoder, no encoder and no other decoder', async (t) => {
  if (!(module as { registerHooks?: unknown }).registerHooks) { t.skip('module.registerHooks needs Node >= 22.15'); return; }
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-xmod-'));
  try {
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const data = Buffer.concat([pseudoRandom('m', 20_000), Buffer.alloc(40_000, 7)]);
    fs.writeFileSync(path.join(src, 'f'), data);
    const img = path.join(dir, 'img');
    await buildImage(img, { dir: src }, defaultBuildOptions({
      compression: { codec: parseCompressor('lz4'), pclusterSize: 4096, ztailpacking: false, dedupe: false, legacyIndexes: false },
    }));
    const hook = path.join(dir, 'hook.mjs');
    fs.writeFileSync(hook, HOOK);
    const out = path.join(dir, 'out');
    const r = spawnSync(process.execPath, ['--import', hook, FORGE_BIN, 'extract', '--quiet', img, out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readFileSync(path.join(out, 'f')), data);
    const line = r.stderr.split('\n').find((l) => l.startsWith('MODULES '));
    assert.ok(line, r.stderr);
    const loaded = (JSON.parse(line.slice(8)) as string[]).filter((u) => u.startsWith('file:')).map((u) => u.replace(/^.*\/dist\/src\//, ''));
    // The decoder is in the extract bundle (scripts/bundle-extract.js), or its own module without one.
    assert.ok(loaded.includes('cli/extract-cmd.bundle.js') || loaded.includes('compress/lz4-decode.js'), loaded.join(' '));
    for (const m of ['compress/lz4.js', 'compress/codec.js', 'compress/zstd.js', 'compress/microlzma.js', 'compress/deflate-inflate.js']) {
      assert.ok(!loaded.includes(m), `${m} loaded: ${loaded.join(' ')}`);
    }
    assert.ok(!loaded.some((u) => u.includes('/fzstd/')), loaded.join(' '));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('extract_start_up_modules: the plain extract command loads its bundle and no commander, koffi\'s native module without any of its scripts, and no fs streams', async (t) => {
  if (!(module as { registerHooks?: unknown }).registerHooks) { t.skip('module.registerHooks needs Node >= 22.15'); return; }
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-xmod-'));
  try {
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'f'), 'f\n');
    const img = path.join(dir, 'img');
    await buildImage(img, { dir: src }, defaultBuildOptions({}));
    const hook = path.join(dir, 'hook.mjs');
    // Node's own list of the built-in modules it loaded (internal, present in Node 22-26).
    // Taken before anything is written: process.stderr, once made, loads net for a pipe.
    fs.writeFileSync(hook, HOOK.replace("process.on('exit', () => {", "process.on('exit', () => { const builtins = JSON.stringify(process.moduleLoadList ?? null); process.stderr.write('BUILTINS ' + builtins + '\\n');"));
    const r = spawnSync(process.execPath, ['--import', hook, FORGE_BIN, 'extract', '--quiet', img, path.join(dir, 'out')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(dir, 'out', 'f'), 'utf8'), 'f\n');
    const line = r.stderr.split('\n').find((l) => l.startsWith('MODULES '));
    assert.ok(line, r.stderr);
    const loaded = JSON.parse(line.slice(8)) as string[];
    assert.ok(!loaded.some((u) => u.includes('/commander/')), loaded.join(' '));
    // The command's modules in one file (scripts/bundle-extract.js); outside it only what is shared.
    const ours = loaded.filter((u) => u.includes('/dist/src/')).map((u) => u.replace(/^.*\/dist\/src\//, ''));
    assert.deepEqual(ours.sort(), ['cli/extract-cmd.bundle.js', 'cli/main.js', 'cli/version.js', 'errors.js', 'sys/cleanup.js']);
    if (process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64')) {
      // koffi's native module is opened by its path (src/sys/libc.ts dlopenKoffi): no script of koffi's,
      // neither its entry nor its platform package's loader, is loaded (module resolution: ~4 ms).
      assert.ok(!loaded.some((u) => /\/koffi\/(src\/koffi\/)?index\.c?js$/.test(u)), loaded.join(' '));
      assert.ok(!loaded.some((u) => u.includes('/@koromix/')), loaded.join(' '));
    }
    const builtins = JSON.parse(r.stderr.split('\n').find((l) => l.startsWith('BUILTINS '))!.slice(9)) as string[] | null;
    if (builtins) {
      // The ES module facade of node:fs (an `import` of it) loads its streams; so did koffi's wrapper (via node:util).
      assert.ok(!builtins.includes('NativeModule internal/fs/streams'), builtins.filter((b) => b.includes('fs')).join(' '));
      assert.ok(!builtins.includes('NativeModule child_process'), 'child_process (commander) loaded');
      // extract_quiet_makes_no_stdio_streams: stdout and stderr (pipes here) are never made.
      assert.ok(!builtins.includes('NativeModule net'), builtins.filter((b) => /net|stream/.test(b)).join(' '));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
