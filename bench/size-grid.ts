/**
 * Size grid against mkfs.erofs 1.9.3 (issue 18 point 5): builds SOURCE with both programs for
 * every line of -C {16384,65536,262144} x {lz4, lz4hc, lz4hc,12} x {plain, -Eztailpacking,
 * -Ededupe} and prints the image sizes and their ratio (erofs-forge / mkfs.erofs).
 *
 *   EROFS_UTILS_BIN=... node dist/bench/size-grid.js SOURCE [--pcluster 16384,65536]
 *        [--alg lz4,lz4hc,lz4hc:12] [--ext plain,ztailpacking,dedupe] [--workers N] [--keep DIR]
 *
 * Both get the same -T0 -U (fixed) and --workers; the images are deleted unless --keep is given.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRatio } from './ratio.js';

function argValue(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const src = process.argv[2];
if (!src || src.startsWith('--')) {
  console.error('usage: size-grid SOURCE [--pcluster LIST] [--alg LIST] [--ext LIST] [--workers N] [--keep DIR]');
  process.exit(2);
}
const bin = process.env.EROFS_UTILS_BIN ?? '/work/shared/tools/erofs-utils-1.9.3/bin';
const forge = resolve(fileURLToPath(import.meta.url), '../../../bin/erofs-forge.js');
const pclusters = argValue('--pcluster', '16384,65536,262144').split(',').map(Number);
const algs = argValue('--alg', 'lz4,lz4hc,lz4hc:12').split(',').map((a) => a.replace(':', ','));
const exts = argValue('--ext', 'plain,ztailpacking,dedupe').split(',');
const workers = argValue('--workers', '2');
const keep = argValue('--keep', '');
const dir = keep || mkdtempSync(join(tmpdir(), 'size-grid-'));

function run(cmd: string, args: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e9;
}

console.log(['line', 'mkfs.erofs', 'erofs-forge', 'ratio', 't_mkfs', 't_forge'].join('\t'));
let worst = 0;
for (const C of pclusters) {
  for (const alg of algs) {
    for (const ext of exts) {
      const line = ['-z' + alg, '-C' + C, ...(ext === 'plain' ? [] : ['-E' + ext]), '-T0', '-U', '6a1f4c3e-2b7d-4e9a-8c5f-0d1e2f3a4b5c', `--workers=${workers}`];
      const tag = line.slice(0, ext === 'plain' ? 2 : 3).join(' ');
      const a = join(dir, 'ref.img');
      const b = join(dir, 'forge.img');
      rmSync(a, { force: true });
      rmSync(b, { force: true });
      const ta = run(join(bin, 'mkfs.erofs'), ['--quiet', ...line, a, src]);
      const tb = run(process.execPath, [forge, 'mkfs', '--quiet', ...line, b, src]);
      const sa = statSync(a).size;
      const sb = statSync(b).size;
      worst = Math.max(worst, sb / sa);
      console.log([tag, sa, sb, formatRatio(sb, sa), ta.toFixed(2), tb.toFixed(2)].join('\t'));
      if (keep) {
        spawnSync('mv', [a, join(dir, `ref${tag.replace(/[ ,]/g, '_')}.img`)]);
        spawnSync('mv', [b, join(dir, `forge${tag.replace(/[ ,]/g, '_')}.img`)]);
      }
    }
  }
}
console.log(`worst ratio ${worst.toFixed(6)}`);
if (!keep) rmSync(dir, { recursive: true, force: true });
