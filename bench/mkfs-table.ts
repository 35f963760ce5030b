/**
 * The mkfs-compat table against mkfs.erofs 1.9.3 (issue 18's closing table): every line of
 * test/helpers/mkfs-lines.ts (the table test/mkfs-compat.test.ts asserts on a small tree) run through
 * mkfs.erofs 1.9.3 and through `erofs-forge mkfs` (called as mkfs.erofs) on the same tree, or on a
 * tar of it (on stdin, or named, as the line says). Per line: accepted or refused by each, the same
 * exit status, fsck.erofs 1.9.3 on both images, mount-equal (both images mounted by the kernel,
 * compared with each other and with the source; tar index images with the tar appended first),
 * size ratio ours/theirs (a tar index image without its tar) and time ratio ours/theirs (median of
 * --runs runs each, alternating who goes first). Prints a markdown table on stdout.
 *
 *   EROFS_UTILS_BIN=... npm run bench:mkfs-table -- --tree DIR [--runs 3] [--only REGEX] [--keep]
 *
 * Needs root (mounts). Builds use the machine's CPUs as each program does by default.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { LINES, argvOf, compareLine, isTarIndex, namesFsConfig, namesWithBlanks, writeLineFiles, type Line, type LineFiles } from '../test/helpers/mkfs-lines.js';
import { snapshotTree, type TreeSnapshot } from '../test/helpers/snapshot.js';
import { withMount } from '../test/helpers/mount.js';
import { FORGE_BIN } from '../test/helpers/tools.js';
import { formatRatio } from './ratio.js';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : undefined;
}

const tree = argValue('--tree');
if (!tree || !fs.statSync(tree, { throwIfNoEntry: false })?.isDirectory()) {
  console.error('usage: mkfs-table --tree DIR [--runs N] [--only REGEX] [--keep]');
  process.exit(2);
}
const runs = Number(argValue('--runs') ?? 3);
const only = argValue('--only');
const keep = process.argv.includes('--keep');
const bin = process.env.EROFS_UTILS_BIN ?? '/work/shared/tools/erofs-utils-1.9.3/bin';
const refMkfs = path.join(bin, 'mkfs.erofs');
const fsck = path.join(bin, 'fsck.erofs');

interface Ran {
  status: number | null;
  signal: string | null;
  stderr: string;
  seconds: number;
}

/** One build; a tar on stdin comes from the file (not through this process). */
function build(cmd: string, l: Line, f: LineFiles, img: string): Ran {
  fs.rmSync(img, { force: true });
  fs.rmSync(`${img}.blocks`, { force: true });
  const stdin = l.tar === 'stdin' ? fs.openSync(f.tar, 'r') : 'ignore';
  const env: NodeJS.ProcessEnv = { ...process.env, ...l.env };
  if (!l.env?.SOURCE_DATE_EPOCH) delete env.SOURCE_DATE_EPOCH;
  const t0 = performance.now();
  const r = spawnSync(cmd, argvOf(l, f, img), { stdio: [stdin, 'ignore', 'pipe'], env, maxBuffer: 1 << 26 });
  const seconds = (performance.now() - t0) / 1000;
  if (typeof stdin === 'number') fs.closeSync(stdin);
  // A program that did not start (r.error) shows as refused with its reason, not as a crash.
  if (r.error) return { status: -1, signal: null, stderr: r.error.message, seconds };
  return { status: r.status, signal: r.signal, stderr: (r.stderr ?? Buffer.alloc(0)).toString().trim(), seconds };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const statusText = (r: Ran): string => (r.status === 0 ? 'accepted' : r.status === null ? `crashed (${r.signal})` : `refused (${r.status})`);

async function mounted(img: string): Promise<TreeSnapshot> {
  return withMount(img, (d) => snapshotTree(d, { skipRootMtime: true }));
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(tmpdir(), 'forge-mkfs-table-'));
  const rows: string[] = [];
  try {
    const src = path.resolve(tree!);
    const tar = path.join(work, 'tree.tar');
    const t = spawnSync('tar', ['--xattrs', '--numeric-owner', '-C', src, '-cf', tar, '.'], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (t.status !== 0) throw new Error(`tar: ${t.stderr}`);
    const treeFiles = writeLineFiles(src, path.join(work, 'files'), tar);
    const files = treeFiles;
    const ours = path.join(work, 'mkfs.erofs');
    fs.symlinkSync(FORGE_BIN, ours);
    process.stderr.write(`tree ${src}: snapshot...\n`);
    const treeSource = await snapshotTree(src, { skipRootMtime: true });
    const source = treeSource;
    let treeBytes = 0n;
    for (const e of source.entries.values()) if (e.type === 'file') treeBytes += e.size;
    process.stderr.write(`${source.entries.size} entries, ${(Number(treeBytes) / 2 ** 20).toFixed(0)} MiB of file data; tar ${(fs.statSync(tar).size / 2 ** 20).toFixed(0)} MiB\n`);
    // A tree an Android build with a canned fs_config can take holds no name with a blank (see
    // writeLineFiles): the lines naming FSCONFIG are built from a copy without such names.
    let android: { files: LineFiles; source: TreeSnapshot; left: string[] } | undefined;
    const androidFor = async () => {
      if (android) return android;
      const left = namesWithBlanks(src);
      if (!left.length) return (android = { files, source, left });
      const copy = path.join(work, 'android-src');
      const c = spawnSync('cp', ['-a', src, copy], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (c.status !== 0) throw new Error(`cp: ${c.stderr}`);
      for (const r of left) fs.rmSync(path.join(copy, r), { recursive: true, force: true });
      // The copy's directories keep the source's mtimes (cp -a), except those an entry left.
      for (const r of left) {
        const parent = path.join(src, path.dirname(r));
        const st = fs.statSync(parent);
        fs.utimesSync(path.join(copy, path.dirname(r)), st.atime, st.mtime);
      }
      process.stderr.write(`lines naming fs_config: built from a copy without ${left.length} names with blanks: ${left.join(', ')}\n`);
      return (android = { files: writeLineFiles(copy, path.join(work, 'android-files'), tar), source: await snapshotTree(copy, { skipRootMtime: true }), left });
    };
    const refImg = path.join(work, 'ref.img');
    const ourImg = path.join(work, 'our.img');
    for (const l of LINES) {
      if (only && !new RegExp(only).test(l.who)) continue;
      const line = argvOf(l, { src: 'DIR', tar: 'layer.tar', hints: 'HINTS', hints2: 'HINTS2', fsConfig: 'fs_config', fileContexts: 'file_contexts', productOut: 'OUT' }, 'IMG')
        .map((w) => w.replace(/^IMG\.blocks$/, 'block_list')).join(' ') + (l.tar === 'stdin' ? ' < layer.tar' : '');
      const shown = Object.entries(l.env ?? {}).map(([k, v]) => `${k}=${v} `).join('') + line;
      process.stderr.write(`${l.who}: ${shown}\n`);
      const refT: number[] = [];
      const ourT: number[] = [];
      let r: Ran | undefined;
      let o: Ran | undefined;
      // Refused lines need one run each; built ones `runs`, alternating who goes first.
      const a = namesFsConfig(l) ? await androidFor() : undefined;
      const files = a?.files ?? treeFiles;
      const source = a?.source ?? treeSource;
      const n = l.refuse ? 1 : runs;
      for (let i = 0; i < n; i++) {
        const pair = i % 2 === 0 ? (['ref', 'ours'] as const) : (['ours', 'ref'] as const);
        for (const who of pair) {
          const x = who === 'ref' ? build(refMkfs, l, files, refImg) : build(ours, l, files, ourImg);
          if (who === 'ref') {
            r ??= x;
            refT.push(x.seconds);
          } else {
            o ??= x;
            ourT.push(x.seconds);
          }
        }
        // A line one of them does not build is not worth timing again.
        if (r!.status !== 0 || o!.status !== 0) break;
      }
      const refOk = r!.status === 0;
      const ourOk = o!.status === 0;
      const cells: string[] = [`${l.who}`, '`' + shown.replace(/\|/g, '\\|') + '`', statusText(r!), statusText(o!), r!.status === o!.status ? 'yes' : 'no'];
      let sizes = 'n/a';
      let fsckCell = 'n/a';
      let equal = 'n/a';
      if (ourOk) {
        const refSize = refOk ? fs.statSync(refImg).size : 0;
        const ourSize = fs.statSync(ourImg).size;
        sizes = refOk ? `${formatRatio(ourSize, refSize)} (${ourSize} / ${refSize})` : `n/a (ours ${ourSize})`;
        if (isTarIndex(l)) {
          for (const img of refOk ? [refImg, ourImg] : [ourImg]) fs.appendFileSync(img, fs.readFileSync(tar));
        }
        const fsckOf = (img: string) => spawnSync(fsck, [img], { stdio: 'ignore' }).status === 0 ? 'clean' : 'ERRORS';
        fsckCell = refOk ? `${fsckOf(refImg)} / ${fsckOf(ourImg)}` : `n/a / ${fsckOf(ourImg)}`;
        const d = compareLine(l, { ref: refOk ? await mounted(refImg) : undefined, ours: await mounted(ourImg), source });
        const show = (xs: string[]) => (xs.length ? `NO (${xs.length}: ${xs[0].slice(0, 80).replace(/\|/g, '\\|')})` : 'yes');
        equal = `${refOk ? show(d.refVsOurs) : 'n/a'} / ${show(d.oursVsSource)}`;
        for (const [k, xs] of Object.entries(d)) if (xs.length) process.stderr.write(`  ${k}: ${xs.slice(0, 5).join('\n    ')}\n`);
      }
      const time = refOk && ourOk ? `${(median(ourT) / median(refT)).toFixed(2)} (${median(ourT).toFixed(2)} s / ${median(refT).toFixed(2)} s)` : 'n/a';
      cells.push(fsckCell, equal, sizes, time);
      const why = !l.refuse && l.refFails ? ` — ${l.refFails.why}` : '';
      if (why) cells[2] += why;
      rows.push(`| ${cells.join(' | ')} |`);
      process.stderr.write(`  ${cells.slice(2).join(' | ')}\n`);
      if (!ourOk && !l.refuse) process.stderr.write(`  ours: ${o!.stderr}\n`);
    }
  } finally {
    if (!keep) fs.rmSync(work, { recursive: true, force: true });
    else process.stderr.write(`work directory kept: ${work}\n`);
  }
  console.log('| line | command line | mkfs.erofs 1.9.3 | erofs-forge mkfs | same exit status | fsck.erofs 1.9.3 (theirs / ours) | mount-equal (theirs = ours / ours = source) | size ours/theirs (bytes) | time ours/theirs (median of ' + runs + ') |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

await main();
