// extract leaves out the calls that would set what a new entry already has (src/read/restore-rule.ts):
// no fchown when the owner is already ours, no fchmod when the file was created with its final mode.
// Each case where that would be wrong is here: setuid/setgid/sticky bits (chown clears them), modes
// that forbid writing, an access ACL (setting it rewrites the group bits from its mask; here, as in
// any tree the kernel kept, they agree), owners other than ours, and a setgid target directory of
// another group (new entries take its group, not ours). The result must equal the source, on the
// main thread and in workers alike.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { buildImage } from '../src/pipeline/build.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { parseCompressor } from '../src/compress/codec.js';
import { ErofsImage } from '../src/read/image.js';
import { extract } from '../src/read/extract.js';
import { assertSameTree, snapshotTree } from './helpers/snapshot.js';
import { pseudoRandom } from './helpers/tricky-tree.js';
import { needRoot } from './helpers/tools.js';
import * as sys from '../src/sys/libc.js';

/** system.posix_acl_access: user::rw- user:1000:rwx group::r-- mask::rwx other::--- (group bits become rwx). */
function accessAcl(): Buffer {
  const entries: [number, number, number][] = [[0x01, 6, 0xffffffff], [0x02, 7, 1000], [0x04, 4, 0xffffffff], [0x10, 7, 0xffffffff], [0x20, 0, 0xffffffff]];
  const b = Buffer.alloc(4 + 8 * entries.length);
  b.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => { b.writeUInt16LE(tag, 4 + 8 * i); b.writeUInt16LE(perm, 6 + 8 * i); b.writeUInt32LE(id, 8 + 8 * i); });
  return b;
}

const CASES: [name: string, mode: number, uid: number, gid: number][] = [
  ['plain', 0o644, 0, 0], ['none', 0o000, 0, 0], ['readonly', 0o444, 0, 0], ['setuid', 0o4755, 0, 0],
  ['setgid', 0o2750, 0, 0], ['sticky', 0o1644, 0, 0], ['other-user', 0o640, 1000, 0], ['other-group', 0o640, 0, 4321],
  ['setuid-other', 0o4711, 1000, 1000], ['setgid-other', 0o2755, 0, 4321], ['empty', 0o600, 0, 0],
  // Empty files are made by name (mknodat, then owner and times: extract.ts makeEmptyFile) unless a
  // bit chown would clear or an xattr needs a descriptor.
  ['empty-other', 0o640, 1000, 4321], ['empty-none', 0o000, 0, 0], ['empty-setuid', 0o4755, 0, 0],
  ['empty-setgid-other', 0o2750, 1000, 4321], ['empty-sticky', 0o1600, 0, 0],
];

function makeTree(root: string): void {
  fs.mkdirSync(path.join(root, 'd'), { recursive: true });
  let i = 0;
  for (const [name, mode, uid, gid] of CASES) {
    for (const big of [false, true]) {
      // 400 KiB each when big: the compressed image passes the MiB after which workers start.
      const f = path.join(root, 'd', `${name}${big ? '-big' : ''}`);
      fs.writeFileSync(f, name.startsWith('empty') ? Buffer.alloc(0) : big ? Buffer.concat([pseudoRandom(name, 200_000), Buffer.alloc(200_000, i)]) : Buffer.from(`${name}\n`));
      fs.chownSync(f, uid, gid);
      fs.chmodSync(f, mode);
      fs.utimesSync(f, 1_700_000_000 + i, 1_700_000_000 + i + 0.5);
      i++;
    }
  }
  const emptyXattr = path.join(root, 'd', 'empty-xattr');
  fs.writeFileSync(emptyXattr, '');
  sys.lsetxattr(Buffer.from(emptyXattr), Buffer.from('user.note'), Buffer.from('v'));
  const acl = path.join(root, 'd', 'acl');
  fs.writeFileSync(acl, 'acl\n');
  fs.chmodSync(acl, 0o600);
  sys.lsetxattr(Buffer.from(acl), Buffer.from('system.posix_acl_access'), accessAcl());
  for (const [name, mode, uid, gid] of [['dir-other', 0o750, 1000, 4321], ['dir-setgid', 0o2775, 0, 0], ['dir-readonly', 0o555, 0, 0]] as const) {
    const d = path.join(root, name);
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'f'), 'x');
    fs.chownSync(d, uid, gid);
    fs.chmodSync(d, mode);
  }
}

test('extract_skips_only_calls_that_change_nothing: owners, modes, ACL, setgid target, empty files by name (extract_empty_files_by_name); main thread and workers', async (t) => {
  if (!needRoot(t)) return;
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-xcalls-'));
  try {
    const src = path.join(d, 'src');
    makeTree(src);
    const want = await snapshotTree(src);
    const img = path.join(d, 'img');
    await buildImage(img, { dir: src }, defaultBuildOptions({
      uuid: new Uint8Array(16), workers: 1,
      compression: { codec: parseCompressor('lz4'), pclusterSize: 4096, ztailpacking: false, dedupe: false, legacyIndexes: false },
    }));
    const image = ErofsImage.open(img);
    try {
      // By default an image this small (a few MB) is written on this thread alone.
      for (const workers of [undefined, 1]) {
        for (const setgidTarget of [false, true]) {
          const out = path.join(d, `x${workers}${setgidTarget ? 'g' : ''}`);
          if (setgidTarget) {
            // An existing empty target of another group with the setgid bit: new entries take its group.
            fs.mkdirSync(out);
            fs.chownSync(out, 0, 777);
            fs.chmodSync(out, 0o2777);
          }
          const stats = extract(image, out, { workers });
          assert.equal(stats.workers, workers ?? 0);
          assertSameTree(want, await snapshotTree(out));
        }
      }
    } finally {
      image.close();
    }
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
