#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size=2: V8's young generation stays at 2 MiB semi-spaces instead of growing to
// 16 MiB in each of the three isolates (main thread, two workers): 30-40 MiB less peak RSS on the
// benchmark corpus at the same speed (bench/README figures). It takes effect only from the command
// line, so `node bin/erofs-forge.js` without the flag works the same, with more memory.
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => {
    process.stderr.write(`erofs-forge: internal error: ${e && e.stack ? e.stack : e}\n`);
    process.exitCode = 70;
  },
);
