// Finding (issue 21, uncompressed builds): every copy a build's workers make writes the one image
// file, and the kernel takes that file's lock for each write; with two copying workers the second
// waited for the first, spinning (corpus, --workers 2: rwsem_spin_on_owner the workers' top kernel
// symbol), and its start-up (~70 ms of CPU) bought nothing. A build whose only file work is copying
// now starts one worker (poolSizeFor); builds that hash or compress keep --workers. The image must
// not depend on it: the same bytes at every --workers.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import { poolSizeFor } from '../src/pipeline/build.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { noise } from './helpers/noise.js';
import { forge } from './helpers/tools.js';

const work = fs.mkdtempSync(path.join(tmpdir(), 'forge-copy-pool-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

test('copy pool size: one worker for a build that only copies; --workers for one that hashes, compresses, chunks or seals', () => {
  const o = (over: Parameters<typeof defaultBuildOptions>[0]) => defaultBuildOptions({ workers: 4, ...over });
  assert.equal(poolSizeFor(o({}), false), 1);
  assert.equal(poolSizeFor(o({ workers: 1 }), false), 1);
  assert.equal(poolSizeFor(o({}), true), 4, 'a seal hashes its leaves on the workers');
  assert.equal(poolSizeFor(o({ fingerprint: { scheme: 'sha256', name: 'user.fp' } as never }), false), 4, 'fingerprints hash every file');
  assert.equal(poolSizeFor(o({ compression: { codec: { name: 'lz4' } } as never }), false), 4);
  assert.equal(poolSizeFor(o({ chunks: { chunkbits: 12, indexes: false, dedupe: true } as never }), false), 4);
});

test('copy pool size: an uncompressed image is the same at --workers 1, 2 and 5 (with and without fingerprints)', () => {
  const src = path.join(work, 'src');
  for (let d = 0; d < 6; d++) {
    fs.mkdirSync(path.join(src, `d${d}`), { recursive: true });
    for (let f = 0; f < 40; f++) fs.writeFileSync(path.join(src, `d${d}`, `f${f}`), noise(1 + ((d * 40 + f) * 7919) % 30_000, d * 40 + f + 1));
  }
  fs.writeFileSync(path.join(src, 'big'), noise(3_000_000, 7));
  for (const extra of [[], ['--xattr-inode-digest']]) {
    const digests = ['1', '2', '5'].map((w) => {
      const img = path.join(work, `img-${w}`);
      const r = forge(['build', '--quiet', '-T0', '-Uclear', '--workers', w, ...extra, img, src]);
      assert.equal(r.status, 0, r.stderr);
      return createHash('sha256').update(fs.readFileSync(img)).digest('hex');
    });
    assert.equal(new Set(digests).size, 1, `${extra.join(' ') || 'plain'}: ${digests.join(' ')}`);
  }
});
