#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=50
// V8 memory settings, for peak RSS (figures: README, Benchmark). --heap-growing-percent=50: the next
// full GC comes when the heap has grown 50% past what was live, where V8's own choice (up to 4x) let
// a 1,000,000-file build's per-file garbage pile up: peak 484-597 MiB -> 461-487 MiB. 25% gave
// 416-436 MiB but cost 10% on the corpus (the setting is process-wide: workers collect more often
// too); 50% costs ~5%.
// --max-semi-space-size=8 (16 by default): young generations of 8 MiB semi-spaces in each of the
// three isolates; smaller ones promote the objects of files in flight to the old generation. These
// take effect only from the command line: `node bin/erofs-forge.js` works the same, with more memory.
import module from 'node:module';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';

// Node >= 22.1 keeps the compiled code of our modules on disk between runs (figure: README, Node
// releases); older releases lack the call and start as before. In the user's cache directory, not in
// TMPDIR (a build leaves nothing there). The main module is imported after it.
module.enableCompileCache?.(join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'erofs-forge', 'node-compile-cache'));
const { main } = await import('../dist/src/cli/main.js');

// Run through a link named mkfs.erofs, the program takes mkfs.erofs's command line (as `erofs-forge mkfs`).
const asMkfs = basename(process.argv[1] ?? '') === 'mkfs.erofs';
main(asMkfs ? ['mkfs', ...process.argv.slice(2)] : process.argv.slice(2), asMkfs ? 'mkfs.erofs' : undefined).then(
  (code) => { process.exitCode = code; },
  (e) => {
    process.stderr.write(`erofs-forge: internal error: ${e && e.stack ? e.stack : e}\n`);
    process.exitCode = 70;
  },
);
