// The fixture tree (fixtures/tree) in a temp dir, as golden images and snapshots build it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { REPO_ROOT } from './tools.js';

/** Copy fixtures/tree with normalised modes (git keeps only the executable bit; umask varies). */
export function fixtureCopy(): { dir: string; cleanup: () => void } {
  const tmp = fs.mkdtempSync(path.join(tmpdir(), 'forge-golden-'));
  const dir = path.join(tmp, 'tree');
  fs.cpSync(path.join(REPO_ROOT, 'fixtures', 'tree'), dir, { recursive: true, verbatimSymlinks: true });
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      fs.chmodSync(p, 0o755);
      for (const n of fs.readdirSync(p)) walk(path.join(p, n));
    } else {
      fs.chmodSync(p, st.mode & 0o100 ? 0o755 : 0o644);
    }
  };
  walk(dir);
  return { dir, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}
