// Bundle the build and mkfs commands and the threads they start (job workers, walk threads) into
// dist/src/bundle/: one entry file each, their shared modules in chunks (esbuild's code splitting),
// and what a command loads only on some paths (sealing, tar input, the reader of a manifest, the
// verity signer and its ASN.1 libraries) in chunks of their own, loaded only there. src/cli/main.ts
// loads build.js / mkfs.js from here, pipeline/work/pool.ts and source/dir-walk.ts start their
// threads from here when they run here (their `new URL('./worker-boot.js', import.meta.url)` finds
// the entries of the same names). Run by every npm script that builds (after tsc).
//
// Why: Node loads each ES module on its own (resolve, stat, read, look up its compiled code, link);
// a build loaded ~150 modules on its main thread and ~80 in each job worker (see README, Start-up).
//
// What the bundle shares with the rest of the program stays outside it: errors.js (main.ts tells
// user errors from bugs by their classes), sys/cleanup.js (the registries main.ts's signal handler
// reads), commander (main.ts adds the command to its program and tells its errors by class), koffi.
// The modules loaded at run time by path from dist/src/<folder>/ (the WebAssembly files, the
// extract worker, the decoders taken by `require`) are found the same way from dist/src/bundle/.
// Not minified: stack traces of internal errors name our functions.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinModules } from 'node:module';
import { build } from 'esbuild';
import { NODE_BUNDLE } from './bundle-options.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(repo, 'dist', 'src');
const outdir = path.join(src, 'bundle');
const shared = new Map([[path.join(src, 'errors.js'), '../errors.js'], [path.join(src, 'sys', 'cleanup.js'), '../sys/cleanup.js']]);

fs.rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: {
    build: path.join(src, 'cli', 'build.js'),
    mkfs: path.join(src, 'cli', 'mkfs.js'),
    'worker-boot': path.join(src, 'pipeline', 'work', 'worker-boot.js'),
    'walk-worker': path.join(src, 'source', 'walk-worker.js'),
  },
  ...NODE_BUNDLE,
  outdir,
  splitting: true,
  chunkNames: 'chunk-[hash]',
  external: ['koffi', '@koromix/*', 'commander'],
  plugins: [{
    // Node's built-in modules through process.getBuiltinModule (Node >= 22.3), not `import`: the ES
    // module facade of a built-in reads every export, which loads what the module loads lazily
    // (node:fs its streams, node:crypto WebCrypto, X.509 and the rest: ~60 of Node's own modules
    // more in a build). As CommonJS here, esbuild's named imports read only what is used, when used.
    name: 'builtins-unwrapped',
    setup(b) {
      const builtins = new Set(builtinModules);
      b.onResolve({ filter: /^[a-z_:/]+$/ }, (a) => {
        const name = a.path.replace(/^node:/, '');
        return builtins.has(name) ? { path: `node:${name}`, namespace: 'builtin' } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'builtin' }, (a) => ({ contents: `module.exports = process.getBuiltinModule(${JSON.stringify(a.path)});`, loader: 'js' }));
    },
  }, {
    name: 'shared-modules',
    setup(b) {
      b.onResolve({ filter: /(errors|cleanup)\.js$/ }, (a) => {
        const to = shared.get(path.resolve(a.resolveDir, a.path));
        return to ? { path: to, external: true } : undefined;
      });
    },
  }],
});
