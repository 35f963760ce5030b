#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => {
    process.stderr.write(`erofs-forge: internal error: ${e && e.stack ? e.stack : e}\n`);
    process.exitCode = 70;
  },
);
