// inspect --dump of fixture images, pinned: every structure at its offset with its decoded fields.
// A writer change that moves or changes any structure shows here line by line. To accept an intended
// change: UPDATE_SNAPSHOTS=1 node --test dist/test/inspect-dump.test.js, and review the diff.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, forge } from './helpers/tools.js';
import { fixtureCopy } from './helpers/fixture.js';

const CASES: Record<string, string[]> = {
  // The golden image b4096-digest: inline dirs and tails, a block file, fingerprint xattrs, a long prefix.
  'b4096-digest': ['--xattr-inode-digest'],
  // LZ4 (our own encoder, the same bytes on every Node): map headers and extents.
  'b4096-lz4': ['-z', 'lz4'],
};

for (const [name, args] of Object.entries(CASES)) {
  test(`inspect --dump of the fixture image ${name} matches test/snapshots/inspect-dump-${name}.txt`, () => {
    const { dir, cleanup } = fixtureCopy();
    try {
      const img = path.join(path.dirname(dir), `${name}.img`);
      const b = forge(['build', '--quiet', '-T', '1700000000', '-U', 'clear', '--all-root', ...args, img, dir]);
      assert.equal(b.status, 0, b.stderr);
      const r = forge(['inspect', '--dump', img]);
      assert.equal(r.status, 0, r.stderr);
      const snap = path.join(REPO_ROOT, 'test', 'snapshots', `inspect-dump-${name}.txt`);
      if (process.env.UPDATE_SNAPSHOTS) fs.writeFileSync(snap, r.stdout.toString());
      assert.equal(r.stdout.toString(), fs.readFileSync(snap, 'utf8'));
    } finally {
      cleanup();
    }
  });
}

test('inspect --dump refuses --json in one line', () => {
  const r = forge(['inspect', '--dump', '--json', path.join(REPO_ROOT, 'nope.img')]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.toString(), 'erofs-forge: inspect: --dump goes alone (not with --json or --fsverity-digest)\n');
});
