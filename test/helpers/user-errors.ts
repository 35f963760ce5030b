// Checks shared by the tests of clean failures: one line naming the thing and the reason, and a
// build that runs out of space on a small tmpfs leaves nothing behind.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { forge, needRoot, run } from './tools.js';

/** One line matching `re`: no stack trace, no "internal error". */
export function assertOneLine(stderr: string, re: RegExp): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0], re);
  assert.doesNotMatch(stderr, /internal error|\n\s+at /);
}

/**
 * Build into a tmpfs of `size` (mount -o size=) too small for the image, once per flag set: each
 * build fails with one "no space left on device" line and leaves the file system empty. Needs root.
 */
export function checkNoSpaceLeft(t: TestContext, size: string, fill: (src: string) => void, flagSets: string[][]): void {
  if (!needRoot(t)) return;
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-enospc-'));
  const mnt = path.join(d, 'small');
  fs.mkdirSync(mnt);
  const m = run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]);
  if (m.status !== 0) {
    fs.rmSync(d, { recursive: true, force: true });
    if (process.env.CI) assert.fail(`cannot mount tmpfs: ${m.stderr}`);
    t.skip(`needs a tmpfs mount: ${m.stderr}`);
    return;
  }
  try {
    fs.mkdirSync(path.join(d, 'src'));
    fill(path.join(d, 'src'));
    for (const flags of flagSets) {
      const r = forge(['build', '--quiet', ...flags, path.join(mnt, 'out.img'), path.join(d, 'src')]);
      assert.equal(r.status, 1, r.stderr);
      assertOneLine(r.stderr, /out.img: write failed: no space left on device/);
      assert.deepEqual(fs.readdirSync(mnt), [], flags.join(' '));
    }
  } finally {
    run('umount', [mnt]);
    fs.rmSync(d, { recursive: true, force: true });
  }
}
