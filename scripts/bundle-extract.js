// Bundle the extract command's modules (dist/src/cli/extract-cmd.js and all it imports) into one
// file, dist/src/cli/extract-cmd.bundle.js, which src/cli/main.ts loads for a plain extract command
// line. Run by every npm script that builds (after tsc). Why: Node loads each ES module on its own
// (resolve, stat, read, look up its compiled code, link), and the ~30 modules of extract were
// ~7 ms of its start-up (tricky tree: CPU 95 -> 89 ms; an image of one file: 43 -> 35 ms).
//
// What the bundle shares with the rest of the program stays outside it: errors.js (main.ts tells
// user errors from bugs by their classes), koffi. The modules the bundle loads at run time name
// them from dist/src/<folder>/ (e.g. '../compress/lz4.js'), which the bundle, one folder deep too,
// resolves to the same files.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { NODE_BUNDLE } from './bundle-options.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(repo, 'dist', 'src');
const errors = path.join(src, 'errors.js');

await build({
  entryPoints: [path.join(src, 'cli', 'extract-cmd.js')],
  outfile: path.join(src, 'cli', 'extract-cmd.bundle.js'),
  ...NODE_BUNDLE,
  external: ['koffi', '@koromix/*'],
  plugins: [{
    name: 'shared-errors',
    setup(build) {
      build.onResolve({ filter: /errors\.js$/ }, (a) => (path.resolve(a.resolveDir, a.path) === errors ? { path: '../errors.js', external: true } : undefined));
    },
  }],
});
