// Bugs the fuzzer found, pinned: each fixture under fixtures/regressions/ (made by
// test/fuzz/make-regressions.ts, described in test/fuzz/regressions.ts) goes through the real CLI, which
// must give the expected exit status and at most one clean stderr line, never "internal error" or a
// stack trace; then through the whole fuzz pipeline in-process, which must find nothing.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { forge, REPO_ROOT } from './helpers/tools.js';
import { REGRESSIONS } from './fuzz/regressions.js';
import { CasePool } from './fuzz/pool.js';

const DIR = path.join(REPO_ROOT, 'fixtures', 'regressions');

for (const r of REGRESSIONS) {
  test(`regression ${r.name}: ${r.bug}`, async () => {
    const image = path.join(DIR, `${r.name}.img`);
    assert.ok(fs.existsSync(image), `${image} is missing (node dist/test/fuzz/make-regressions.js)`);
    assert.ok(fs.statSync(image).size < 64 << 10, 'regression fixtures stay under 64 KiB');
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'forge-regression-'));
    try {
      for (const e of r.expect) {
        const args = e.args(image, scratch);
        const res = forge(args);
        const shown = `${args.join(' ')}\nstatus ${res.status}\nstderr: ${res.stderr}`;
        assert.equal(res.status, e.status, shown);
        assert.doesNotMatch(res.stderr, /internal error|\n\s+at /, shown);
        if (e.status !== 0 && !args.includes('verify')) assert.equal(res.stderr.trim().split('\n').length, 1, shown);
        if (e.stderr) assert.match(res.stderr, e.stderr, shown);
        if (e.stdout) assert.match(res.stdout.toString(), e.stdout, shown);
        fs.rmSync(path.join(scratch, 'x'), { recursive: true, force: true });
      }
      // The pipeline swaps process.stdout while CLI commands run, so it runs in a pool worker.
      const pool = new CasePool(1, path.join(scratch, 'pool'), 60_000);
      try {
        const result = await pool.run(fs.readFileSync(image), {});
        assert.equal(result.bug, null, JSON.stringify(result.bug, null, 2));
      } finally {
        await pool.close();
      }
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
}
