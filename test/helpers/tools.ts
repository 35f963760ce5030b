// External tools for end-to-end tests: where they are, how to run them, and what a test does when one
// is missing (skip on a developer machine, FAIL in CI, so CI can never go green by skipping the oracles).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  accessSync, chmodSync, constants, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

/** Repository root: this file runs as dist/test/helpers/tools.js, three levels below it. */
export const REPO_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The mkfs.erofs 1.9.3 reference images: $EROFS_REFERENCE_IMAGES, else `shared/reference-images` beside
 * the checkout (CI's layout), else /work/shared/reference-images (a worktree or a clone elsewhere).
 */
export const REFERENCE_IMAGES: string = process.env.EROFS_REFERENCE_IMAGES
  ?? [join(REPO_ROOT, '..', 'shared', 'reference-images'), '/work/shared/reference-images'].find((d) => existsSync(d))
  ?? join(REPO_ROOT, '..', 'shared', 'reference-images');

/** Our CLI entry point (may not exist yet while the builder is being written). */
export const FORGE_BIN: string = join(REPO_ROOT, 'bin', 'erofs-forge.js');

/** Debian's erofs-utils 1.5 lives here; the 1.9.3 reference binaries come through EROFS_UTILS_BIN. */
const DEBIAN_BIN = '/usr/bin';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Path of an erofs-utils binary (`mkfs.erofs`, `fsck.erofs`, `dump.erofs`): `$EROFS_UTILS_BIN/name`
 * when that variable is set and the file exists, else the first match on PATH, else null.
 * `.ci/run` sets EROFS_UTILS_BIN to the 1.9.3 reference build, so CI compares against 1.9.3 even though
 * Debian's 1.5 is also on PATH.
 */
export function findTool(name: string): string | null {
  const dir = process.env.EROFS_UTILS_BIN;
  if (dir) {
    const p = join(dir, name);
    if (isExecutable(p)) return p;
  }
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (!d) continue;
    const p = join(d, name);
    if (isExecutable(p)) return p;
  }
  return null;
}

/** Debian's erofs-utils 1.5 binary (`/usr/bin/name`), or null. Used as a second, older oracle. */
export function debianTool(name: string): string | null {
  const p = join(DEBIAN_BIN, name);
  return isExecutable(p) ? p : null;
}

/** True when missing prerequisites must fail the test instead of skipping it. */
export function inCI(): boolean {
  return !!process.env.CI;
}

/**
 * Gate a test on a tool. Returns true when `path` is usable. Otherwise: in CI it throws (the test
 * fails, naming what is missing); elsewhere it marks the test skipped and returns false, and the
 * caller must `return`.
 *
 *   const mkfs = findTool('mkfs.erofs');
 *   if (!needTool(t, mkfs, 'mkfs.erofs (set EROFS_UTILS_BIN)')) return;
 */
export function needTool(t: TestContext, path: string | null, what: string): path is string {
  if (path !== null && isExecutable(path)) return true;
  return missing(t, what, path === null ? 'not found' : `${path} is not executable`);
}

function missing(t: TestContext, what: string, why: string): false {
  const msg = `needs ${what}: ${why}`;
  if (inCI()) throw new Error(`${msg} (CI is set, so a missing prerequisite is a failure, not a skip)`);
  t.skip(msg);
  return false;
}

/** Gate a test on running as root (mknod, chown, trusted.* xattrs, mount): fails in CI, skips elsewhere. */
export function needRoot(t: TestContext): boolean {
  if (process.getuid?.() === 0) return true;
  return missing(t, 'root', `running as uid ${process.getuid?.()}`);
}

/**
 * Version of an erofs-utils binary as [major, minor, patch], from `-V` ("mkfs.erofs (erofs-utils) 1.9.3";
 * fsck/dump 1.5 print "fsck.erofs 1.5"; Debian's mkfs.erofs 1.5 rejects -V but ends its usage text with
 * "mkfs.erofs 1.5"). Null when no version line is found.
 */
export function toolVersion(path: string): [number, number, number] | null {
  const r = run(path, ['-V']);
  const m = /^\S*erofs\S*(?: \(erofs-utils\))? (\d+)\.(\d+)(?:\.(\d+))?/m.exec(r.stdout.toString('latin1') + r.stderr);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

/** v >= min, comparing numerically part by part ('1.10' > '1.9'). */
export function versionAtLeast(v: readonly number[], min: string): boolean {
  const want = min.split('.').map(Number);
  for (let i = 0; i < Math.max(v.length, want.length); i++) {
    const a = v[i] ?? 0;
    const b = want[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/**
 * Gate on a tool of at least version `min` (e.g. '1.9'): findTool falls back to PATH, where Debian's
 * 1.5 lives, and 1.5 is not the reference. Same skip/fail policy as needTool.
 */
export function needVersion(t: TestContext, path: string | null, min: string, what: string): path is string {
  if (!needTool(t, path, what)) return false;
  const v = toolVersion(path);
  if (v !== null && versionAtLeast(v, min)) return true;
  return missing(t, what, `${path} is version ${v ? v.join('.') : 'unknown (< 1.6)'}, need >= ${min} (set EROFS_UTILS_BIN)`);
}

export interface RunResult {
  /** Exit status; null when killed by a signal or when the program could not be started. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  /** Set when spawning failed (ENOENT, timeout...). */
  error?: Error;
}

export interface RunOptions {
  cwd?: string;
  /** Added to (not replacing) process.env. */
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  timeoutMs?: number;
}

/**
 * spawnSync without a shell (arguments are passed as-is, so odd bytes in paths are safe).
 * stdout stays a Buffer because image dumps and `cat` output are binary.
 */
export function run(cmd: string, args: readonly (string | Buffer)[], opts: RunOptions = {}): RunResult {
  const r = spawnSync(cmd, args as string[], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    timeout: opts.timeoutMs ?? 10 * 60_000,
    maxBuffer: 1 << 30,
  });
  const res: RunResult = {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout ?? Buffer.alloc(0),
    stderr: (r.stderr ?? Buffer.alloc(0)).toString('utf8'),
  };
  if (r.error) res.error = r.error;
  return res;
}

/** Like run(), but throws (with the command and its stderr) unless the exit status is 0. */
export function runOk(cmd: string, args: readonly (string | Buffer)[], opts: RunOptions = {}): RunResult {
  const r = run(cmd, args, opts);
  if (r.status !== 0) {
    const shown = [cmd, ...args.map((a) => (typeof a === 'string' ? a : `<${a.length} bytes>`))].join(' ');
    throw new Error(
      `command failed (status ${r.status}${r.signal ? `, signal ${r.signal}` : ''}${r.error ? `, ${r.error.message}` : ''}): ${shown}\n${r.stderr}`,
    );
  }
  return r;
}

/** Runs our CLI: `node bin/erofs-forge.js ...args` from the repository root. */
export function forge(args: readonly (string | Buffer)[], opts: RunOptions = {}): RunResult {
  return run(process.execPath, [FORGE_BIN, ...args], { cwd: REPO_ROOT, ...opts });
}

// ---- running the CLI as another user ------------------------------------------------------

let sharedInstall: string | undefined;

/**
 * Our CLI as another user can run it, wherever the checkout is: a clone under a 0700 directory (root's
 * home, `mktemp -d`) cannot be read by that user, so the files the CLI loads (bin/, dist/src/, dist/wasm/,
 * package.json and the runtime dependencies, with theirs) are copied once per test process into a
 * world-readable temporary directory, removed at exit. Returns the copy's bin/erofs-forge.js.
 */
export function worldReadableForgeBin(): string {
  if (sharedInstall) return join(sharedInstall, 'bin', 'erofs-forge.js');
  const dir = mkdtempSync(join(tmpdir(), 'forge-install-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const copy = (rel: string) => cpSync(join(REPO_ROOT, rel), join(dir, rel), { recursive: true, dereference: true });
  for (const rel of ['bin', join('dist', 'src'), join('dist', 'wasm'), 'package.json']) copy(rel);
  const deps = (pkgDir: string): string[] =>
    Object.keys((JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {});
  const todo = deps(REPO_ROOT);
  const done = new Set<string>();
  while (todo.length) {
    const name = todo.pop()!;
    if (done.has(name)) continue;
    done.add(name);
    copy(join('node_modules', name));
    todo.push(...deps(join(REPO_ROOT, 'node_modules', name)));
  }
  // Directories 0755, files 0644 (what umask gave may be narrower).
  const open = (p: string): void => {
    const st = statSync(p);
    chmodSync(p, st.isDirectory() ? 0o755 : st.mode & 0o111 ? 0o755 : 0o644);
    if (st.isDirectory()) for (const n of readdirSync(p)) open(join(p, n));
  };
  open(dir);
  sharedInstall = dir;
  return join(dir, 'bin', 'erofs-forge.js');
}

// ---- kernel mount capability -------------------------------------------------------------

let mountProbe: { ok: boolean; reason: string } | undefined;

/**
 * Can this machine mount an EROFS image? Probed once per process (builds a one-file image with
 * mkfs.erofs, mounts it, reads the file back) and cached. Needs root, EROFS in the kernel and a
 * mkfs.erofs (1.9.3 via EROFS_UTILS_BIN, else Debian's).
 */
export function canMount(): { ok: boolean; reason: string } {
  if (mountProbe) return mountProbe;
  mountProbe = probeMount();
  return mountProbe;
}

function probeMount(): { ok: boolean; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not running as root' };
  const mkfs = findTool('mkfs.erofs') ?? debianTool('mkfs.erofs');
  if (!mkfs) return { ok: false, reason: 'no mkfs.erofs to build a probe image' };
  const tmp = mkdtempSync(join(tmpdir(), 'erofs-probe-'));
  const src = join(tmp, 'src');
  const img = join(tmp, 'probe.img');
  const mnt = join(tmp, 'mnt');
  try {
    mkdirSync(src);
    mkdirSync(mnt);
    writeFileSync(join(src, 'hello'), 'probe\n');
    const mk = run(mkfs, [img, src]); // no -b: Debian's 1.5 does not have it; the default is 4096
    if (mk.status !== 0) return { ok: false, reason: `${mkfs} failed: ${firstLine(mk.stderr)}` };
    const m = run('mount', ['-t', 'erofs', '-o', 'ro', img, mnt]);
    if (m.status !== 0) return { ok: false, reason: `mount -t erofs failed: ${firstLine(m.stderr)}` };
    try {
      const cat = run('cat', [join(mnt, 'hello')]);
      if (cat.stdout.toString() !== 'probe\n') return { ok: false, reason: 'probe file read back wrong' };
    } finally {
      // Never leave a mount behind: fall back to a lazy unmount.
      if (run('umount', [mnt]).status !== 0) run('umount', ['-l', mnt]);
    }
    return { ok: true, reason: 'ok' };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}

/** Gate a test on kernel mounts: fails in CI, skips elsewhere (see needTool). */
export function needMount(t: TestContext): boolean {
  const p = canMount();
  if (p.ok) return true;
  return missing(t, 'a kernel EROFS mount', p.reason);
}

/** fsck.erofs 1.9.3 finds the image clean (skipped, or failed when CI is set, without 1.9.3). */
export function assertFsckClean(t: TestContext, image: string): void {
  const fsck = findTool('fsck.erofs');
  if (!needVersion(t, fsck, '1.9.3', 'fsck.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
  const f = run(fsck, [image]);
  assert.equal(f.status, 0, `fsck.erofs: ${f.stderr}`);
}
