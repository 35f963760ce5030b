// Writes fixtures/regressions/NAME.img for every entry of test/fuzz/regressions.ts (and a README listing
// them). Run after `tsc -p .`: node dist/test/fuzz/make-regressions.js
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/tools.js';
import { REGRESSIONS, makeRegression } from './regressions.js';

/** `node --test dist/test/` runs every file below dist/test, this one too: then it does nothing. */
async function run(): Promise<void> {
  const dir = path.join(REPO_ROOT, 'fixtures', 'regressions');
  fs.mkdirSync(dir, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'erofs-regressions-'));
  try {
    for (const r of REGRESSIONS) {
      const out = path.join(dir, `${r.name}.img`);
      await makeRegression(r, work, out);
      console.log(`${out}: ${fs.statSync(out).size} bytes`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (!process.env.NODE_TEST_CONTEXT) await run();
