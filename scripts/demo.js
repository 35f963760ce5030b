// `npm start`: build an image of fixtures/tree, read every file back and compare, run fsck.erofs when
// installed, and say what happened.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build, defaultBuildOptions, openImage } from '../dist/src/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(repo, 'fixtures', 'tree');
const image = path.join(repo, 'dist', 'fixture.img');

const opts = defaultBuildOptions({ timestamp: 1700000000n, uuid: new Uint8Array(16), allRoot: true });
const res = await build(image, { dir: source }, opts);
const digest = createHash('sha256').update(fs.readFileSync(image)).digest('hex');
console.log(`built   ${path.relative(process.cwd(), image)} from fixtures/tree: ${res.inodes} inodes, ${res.imageBytes} bytes, ${res.seconds.toFixed(3)} s`);
console.log(`sha256  ${digest}`);

const img = openImage(image);
let files = 0, bytes = 0, links = 0, dirs = 0;
try {
  img.walk((rel, ino) => {
    const src = path.join(source, rel.toString());
    if (ino.kind === 'dir') { dirs++; return; }
    if (ino.kind === 'lnk') {
      if (fs.readlinkSync(src) !== img.readlink(ino).toString()) throw new Error(`${rel}: symlink target differs`);
      links++;
      return;
    }
    const want = fs.readFileSync(src);
    const got = Buffer.concat([...img.data(ino)]);
    if (!want.equals(got)) throw new Error(`${rel}: content differs from the source`);
    files++;
    bytes += got.length;
  });
} finally {
  img.close();
}
console.log(`read    ${files} files (${bytes} bytes), ${links} symlinks, ${dirs} directories: all identical to the source`);

const bin = process.env.EROFS_UTILS_BIN ? path.join(process.env.EROFS_UTILS_BIN, 'fsck.erofs') : 'fsck.erofs';
const fsck = spawnSync(bin, [image], { encoding: 'utf8' });
if (fsck.error) console.log('fsck    fsck.erofs not installed; skipped (apt-get install erofs-utils)');
else if (fsck.status === 0) console.log(`fsck    ${bin}: clean`);
else { console.log(`fsck    ${bin} failed:\n${fsck.stdout}${fsck.stderr}`); process.exitCode = 1; }
