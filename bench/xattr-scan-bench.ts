// `npm run bench:xattrs [-- --files N] [--keep DIR]`: peak memory of reading a tree's xattrs. Makes
// N files (default 1,000,000, in directories of 1000), each with a security.selinux label, then scans
// it in a fresh process with and without xattrs and prints each scan's time and peak RSS. Needs root
// (security.* xattrs). The README's figure compares it with the getfattr -R dump it replaced.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { runEntry } from '../src/cli/entry.js';
import { UserError } from '../src/errors.js';
import { scanDirectory } from '../src/source/dir-scanner.js';
import * as sys from '../src/sys/libc.js';

const args = process.argv.slice(2);
const opt = (name: string, def?: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };

async function scanChild(root: string, xattrs: boolean): Promise<void> {
  const t0 = performance.now();
  const tree = await scanDirectory(root, { xattrs, excludePaths: [], excludeRegexes: [] });
  let n = 0;
  let withX = 0;
  const walk = (i: typeof tree): void => { n++; if (i.xattrs.length) withX++; if (i.entries) for (const c of i.entries.inodes) walk(c); };
  walk(tree);
  process.stdout.write(`xattrs ${xattrs ? 'read' : 'off '}: ${n} inodes, ${withX} with xattrs, ${((performance.now() - t0) / 1000).toFixed(1)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB\n`);
}

async function main(): Promise<void> {
  if (args[0] === '--child') return scanChild(args[1], args[2] === '1');
  if (process.getuid?.() !== 0) throw new UserError('run as root (security.* xattrs)');
  const files = Number(opt('--files', '1000000'));
  const keep = opt('--keep');
  const root = keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'forge-xattr-bench-'));
  try {
    if (!fs.existsSync(path.join(root, '.complete'))) {
      const label = Buffer.from('system_u:object_r:usr_t:s0\0');
      const name = Buffer.from('security.selinux');
      for (let k = 0; k < files; k++) {
        const dir = path.join(root, `d${String(Math.floor(k / 1000)).padStart(4, '0')}`);
        if (k % 1000 === 0) fs.mkdirSync(dir, { recursive: true });
        const p = path.join(dir, `f${String(k % 1000).padStart(3, '0')}`);
        fs.closeSync(fs.openSync(p, 'w'));
        sys.lsetxattr(Buffer.from(p), name, label);
      }
      fs.writeFileSync(path.join(root, '.complete'), '');
    }
    const self = fileURLToPath(import.meta.url);
    for (const x of ['0', '1']) {
      const r = spawnSync(process.execPath, [self, '--child', root, x], { stdio: ['ignore', 'inherit', 'inherit'] });
      if (r.status !== 0) throw new UserError(`scan failed (exit ${r.status})`);
    }
  } finally {
    if (!keep) fs.rmSync(root, { recursive: true, force: true });
  }
}

await runEntry('bench:xattrs', main);
