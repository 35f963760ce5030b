// The mkfs.erofs-compatible command against mkfs.erofs 1.9.3, line by line: the argument vectors
// real pipelines pass (containerd, systemd-repart/mkosi, Buildroot, dracut, Yocto, kata, Android
// build_image.py) and variants of their syntax. Accepted lines: same exit status, both images
// clean under fsck.erofs 1.9.3, both mounted by the kernel and equal to each other and to the
// source. Refused lines: exit status and message. Ours runs through a link named mkfs.erofs.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { withMount } from './helpers/mount.js';
import { snapshotTree, type TreeSnapshot } from './helpers/snapshot.js';
import { LINES, UUID, argvOf, compareLine, isTarIndex, writeLineFiles, type Line, type LineFiles } from './helpers/mkfs-lines.js';
import { FORGE_BIN, findTool, needMount, needRoot, needVersion, run } from './helpers/tools.js';
import { pseudoRandom } from './helpers/tricky-tree.js';
import { getoptLong } from '../src/cli/getopt.js';
import { ErofsImage } from '../src/read/image.js';
import { compressedExtents } from '../src/read/zdata.js';
import { parseMkfsArgs, MKFS_LONGS, MKFS_SHORTS, cNumber } from '../src/cli/mkfs-args.js';
import { parseFileContexts, lookupContext, selabelPath } from '../src/source/file-contexts.js';
import { parseFsConfig, fsConfigKey, capabilityXattr } from '../src/source/android-fs-config.js';
import { wordText } from './helpers/noise.js';
import { codecUnavailable } from '../src/compress/codec.js';


let dir = '';
let src = '';
let tarFile = '';
let ourMkfs = '';
let files: LineFiles;

const WORDS = 'usr lib bin share locale systemd erofs image kernel page the of a an'.split(' ');
const words = (n: number, seed: number): Buffer => wordText(n, seed, WORDS, 9);

test.before(() => {
  dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-mkfs-'));
  src = path.join(dir, 'src');
  // A small rootfs-like tree: text and binary files around block boundaries, symlinks, a hard link,
  // setuid, other owners, user xattrs, an empty directory.
  for (const d of ['bin', 'lib/x86_64', 'etc/ssl', 'usr/share/doc', 'empty']) fs.mkdirSync(path.join(src, d), { recursive: true });
  fs.writeFileSync(path.join(src, 'bin/tool'), pseudoRandom('mkfs-tool', 70_000));
  fs.chmodSync(path.join(src, 'bin/tool'), 0o4755);
  fs.linkSync(path.join(src, 'bin/tool'), path.join(src, 'bin/tool-link'));
  fs.writeFileSync(path.join(src, 'lib/x86_64/libz.so.1'), Buffer.concat([words(50_000, 2), pseudoRandom('mkfs-lib', 20_000)]));
  fs.symlinkSync('libz.so.1', path.join(src, 'lib/x86_64/libz.so'));
  fs.writeFileSync(path.join(src, 'etc/ssl/openssl.cnf'), words(10_000, 3));
  fs.writeFileSync(path.join(src, 'etc/hostname'), 'forge\n');
  fs.writeFileSync(path.join(src, 'etc/zeros'), Buffer.alloc(4096 * 5));
  fs.writeFileSync(path.join(src, 'etc/4096'), words(4096, 4));
  fs.writeFileSync(path.join(src, 'usr/share/doc/README'), words(200_000, 5));
  fs.writeFileSync(path.join(src, 'usr/share/doc/empty'), '');
  fs.chownSync(path.join(src, 'usr/share/doc/README'), 1000, 1000);
  fs.chownSync(path.join(src, 'etc/ssl'), 0, 101);
  run('setfattr', ['-n', 'user.origin', '-v', 'forge', path.join(src, 'etc/hostname')]);
  tarFile = path.join(dir, 'layer.tar');
  // An OCI layer: the tree plus an aufs whiteout, as containerd streams it.
  fs.writeFileSync(path.join(src, '.wh.removed'), '');
  const r = run('tar', ['--xattrs', '--numeric-owner', '-C', src, '-cf', tarFile, '.']);
  fs.unlinkSync(path.join(src, '.wh.removed'));
  assert.equal(r.status, 0, r.stderr);
  files = writeLineFiles(src, path.join(dir, 'line-files'), tarFile);
  ourMkfs = path.join(dir, 'mkfs.erofs');
  fs.symlinkSync(FORGE_BIN, ourMkfs);
});

test.after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// ---- argument syntax (no tools needed) -------------------------------------------------------

test('getopt_long as glibc: permutation, unique prefixes, ambiguity, clusters, "--", POSIXLY_CORRECT', () => {
  const g = (argv: string[], env = {}) => getoptLong(argv, MKFS_SHORTS, MKFS_LONGS, env);
  // systemd-repart puts --quiet after NODE ROOT.
  let r = g(['-U', UUID, 'img', 'root', '--quiet']);
  assert.deepEqual(r.operands, ['img', 'root']);
  assert.deepEqual(r.items.map((i) => ('key' in i ? [i.key, i.value] : i.error)), [['U', UUID], ['quiet', undefined]]);
  r = g(['--so=none', '--t', '--ti', '--un']);
  assert.deepEqual(r.items.map((i) => ('key' in i ? [i.key, i.value] : i.error)), [
    ['sort', 'none'], ['tar', undefined], "unrecognized option '--ti'",
    "option '--un' is ambiguous; possibilities: '--ungzip' '--unlzma' '--unxz'",
  ]);
  // --gz is --gzip or --gzinfo: ambiguous; --unl is --unlzma.
  assert.ok('error' in g(['--gz']).items[0]);
  assert.deepEqual(g(['--unl=x']).items[0], { key: 'unxz', spelled: '--unlzma', value: 'x' });
  // Short clusters and glued values; a required value may start with '-'.
  r = g(['-zlz4hc,9', '-C', '65536', '-Vh', '-T', '-1', '-Enoinline_data']);
  assert.deepEqual(r.items.map((i) => ('key' in i ? [i.key, i.value ?? null] : i.error)), [
    ['z', 'lz4hc,9'], ['C', '65536'], ['V', null], ['h', null], ['T', '-1'], ['E', 'noinline_data'],
  ]);
  // Optional values only after "=": a bare --tar does not take IMAGE.
  r = g(['--tar', 'img', '--ovlfs-strip', 'x']);
  assert.deepEqual(r.operands, ['img', 'x']);
  assert.deepEqual(g(['--quiet=1']).items[0], { error: "option '--quiet' doesn't allow an argument" });
  assert.deepEqual(g(['-b']).items[0], { error: "option requires an argument -- 'b'" });
  assert.deepEqual(g(['-q']).items[0], { error: "invalid option -- 'q'" });
  assert.deepEqual(g(['--', '-T0', 'x']).operands, ['-T0', 'x']);
  assert.deepEqual(g(['img', '-T0'], { POSIXLY_CORRECT: '1' }).operands, ['img', '-T0']);
});

test('mkfs.erofs values: base prefixes, k/m/g, atoi for -d, ilog2 block sizes, -E lists', () => {
  assert.deepEqual(cNumber('0x10'), { n: 16n, rest: '' });
  assert.deepEqual(cNumber('010'), { n: 8n, rest: '' });
  assert.deepEqual(cNumber('64k', true), { n: 65536n, rest: '' });
  assert.deepEqual(cNumber(''), { n: 0n, rest: '' });
  assert.deepEqual(cNumber('0x'), { n: 0n, rest: 'x' });
  const p = (s: string) => parseMkfsArgs(s.split(' '), {});
  let a = p('-T0x10 -C64k -b3000 -d7junk -zlz4hc,level=12 --all-root --uid-offset=5 i s');
  assert.equal(a.timestamp, 16n);
  assert.equal(a.blockSize, 2048);
  assert.equal(a.pclusterSize, 65536);
  assert.equal(a.debug, 7);
  assert.deepEqual(a.codec, { name: 'lz4hc', level: 12 });
  assert.deepEqual([a.fixedUid, a.fixedGid, a.uidOffset], [0, 0, 5]);
  a = p('-E^inline_data,force-inode-compact,^xattr-name-filter,ztailpacking,dedupe -zlz4 i s');
  assert.deepEqual([a.inlineData, a.inodeVersion, a.ignoreMtime, a.xattrNameFilter, a.ztailpacking, a.dedupe], [false, 'compact', true, false, true, true]);
  // -E^noinline_data still disables inlining in mkfs.erofs 1.9.3; --zfeature-bits=18 = ztailpacking + dedupe.
  assert.equal(p('-E^noinline_data i s').inlineData, false);
  a = p('--zfeature-bits=18 -zlz4 i s');
  assert.deepEqual([a.ztailpacking, a.dedupe, a.legacyCompress], [true, true, false]);
  assert.equal(p('--tar i').source, '-');
  assert.equal(p('--sort=path --tar=f i -').sortNone, false);
  assert.equal(p('--sort=none --tar=f i -').sortNone, true);
  assert.equal(p('--mount-point=/system/ i s').mountPoint, '/system');
  // -V / -h act where getopt meets them.
  assert.equal(p('-V --bogus').action, 'version');
  assert.throws(() => p('--bogus -V'), /unrecognized option '--bogus'/);
  for (const [line, msg] of [
    ['-Efoo i s', /^unknown extended option foo$/], ['-Eztailpacking= i s', /invalid extended option/],
    ['-d10 i s', /^invalid debug level 10$/], ['-b 256 i s', /^invalid block size 256$/], ['-b 8192 i s', /-b 8192: erofs-forge writes blocks/],
    ['-C 1000 i s', /^invalid physical clustersize 1000$/], ['-L 0123456789abcdef i s', /^invalid volume label$/],
    ['-Uxyz i s', /^invalid UUID xyz$/], ['i', /^missing argument: SOURCE\(s\)$/], ['i s t', /^unexpected argument: t$/],
    ['-zlz4 -Efragments=1000 i s', /^invalid pcluster size for the packed file 1000$/],
    ['-zlz4 -Efragments=8192 i s', /^pcluster size \(2 blocks\) for packed inode exceeds maximum$/], ['-Efragments=4x i s', /^invalid pcluster size 4x for the packed file$/],
    ['--tar=i,map i', /^--tar=i,map: tar block map files/],
    ['--chunksize=3000 i s', /^chunksize 3000 must be a power of two$/], ['-b4096 --chunksize=2048 i s', /^chunksize 2048 must be larger than block size$/],
    ['--chunksize=4k i s', /^invalid chunksize 4k$/], ['-zbogus i s', /^-z bogus: unknown algorithm/],
    ['--dsunit=x i s', /^invalid dsunit x$/], ['--max-extent-bytes=4x i s', /^invalid maximum compressed extent size 4x$/],
  ] as const) {
    assert.throws(() => p(line), (e: Error) => msg.test(e.message), line);
  }
  // Without -z, fragments change nothing in mkfs.erofs 1.9.3: accepted.
  assert.equal(p('-C 65536 -E fragments -x -1 i s').fragments, true);
  a = p('-zlz4 -C65536 -Eall-fragments=16k,fragdedupe=inode i s');
  assert.deepEqual([a.fragments, a.allFragments, a.packedPclusterSize, a.fragdedupe], [true, true, 16384, 'inode']);
  a = p('-zlz4 -Efragments,^fragdedupe,^all-fragments i s');
  assert.deepEqual([a.fragments, a.allFragments, a.fragdedupe], [false, false, 'off']);
  a = p('-zlz4hc,12:lzma,109 --compress-hints=f i s');
  assert.deepEqual([a.codec, a.alternatives, a.compressHints], [{ name: 'lz4hc', level: 12 }, [{ name: 'lzma', level: 109 }], 'f']);
  // -zlibdeflate: mkfs.erofs 1.9.3's libdeflate encoder writes DEFLATE too; levels 0..12 (default 1,
  // as its deflate), 13 refused. Ours writes it with our DEFLATE encoder one level up (its L packs like our L+1), 9..12 at our 9.
  assert.deepEqual(p('-zlibdeflate i s').codec, { name: 'deflate', level: 2 });
  assert.deepEqual(p('-zlibdeflate,level=6 i s').codec, { name: 'deflate', level: 7 });
  assert.deepEqual(p('-zlibdeflate,0 i s').codec, { name: 'deflate', level: 0 });
  assert.deepEqual(p('-zlibdeflate,12:lz4 i s').codec, { name: 'deflate', level: 9 });
  assert.throws(() => p('-zlibdeflate,level=13 i s'), (e: Error) => /^invalid compression level 13$/.test(e.message));
  // -zdeflate: mkfs.erofs's default level is 1 (the help says so); level 0 is refused there
  assert.deepEqual(p('-zdeflate i s').codec, { name: 'deflate', level: 1 });
  assert.throws(() => p('-zdeflate,0 i s'), (e: Error) => /^invalid compression level 0 for deflate/.test(e.message));
  // --zfeature-bits: bit 2 fragments, bit 3 all-fragments.
  a = p('--zfeature-bits=12 -zlz4 i s');
  assert.deepEqual([a.fragments, a.allFragments], [true, true]);
});

test('file_contexts: anchored regexes, last match wins, exact paths win over regexes, type qualifiers, <<none>>', () => {
  const fc = parseFileContexts([
    '# comment', '',
    '/system(/.*)?          u:object_r:system_file:s0',
    '/system/bin(/.*)?      u:object_r:system_bin:s0',
    '/system/bin/sh         u:object_r:shell_exec:s0',
    '/system/bin/.*         -- u:object_r:exec_any:s0',
    '/system/lib           -d u:object_r:lib_dir:s0',
    '/system/bin/unlab.*    <<none>>',
    '/system/etc/host\\.conf u:object_r:hostconf:s0',
    '/system/etc/.*         u:object_r:etc_any:s0',
  ].join('\n'), 'fc');
  const look = (p: string, k: 'reg' | 'dir' | 'lnk' = 'reg') => lookupContext(fc, p, k);
  assert.equal(look('/system/bin/sh'), 'u:object_r:shell_exec:s0'); // exact beats the later regex
  assert.equal(look('/system/bin/ls'), 'u:object_r:exec_any:s0'); // last matching regex
  assert.equal(look('/system/bin/ls', 'lnk'), 'u:object_r:system_bin:s0'); // "--" only for regular files
  assert.equal(look('/system/bin'), 'u:object_r:system_bin:s0');
  assert.equal(look('/system/lib', 'dir'), 'u:object_r:lib_dir:s0');
  assert.equal(look('/system/lib', 'reg'), 'u:object_r:system_file:s0');
  assert.equal(look('/system/bin/unlabelled'), null);
  assert.equal(look('/system/etc/host.conf'), 'u:object_r:hostconf:s0'); // "\." keeps a spec exact
  assert.equal(look('/systemd'), null); // anchored at both ends
  assert.equal(look('/system//bin//sh'), 'u:object_r:shell_exec:s0');
  assert.equal(selabelPath('', 'system'), '/system/');
  assert.equal(selabelPath('bin/sh', undefined), '/bin/sh');
});

test('canned fs_config: root lines, quoted names, last entry wins, capabilities, mount point keys', () => {
  const m = parseFsConfig([
    ' 0 0 755', 'system/bin 0 2000 751', 'system/bin/ping 0 2000 0750 capabilities=0x2000',
    "'system/a b' 1000 1000 0644 selabel=x", 'system/bin 0 2000 0755',
  ].join('\n'), 'fs_config');
  assert.deepEqual(m.get(''), { uid: 0, gid: 0, mode: 0o755, capabilities: 0n });
  assert.deepEqual(m.get('system/bin'), { uid: 0, gid: 2000, mode: 0o755, capabilities: 0n });
  assert.equal(m.get('system/bin/ping')!.capabilities, 0x2000n);
  assert.ok(m.has("'system/a b'"));
  assert.equal(fsConfigKey('', 'system'), '');
  assert.equal(fsConfigKey('bin/ping', '/system'), 'system/bin/ping');
  assert.equal(fsConfigKey('bin/ping', undefined), 'bin/ping');
  assert.equal(capabilityXattr(0x2000n).toString('hex'), '01000002' + '00200000' + '00000000' + '00000000' + '00000000');
});

// ---- the real lines, against mkfs.erofs 1.9.3 -------------------------------------------------

/** Each regular file's first data block (flat, first pcluster, first stored chunk), by path. */
function dataStarts(image: string): Map<string, number> {
  const e = ErofsImage.open(image);
  const out = new Map<string, number>();
  try {
    e.walk((p, ino) => {
      if (ino.kind !== 'reg' || ino.size === 0) return;
      let first: number | undefined;
      if (ino.datalayout === 0 || ino.datalayout === 2) {
        if (ino.size >= e.blockSize || ino.datalayout === 0) first = ino.u;
      } else if (ino.datalayout === 1 || ino.datalayout === 3) {
        for (const x of compressedExtents(e, ino)) if (x.kind !== 'fragment' && !x.inline) { first = x.pa / e.blockSize; break; }
      } else {
        first = e.chunkMap(ino).blocks.find((b) => b !== 0xffffffff);
      }
      if (first !== undefined) out.set(p.toString(), first);
    });
  } finally {
    e.close();
  }
  return out;
}

function runLine(bin: string, l: Line, img: string) {
  return run(bin, argvOf(l, files, img), { env: { SOURCE_DATE_EPOCH: undefined, ...l.env }, input: l.tar === 'stdin' ? fs.readFileSync(tarFile) : undefined });
}

async function mountedSnapshot(img: string): Promise<TreeSnapshot> {
  return withMount(img, (d) => snapshotTree(d, { skipRootMtime: true }));
}

for (const l of LINES) {
  test(`mkfs line (${l.who}): ${l.argv.join(' ')}`, async (t) => {
    const ref = findTool('mkfs.erofs');
    if (!needVersion(t, ref, '1.9.3', 'mkfs.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
    const work = fs.mkdtempSync(path.join(dir, 'line-'));
    const refImg = path.join(work, 'ref.img');
    const ourImg = path.join(work, 'our.img');
    const r = runLine(ref, l, refImg);
    const o = runLine(ourMkfs, l, ourImg);
    if (l.refuse) {
      assert.equal(r.status, l.refStatus, `mkfs.erofs 1.9.3: ${r.stderr}`);
      assert.equal(o.status, 1, o.stderr);
      const lines = o.stderr.trim().split('\n');
      assert.equal(lines.length, 1, o.stderr);
      assert.match(lines[0], l.refuse);
      assert.equal(o.stdout.length, 0);
      assert.ok(!fs.existsSync(ourImg), 'no image left behind');
      return;
    }
    // A default mkfs.erofs 1.9.3 build (no libselinux, no WITH_ANDROID) refuses the Android line; some crash it.
    assert.equal(r.status, l.refFails ? l.refFails.status : 0, `mkfs.erofs 1.9.3: ${r.stderr}`);
    assert.equal(o.status, 0, `ours: ${o.stderr}`);
    const built = l.refFails ? [ourImg] : [refImg, ourImg];
    if (l.argv.includes('--quiet')) assert.equal(o.stdout.length, 0, '--quiet prints nothing');
    if (isTarIndex(l)) {
      // A tar index image reads its file data from the tar the caller appends.
      for (const img of built) fs.appendFileSync(img, fs.readFileSync(tarFile));
    }
    const fsck = findTool('fsck.erofs')!;
    for (const img of built) {
      const f = run(fsck, [img]);
      assert.equal(f.status, 0, `fsck.erofs ${path.basename(img)}: ${f.stderr}`);
    }
    if (l.maxExtent) {
      for (const img of built) {
        const e = ErofsImage.open(img);
        let longest = 0;
        try {
          e.walk((_p, ino) => {
            if (ino.kind !== 'reg' || (ino.datalayout !== 1 && ino.datalayout !== 3)) return;
            for (const x of compressedExtents(e, ino)) if (x.kind === 'compressed') longest = Math.max(longest, x.llen);
          });
        } finally {
          e.close();
        }
        assert.equal(longest, l.maxExtent, `${path.basename(img)}: longest compressed extent`);
      }
    }
    if (l.dsunit) {
      for (const img of built) {
        const starts = dataStarts(img);
        assert.ok(starts.size >= 3, `${path.basename(img)}: files with data`);
        const off = [...starts].filter(([, b]) => b % l.dsunit! !== 0);
        assert.deepEqual(off, [], `${path.basename(img)}: data not on ${l.dsunit}-block units`);
      }
    }
    if (!needRoot(t) || !needMount(t)) return;
    const d = compareLine(l, {
      ref: l.refFails ? undefined : await mountedSnapshot(refImg),
      ours: await mountedSnapshot(ourImg),
      source: await snapshotTree(src, { skipRootMtime: true }),
    });
    assert.deepEqual(d.refVsOurs, [], 'mkfs.erofs 1.9.3\'s mount vs ours');
    assert.deepEqual(d.oursVsSource, [], 'our mount vs the source');
    fs.rmSync(work, { recursive: true, force: true });
  });
}

test('tar on stdin redirected from a file (containerd, kata): same image as through a pipe, also from a mid-file offset', () => {
  const tarBytes = fs.readFileSync(tarFile);
  // From the second member's header on it is a tar too (the first: "./" or its pax header).
  const second = 512 + Math.ceil(parseInt(tarBytes.subarray(124, 136).toString('latin1'), 8) / 512) * 512;
  for (const mode of ['--tar=i', '--tar=f']) {
    const argv = (img: string) => [mode, '--aufs', '--quiet', '-T0', '-Uclear', img];
    for (const skip of [0, second]) {
      const piped = path.join(dir, `stdin-pipe-${skip}.img`);
      const redirected = path.join(dir, `stdin-file-${skip}.img`);
      const p = run(ourMkfs, argv(piped), { input: tarBytes.subarray(skip), env: { SOURCE_DATE_EPOCH: undefined } });
      assert.equal(p.status, 0, p.stderr);
      const fd = fs.openSync(tarFile, 'r');
      try {
        // The child inherits the offset: a redirected stdin that was read from before (no pread from 0 then).
        if (skip) fs.readSync(fd, Buffer.alloc(skip), 0, skip, null);
        const env = { ...process.env };
        delete env.SOURCE_DATE_EPOCH;
        const r = spawnSync(ourMkfs, argv(redirected), { stdio: [fd, 'pipe', 'pipe'], env });
        assert.equal(r.status, 0, r.stderr?.toString());
      } finally {
        fs.closeSync(fd);
      }
      assert.ok(fs.readFileSync(piped).equals(fs.readFileSync(redirected)), `${mode}, stdin at ${skip}: same bytes`);
    }
  }
});

test('--help lists every option it takes (containerd probes for "--tar="), -V names the mkfs.erofs version', () => {
  const h = run(process.execPath, [FORGE_BIN, 'mkfs', '--help']);
  assert.equal(h.status, 0);
  const text = h.stdout.toString();
  assert.match(text, /--tar=/);
  for (const o of MKFS_LONGS) assert.ok(text.includes(`--${o.name}`), `--help mentions --${o.name}`);
  for (const c of 'bdxzCELTUVh') assert.ok(text.includes(` -${c}`), `--help mentions -${c}`);
  const v = run(process.execPath, [FORGE_BIN, 'mkfs', '-V']);
  assert.equal(v.status, 0);
  assert.match(v.stdout.toString(), /^mkfs\.erofs \(erofs-forge [\d.]+\) 1\.9\.3\n/);
  // Every compressor it writes on this Node, in mkfs.erofs 1.9.3's order (the line used to stop at deflate).
  const zstd = codecUnavailable('zstd') === null;
  assert.match(v.stdout.toString(), new RegExp(`\\navailable compressors: lz4, lz4hc, lzma, deflate${zstd ? ', zstd' : ''}\\n$`));
  // erofs-forge's own CLI is unchanged: build still refuses mkfs-only spellings.
  assert.notEqual(run(process.execPath, [FORGE_BIN, 'build', '--so=none', 'x', 'y']).status, 0);
});

test('Android build_image.py line: canned fs_config, file_contexts, block list, mount point', async (t) => {
  const work = fs.mkdtempSync(path.join(dir, 'android-'));
  const fsConfig = path.join(work, 'fs_config');
  const entries: string[] = [' 0 0 755'];
  const rels: string[] = [];
  const walk = (rel: string) => {
    for (const n of fs.readdirSync(path.join(src, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      rels.push(r);
      if (fs.lstatSync(path.join(src, r)).isDirectory()) walk(r);
    }
  };
  walk('');
  for (const r of rels) {
    const cap = r === 'bin/tool' ? ' capabilities=0x3000' : '';
    entries.push(`system/${r} ${r.startsWith('etc') ? 1000 : 0} 2000 ${r.startsWith('bin/') ? '0750' : fs.lstatSync(path.join(src, r)).isDirectory() ? '0755' : '0644'}${cap}`);
  }
  fs.writeFileSync(fsConfig, entries.join('\n') + '\n');
  const fc = path.join(work, 'file_contexts');
  fs.writeFileSync(fc, [
    '/system(/.*)?            u:object_r:system_file:s0',
    '/system/bin(/.*)?        u:object_r:system_exec:s0',
    '/system/bin/tool-link    u:object_r:link_exact:s0',
    '/system/etc/.*           -- u:object_r:etc_file:s0',
    '/system/usr/share/doc/empty <<none>>',
  ].join('\n') + '\n');
  const blockList = path.join(work, 'block_list');
  const img = path.join(work, 'system.img');
  const argv = ['-z', 'lz4hc,9', '-b', '4096', '--mount-point', 'system', '--product-out', work, '--fs-config-file', fsConfig,
    '--file-contexts', fc, '-T', '1700000000', '-U', UUID, '--block-list-file', blockList, '-C', '65536', img, src];
  const o = run(ourMkfs, argv);
  assert.equal(o.status, 0, o.stderr);
  const ref = findTool('mkfs.erofs');
  if (ref && needVersion(t, ref, '1.9.3', 'mkfs.erofs 1.9.3')) {
    // A default 1.9.3 build has neither libselinux nor WITH_ANDROID: it refuses the line.
    const r = run(ref, argv.map((w) => (w === img ? path.join(work, 'ref.img') : w)));
    assert.equal(r.status, 1);
  }
  const fsck = findTool('fsck.erofs');
  if (fsck) assert.equal(run(fsck, [img]).status, 0);
  // Block list: "/system/PATH RANGES", ranges inside the image, in block order.
  const lines = fs.readFileSync(blockList, 'utf8').trim().split('\n');
  const imgBlocks = fs.statSync(img).size / 4096;
  let last = -1;
  for (const line of lines) {
    const m = /^\/system\/(\S+)((?: \d+(?:-\d+)?)+)$/.exec(line);
    assert.ok(m, line);
    assert.ok(fs.statSync(path.join(src, m[1])).isFile(), line);
    const first = Number(m[2].trim().split(/[ -]/)[0]);
    assert.ok(first > last && first < imgBlocks, line);
    last = first;
  }
  assert.ok(lines.some((l) => l.startsWith('/system/usr/share/doc/README ')));
  if (!needRoot(t) || !needMount(t)) return;
  const snap = await withMount(img, (d) => snapshotTree(d, { skipRootMtime: true }));
  const get = (p: string) => snap.entries.get(p)!;
  assert.deepEqual([get('bin/tool').uid, get('bin/tool').gid, get('bin/tool').mode], [0, 2000, 0o750]);
  assert.deepEqual([get('etc/hostname').uid, get('etc/hostname').mode], [1000, 0o644]);
  assert.equal(get('').mode, 0o755);
  assert.equal(get('bin/tool').xattrs!.get('security.capability')!.toString('hex'), capabilityXattr(0x3000n).toString('hex'));
  assert.equal(get('bin/tool').xattrs!.get('security.selinux')!.toString(), 'u:object_r:system_exec:s0');
  assert.equal(get('lib/x86_64/libz.so').xattrs!.get('security.selinux')!.toString(), 'u:object_r:system_file:s0');
  assert.equal(get('etc/ssl').xattrs!.get('security.selinux')!.toString(), 'u:object_r:system_file:s0');
  assert.equal(get('etc/ssl/openssl.cnf').xattrs!.get('security.selinux')!.toString(), 'u:object_r:etc_file:s0');
  assert.equal(get('usr/share/doc/empty').xattrs!.has('security.selinux'), false);
  assert.equal(get('').xattrs!.get('security.selinux')!.toString(), 'u:object_r:system_file:s0');
  assert.equal(get('etc/hostname').xattrs!.get('user.origin')!.toString(), 'forge');
  // A path missing from fs_config is fatal, as in libcutils.
  fs.writeFileSync(fsConfig, entries.filter((e) => !e.startsWith('system/etc/zeros ')).join('\n') + '\n');
  const miss = run(ourMkfs, argv);
  assert.equal(miss.status, 1);
  assert.match(miss.stderr, /^mkfs\.erofs: failed to find system\/etc\/zeros in canned fs_config/);
});
