// The few Linux system calls Node has no function for, called through libc with koffi (an FFI with
// prebuilt binaries for Linux x64/arm64, glibc and musl: `npm install` is the whole installation).
// What Node lacks: xattrs, the *at calls that keep every operation relative to a directory handle
// (confinement by construction), mknod/mkfifo, nanosecond times (fs.utimes takes a double of seconds:
// 1.7e9 s cannot carry nanoseconds) and NSS user/group look-ups. Paths and names are passed as bytes
// (Buffers), so names that are not UTF-8 reach the kernel unchanged.
const { createRequire } = process.getBuiltinModule('node:module');
const { constants: osConstants, endianness: osEndianness } = process.getBuiltinModule('node:os');
const fs = process.getBuiltinModule('node:fs');
const path = process.getBuiltinModule('node:path');
import type * as Koffi from 'koffi';


/** An errno failure, shaped like Node's own fs errors (code, syscall). */
export class SysError extends Error {
  constructor(readonly code: string, readonly errno: number, readonly syscall: string) {
    super(`${syscall} failed: ${code}`);
  }
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));

// Linux values (asm-generic and x86 agree on these; arm64 uses the generic ones too).
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const XATTR_CREATE = 1;

type Fn = (...args: unknown[]) => number;

interface Lib {
  koffi: typeof Koffi;
  /** The running program's symbols (libc's among them), for calls bound only when first used. */
  self: Koffi.LibraryHandle;
  openat: Fn; mkdirat: Fn; mknodat: Fn; symlinkat: Fn; linkat: Fn;
  fchownat: Fn; fchown: Fn; close: Fn; isatty: Fn; pwrite: Fn; fchmod: Fn; utimensat: Fn; futimens: Fn;
  llistxattr: Fn; lgetxattr: Fn; lsetxattr: Fn; fsetxattr: Fn; sendfile: Fn; copyFileRange: Fn; lseek: Fn; pread: Fn;
  getpwnam: (name: string) => unknown; getgrnam: (name: string) => unknown;
  passwd: Koffi.TypeObject; group: Koffi.TypeObject;
}

let lib: Lib | undefined;

/** How koffi was loaded: its native module by path, through its loader package, or through koffi's own entry (libc.test.ts). */
export let koffiEntry: 'dlopen' | 'native' | 'koffi' | undefined;

type KoffiNative = Partial<typeof Koffi> | undefined;
const isKoffi = (m: KoffiNative): m is typeof Koffi => !!m && ['load', 'errno', 'struct', 'decode'].every((k) => typeof m[k as keyof typeof Koffi] === 'function');

/**
 * Whether the running node's program interpreter (ELF PT_INTERP) is musl's (ld-musl-*), the fact
 * that tells koffi's glibc build from its musl build; undefined when it cannot be read (not a
 * 64-bit little-endian ELF, statically linked): the caller then lets koffi's loader choose.
 */
export function programInterpreterIsMusl(exe = process.execPath): boolean | undefined {
  let fd = -1;
  try {
    fd = fs.openSync(exe, 'r');
    const h = Buffer.alloc(64);
    // EI_CLASS 2 (64-bit), EI_DATA 1 (little-endian).
    if (fs.readSync(fd, h, 0, 64, 0) < 64 || h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return undefined;
    const phoff = Number(h.readBigUInt64LE(32));
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    if (phentsize < 56 || phnum > 256) return undefined;
    const ph = Buffer.alloc(phentsize * phnum);
    if (fs.readSync(fd, ph, 0, ph.length, phoff) < ph.length) return undefined;
    for (let k = 0; k < phnum; k++) {
      const at = k * phentsize;
      if (ph.readUInt32LE(at) !== 3 /* PT_INTERP */) continue;
      const len = Number(ph.readBigUInt64LE(at + 32));
      if (len < 1 || len > 4096) return undefined;
      const name = Buffer.alloc(len);
      if (fs.readSync(fd, name, 0, len, Number(ph.readBigUInt64LE(at + 8))) < len) return undefined;
      return path.basename(name.toString('latin1').replace(/\0+$/, '')).startsWith('ld-musl-');
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/**
 * koffi's native module by its path, found as Node would find the package koffi loads
 * (`@koromix/koffi-<platform>-<arch>`, an exact-version dependency of koffi, in koffi's own
 * node_modules or beside it), its build for this libc picked as koffi's loader picks it (the
 * `musl_*` or the `linux_*` folder, by the program interpreter). Module resolution through
 * createRequire (koffi, then its package) and the loader's script were ~4 ms of every extract; the
 * dlopen itself ~0.8 ms. undefined when anything is not as expected: the caller takes the long way.
 */
function dlopenKoffi(from: string): KoffiNative {
  if (process.platform !== 'linux') return undefined;
  const musl = programInterpreterIsMusl();
  if (musl === undefined) return undefined;
  const pkg = `@koromix/koffi-${process.platform}-${process.arch}`;
  for (let dir = from; ;) {
    if (path.basename(dir) !== 'node_modules' && fs.existsSync(path.join(dir, 'node_modules', 'koffi', 'package.json'))) {
      // Where koffi's require() of the package finds it: its own node_modules first, then beside it.
      const at = [path.join(dir, 'node_modules', 'koffi', 'node_modules', pkg), path.join(dir, 'node_modules', pkg)].find((p) => fs.existsSync(path.join(p, 'package.json')));
      if (!at) return undefined;
      const builds = fs.readdirSync(at).filter((n) => n.startsWith(musl ? 'musl_' : 'linux_'));
      if (builds.length !== 1) return undefined;
      const m = { exports: {} as KoffiNative };
      process.dlopen(m, path.join(at, builds[0], 'koffi.node'));
      return m.exports;
    }
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * koffi's native module: by its path (dlopenKoffi), else through the prebuilt package koffi itself
 * loads on this platform, else koffi's own entry. koffi's entry only wraps that module with
 * deprecation shims, and doing so copies every export of node:util, which loads what node:util loads
 * lazily, process.stderr included: 4-10 ms of every extract.
 */
function loadKoffi(): typeof Koffi {
  try {
    const m = dlopenKoffi(import.meta.dirname);
    if (isKoffi(m)) {
      koffiEntry = 'dlopen';
      return m;
    }
  } catch { /* another layout or build: the loader package */ }
  try {
    const require = createRequire(import.meta.url);
    const fromKoffi = createRequire(require.resolve('koffi'));
    const native = fromKoffi(`@koromix/koffi-${process.platform}-${process.arch}`) as KoffiNative;
    if (isKoffi(native)) {
      koffiEntry = 'native';
      return native;
    }
  } catch { /* another layout: koffi's own entry */ }
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
    koffiEntry = 'koffi';
    return koffi;
  } catch (e) {
    throw new Error(`cannot load the koffi package (run npm install): ${(e as Error).message}`);
  }
}

/** Bind lazily: commands that never touch xattrs or extract do not pay for loading the FFI. */
function L(): Lib {
  if (lib) return lib;
  const koffi = loadKoffi();
  // null: the symbols of the running program, which include libc's whatever it is called (glibc, musl).
  const c = koffi.load(null);
  const f = (proto: string) => c.func(proto) as unknown as Fn;
  lib = {
    koffi,
    self: c,
    openat: f('int openat(int dirfd, const void *path, int flags, uint32_t mode)'),
    mkdirat: f('int mkdirat(int dirfd, const void *path, uint32_t mode)'),
    mknodat: f('int mknodat(int dirfd, const void *path, uint32_t mode, uint64_t dev)'),
    symlinkat: f('int symlinkat(const void *target, int dirfd, const void *path)'),
    linkat: f('int linkat(int olddirfd, const void *oldpath, int newdirfd, const void *newpath, int flags)'),
    fchownat: f('int fchownat(int dirfd, const void *path, uint32_t uid, uint32_t gid, int flags)'),
    fchown: f('int fchown(int fd, uint32_t uid, uint32_t gid)'),
    close: f('int close(int fd)'),
    isatty: f('int isatty(int fd)'),
    pwrite: f('long pwrite(int fd, const void *buf, size_t count, int64_t offset)'),
    fchmod: f('int fchmod(int fd, uint32_t mode)'),
    utimensat: f('int utimensat(int dirfd, const void *path, const void *times, int flags)'),
    futimens: f('int futimens(int fd, const void *times)'),
    llistxattr: f('long llistxattr(const void *path, void *list, size_t size)'),
    lgetxattr: f('long lgetxattr(const void *path, const void *name, void *value, size_t size)'),
    lsetxattr: f('int lsetxattr(const void *path, const void *name, const void *value, size_t size, int flags)'),
    fsetxattr: f('int fsetxattr(int fd, const void *name, const void *value, size_t size, int flags)'),
    sendfile: f('long sendfile(int out_fd, int in_fd, void *offset, size_t count)'),
    copyFileRange: f('long copy_file_range(int fd_in, void *off_in, int fd_out, void *off_out, size_t len, uint32_t flags)'),
    lseek: f('int64_t lseek(int fd, int64_t offset, int whence)'),
    pread: f('long pread(int fd, void *buf, size_t count, int64_t offset)'),
    getpwnam: c.func('void *getpwnam(const char *name)') as unknown as (name: string) => unknown,
    getgrnam: c.func('void *getgrnam(const char *name)') as unknown as (name: string) => unknown,
    passwd: koffi.struct('erofs_forge_passwd', { pw_name: 'char *', pw_passwd: 'char *', pw_uid: 'uint32_t', pw_gid: 'uint32_t' }),
    group: koffi.struct('erofs_forge_group', { gr_name: 'char *', gr_passwd: 'char *', gr_gid: 'uint32_t' }),
  };
  return lib;
}

let unavailable = false;
/**
 * Whether libc can be called (koffi loads on this platform and installation). What only makes things
 * faster (copies in the kernel) checks this and does without; what cannot be done otherwise throws.
 */
export function libcAvailable(): boolean {
  if (lib) return true;
  if (unavailable) return false;
  try {
    L();
    return true;
  } catch {
    unavailable = true;
    return false;
  }
}

/**
 * A function of the running program that takes and returns only integers (pointers passed as
 * addresses: see addressOf), bound through koffi; undefined when koffi cannot load or the program
 * has no such symbol. The program is Node: its own OpenSSL is among its symbols (see native-digest.ts).
 */
export function programFunction(proto: string): ((...args: number[]) => unknown) | undefined {
  if (!libcAvailable()) return undefined;
  try {
    return L().self.func(proto) as unknown as (...args: number[]) => unknown;
  } catch {
    return undefined;
  }
}

/**
 * The address of a buffer's first byte, for a call that takes it as an integer. Only for buffers of
 * more than 64 bytes (smaller typed arrays may live in the V8 heap, which moves them), held by the
 * caller for as long as the address is used.
 */
export function addressOf(b: Uint8Array): number {
  if (b.byteLength <= 64) throw new Error('addressOf: a buffer of 64 bytes or less may move');
  return Number(L().koffi.address(b));
}

function fail(syscall: string): never {
  const n = L().koffi.errno();
  throw new SysError(ERRNO_NAMES.get(n) ?? `errno ${n}`, n, syscall);
}

/** NUL-terminated copy of a name or path. */
export function cstr(b: Buffer | string): Buffer {
  const s = typeof b === 'string' ? Buffer.from(b) : b;
  const out = Buffer.allocUnsafe(s.length + 1);
  s.copy(out);
  out[s.length] = 0;
  return out;
}

const check = (r: number, syscall: string): number => (r < 0 ? fail(syscall) : r);

// Two scratch buffers for the NUL-terminated copies handed to a call (one call takes at most two
// names): a fresh copy per call was most of extract's garbage (each call returns before the next
// one starts, and each thread has its own module instance).
const Z_CAP = 4096;
const zA = Buffer.allocUnsafe(Z_CAP + 1);
const zB = Buffer.allocUnsafe(Z_CAP + 1);
function z(b: Buffer, into: Buffer): Buffer {
  if (b.length > Z_CAP) return cstr(b);
  into.set(b);
  into[b.length] = 0;
  return into;
}

export const openat = (dirfd: number, name: Buffer, flags: number, mode = 0): number => check(L().openat(dirfd, z(name, zA), flags | O_CLOEXEC, mode), 'openat');
export const mkdirat = (dirfd: number, name: Buffer, mode: number): void => { check(L().mkdirat(dirfd, z(name, zA), mode), 'mkdirat'); };
export const mknodat = (dirfd: number, name: Buffer, mode: number, dev: bigint): void => { check(L().mknodat(dirfd, z(name, zA), mode, dev), 'mknodat'); };
export const symlinkat = (target: Buffer, dirfd: number, name: Buffer): void => { check(L().symlinkat(z(target, zA), dirfd, z(name, zB)), 'symlinkat'); };
/** A hard link; flags 0: a symlink given as the old name is linked itself, never followed. */
export const linkat = (olddir: number, oldname: Buffer, newdir: number, newname: Buffer): void => { check(L().linkat(olddir, z(oldname, zA), newdir, z(newname, zB), 0), 'linkat'); };
export const lchownat = (dirfd: number, name: Buffer, uid: number, gid: number): void => { check(L().fchownat(dirfd, z(name, zA), uid, gid, AT_SYMLINK_NOFOLLOW), 'fchownat'); };
export const fchown = (fd: number, uid: number, gid: number): void => { check(L().fchown(fd, uid, gid), 'fchown'); };
/**
 * close(2): of a descriptor another thread opened (fs.closeSync warns about those in a worker), and
 * extract's own, one per entry (fs.closeSync's checks and binding cost more than koffi's call).
 */
export const close = (fd: number): void => { check(L().close(fd), 'close'); };
/**
 * pwrite(2) of all of `buf` at `pos` (a few KiB: extract's inline tails). Through koffi, not
 * fs.writeSync: its argument checks and binding cost ~0.5 µs more per call (17,147 calls on the corpus).
 */
export function pwriteAll(fd: number, buf: Uint8Array, pos: number): void {
  const l = L();
  for (let done = 0; done < buf.length;) {
    const n = l.pwrite(fd, done ? buf.subarray(done) : buf, buf.length - done, pos + done);
    if (n < 0) {
      if (l.koffi.errno() === osConstants.errno.EINTR) continue;
      fail('pwrite');
    }
    done += n;
  }
}

/** Whether a descriptor is a terminal, asked without making process.stdout/stderr (a stream for a pipe loads net). */
export const isatty = (fd: number): boolean => L().isatty(fd) === 1;
export const fchmod = (fd: number, mode: number): void => { check(L().fchmod(fd, mode), 'fchmod'); };

/**
 * struct timespec[2] (atime, mtime), 64-bit time_t and long on every 64-bit Linux, in one reused
 * buffer written through typed-array views in the host's byte order (the C struct's): seconds that
 * fit in 32 bits (all of 1902-2038) without BigInt arithmetic. Buffer#writeInt32LE and its range
 * checks, run per entry, were ~8 MB of an extract's garbage on the corpus (18,741 entries).
 */
const ts = Buffer.alloc(32);
const ts32 = new Int32Array(ts.buffer, ts.byteOffset, 8);
const ts64 = new BigInt64Array(ts.buffer, ts.byteOffset, 4);
/** Index of the low and the high 32-bit half of a 64-bit value in a Int32Array/Uint32Array view. */
export const [LO, HI] = osEndianness() === 'LE' ? [0, 1] : [1, 0];
function timespecs(sec: bigint, nsec: number): Buffer {
  if (sec >= -0x80000000n && sec <= 0x7fffffffn) {
    const s = Number(sec);
    ts32[LO] = s;
    ts32[HI] = s < 0 ? -1 : 0;
    ts32[4 + LO] = s;
    ts32[4 + HI] = s < 0 ? -1 : 0;
  } else {
    ts64[0] = sec;
    ts64[2] = sec;
  }
  // tv_nsec: below 1e9 (the image reader checks it), high half 0.
  ts32[2 + LO] = nsec;
  ts32[2 + HI] = 0;
  ts32[6 + LO] = nsec;
  ts32[6 + HI] = 0;
  return ts;
}
/** Set atime and mtime, to the nanosecond, of a name in a directory without following a symlink. */
export const lutimensat = (dirfd: number, name: Buffer, sec: bigint, nsec: number): void => {
  check(L().utimensat(dirfd, z(name, zA), timespecs(sec, nsec), AT_SYMLINK_NOFOLLOW), 'utimensat');
};
export const futimens = (fd: number, sec: bigint, nsec: number): void => { check(L().futimens(fd, timespecs(sec, nsec)), 'futimens'); };

export const fsetxattr = (fd: number, name: Buffer, value: Buffer): void => {
  check(L().fsetxattr(fd, z(name, zA), value, value.length, 0), 'fsetxattr');
};
/** Set an xattr on `path` itself (a symlink is not followed). */
export const lsetxattr = (path: Buffer, name: Buffer, value: Buffer): void => {
  check(L().lsetxattr(z(path, zA), z(name, zB), value, value.length, 0), 'lsetxattr');
};

/** loff_t values (below 2^53: file offsets) in reused buffers, for the calls that take pointers to them. */
const cfrIn = Buffer.alloc(8);
const cfrOut = Buffer.alloc(8);
const cfrIn32 = new Uint32Array(cfrIn.buffer, cfrIn.byteOffset, 2);
const cfrOut32 = new Uint32Array(cfrOut.buffer, cfrOut.byteOffset, 2);
function setOff(b: Uint32Array, v: number): void {
  b[LO] = v % 0x100000000;
  b[HI] = Math.floor(v / 0x100000000);
}

/**
 * sendfile(2) of `len` bytes at `inOff` of `inFd` to the current position of `outFd`: the bytes
 * copied (fewer than `len` only where `inFd` ended), or -1, having copied nothing, when the first call
 * fails with one of the errnos in `cannot` (the kernel cannot do it for these files).
 */
function sendfileRange(outFd: number, inFd: number, inOff: number, len: number, cannot: readonly number[]): number {
  const l = L();
  const E = osConstants.errno;
  setOff(cfrIn32, inOff);
  let done = 0;
  while (done < len) {
    // At most 1 GiB per call (the kernel caps one call just below 2 GiB).
    const n = l.sendfile(outFd, inFd, cfrIn, Math.min(len - done, 1 << 30));
    if (n < 0) {
      const e = l.koffi.errno();
      if (e === E.EINTR || e === E.EAGAIN) continue;
      if (done === 0 && cannot.includes(e)) return -1;
      fail('sendfile');
    }
    if (n === 0) return done;
    done += n;
  }
  return done;
}

/**
 * Copy `len` bytes at `inOff` of file `inFd` to the current position of `outFd` in the kernel
 * (sendfile: no bytes pass through JavaScript). Returns false, having copied nothing, when the
 * kernel cannot do it for these files (EINVAL, ENOSYS): the caller then reads and writes.
 */
export function sendfile(outFd: number, inFd: number, inOff: number, len: number): boolean {
  const n = sendfileRange(outFd, inFd, inOff, len, SENDFILE_CANNOT);
  if (n < 0) return false;
  if (n < len) throw new SysError('EIO', osConstants.errno.EIO, 'sendfile (short image)');
  return true;
}

/** The errnos with which sendfile says it cannot copy between these files (one array, not one per call). */
const SENDFILE_CANNOT: readonly number[] = [osConstants.errno.EINVAL, osConstants.errno.ENOSYS];

/** How a ranged copy between two files may be done: in the kernel by either call, or not at all. */
export type KernelCopyPath = 'copy_file_range' | 'sendfile' | 'none';

/**
 * Copy `len` bytes at `inOff` of `inFd` to `outOff` of `outFd` in the kernel, so no byte passes
 * through JavaScript: copy_file_range(2), else (another filesystem: EXDEV; a filesystem or kernel
 * without it: EINVAL, EOPNOTSUPP, ENOSYS) sendfile(2) after seeking `outFd` (a descriptor of the
 * caller's own: its file position moves). `from` skips the calls before it (tests force fallbacks).
 * Returns the bytes copied, fewer than `len` only where `inFd` ended; -1, having copied nothing,
 * when neither call can copy between these files: the caller then reads and writes.
 */
export function kernelCopy(inFd: number, inOff: number, outFd: number, outOff: number, len: number, from: KernelCopyPath = 'copy_file_range'): number {
  if (len === 0) return 0;
  // Without the FFI (koffi missing or unsupported here): the caller reads and writes.
  if (!libcAvailable()) return -1;
  const l = L();
  const E = osConstants.errno;
  let done = 0;
  if (from === 'copy_file_range') {
    setOff(cfrIn32, inOff);
    setOff(cfrOut32, outOff);
    while (done < len) {
      // At most 1 GiB per call (the kernel caps one call just below 2 GiB).
      const n = l.copyFileRange(inFd, cfrIn, outFd, cfrOut, Math.min(len - done, 1 << 30), 0);
      if (n < 0) {
        const e = l.koffi.errno();
        if (e === E.EINTR || e === E.EAGAIN) continue;
        if (done === 0 && (e === E.EXDEV || e === E.EINVAL || e === E.EOPNOTSUPP || e === E.ENOSYS)) break;
        fail('copy_file_range');
      }
      if (n === 0) return done;
      done += n;
    }
    if (done === len) return done;
    from = 'sendfile';
  }
  if (from === 'sendfile') {
    if (l.lseek(outFd, outOff, 0 /* SEEK_SET */) < 0) return -1;
    return sendfileRange(outFd, inFd, inOff, len, [E.EINVAL, E.ENOSYS, E.EOPNOTSUPP]);
  }
  return -1;
}

/**
 * lseek(2) with SEEK_DATA (`hole` false) or SEEK_HOLE: the next data or hole at or after `off`.
 * -1: no data there (ENXIO: only a hole, or the end); -2: not known (no libc, or the filesystem
 * cannot say): the caller treats everything as data.
 */
export function seekDataHole(fd: number, off: number, hole: boolean): number {
  if (!libcAvailable()) return -2;
  const l = L();
  const r = Number(l.lseek(fd, off, hole ? 4 /* SEEK_HOLE */ : 3 /* SEEK_DATA */));
  if (r >= 0) return r;
  return l.koffi.errno() === osConstants.errno.ENXIO ? -1 : -2;
}

/**
 * statx(2) of `nameZ` (NUL-terminated bytes) in directory `dirfd` (AT_FDCWD: a path), a symlink not
 * followed, into `out` (a struct statx: 256 bytes, fields in the host's byte order): 0, or -errno.
 * null where it cannot be called: no FFI, a libc without the wrapper (glibc before 2.28, musl before
 * 1.2.5) or a kernel without the call (ENOSYS, also what a seccomp filter may answer); the caller then
 * uses fs.lstatSync. The walk's lstat this way fills one reused buffer (fs.lstatSync with bigint
 * makes a Stats object and ~15 BigInts per entry), and a name in an open directory is found without
 * walking its whole path again (1,000,000-file tree: ~20 % less system time per call). `flags`:
 * AT_SYMLINK_NOFOLLOW, or fstatxInto's AT_EMPTY_PATH.
 */
export function lstatxAt(dirfd: number, nameZ: Buffer, out: Buffer, flags = AT_SYMLINK_NOFOLLOW): number | null {
  if (statxFn === undefined) {
    statxFn = null;
    if (libcAvailable()) {
      try {
        statxFn = L().self.func('int statx(int dirfd, const void *path, int flags, uint32_t mask, void *buf)') as unknown as Fn;
      } catch { /* no statx in this libc */ }
    }
  }
  if (!statxFn) return null;
  if (statxFn(dirfd, nameZ, flags, STATX_BASIC_STATS, out) === 0) return 0;
  const e = L().koffi.errno();
  if (e === osConstants.errno.ENOSYS) {
    statxFn = null;
    return null;
  }
  return -e;
}
let statxFn: Fn | null | undefined;
/** What fs.lstatSync asks statx for (libuv's mask, less the birth time). */
const STATX_BASIC_STATS = 0x7ff;
// struct statx (linux/stat.h) as lstatxAt and fstatxInto fill it, in 32-bit words of a Uint32Array
// view in the host's byte order (64-bit fields: LO and HI above); stx_mode is the 16-bit word 14.
export const X_NLINK = 4, X_UID = 5, X_GID = 6, X_MODE16 = 14, X_INO = 8, X_SIZE = 10, X_CTIME = 24, X_MTIME = 28;
export const X_RDEV_MAJOR = 32, X_RDEV_MINOR = 33, X_DEV_MAJOR = 34, X_DEV_MINOR = 35;

/**
 * statx(2) of an open descriptor (AT_EMPTY_PATH) into `out`, as lstatxAt: 0, -errno, or null where
 * statx cannot be called.
 */
export function fstatxInto(fd: number, out: Buffer): number | null {
  return lstatxAt(fd, EMPTY_NAME, out, AT_EMPTY_PATH);
}
const AT_EMPTY_PATH = 0x1000;
/** The empty NUL-terminated name AT_EMPTY_PATH takes. */
const EMPTY_NAME = Buffer.alloc(1);

/**
 * A source file opened for reading as SourceReader opens one (O_NOFOLLOW: a file swapped for a
 * symlink is refused; O_NONBLOCK: a FIFO swapped in never hangs), without an exception: the
 * descriptor, or -1 (the caller then opens it the usual way, for the error it reports). `pathZ` is
 * NUL-terminated.
 */
export function openSource(pathZ: Buffer): number {
  if (!libcAvailable()) return -1;
  const fd = L().openat(AT_FDCWD, pathZ, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
  return fd < 0 ? -1 : fd;
}

/** pread(2) of up to `len` bytes at `pos` into the start of `buf`: the count, or -1 (errno not kept: the caller reads again the usual way). */
export function preadStart(fd: number, buf: Uint8Array, len: number, pos: number): number {
  const n = L().pread(fd, buf, len, pos);
  return n < 0 ? -1 : n;
}

/** close(2) of a descriptor opened only for reading (openSource): its errors say nothing about the data read. */
export function closeSource(fd: number): void {
  L().close(fd);
}

/**
 * A directory opened for the *at calls of a walk (lstatxAt, lgetxattrsAt): its descriptor, or -1
 * where it cannot be opened or libc cannot be called (the caller then uses whole paths).
 */
export function openDirectory(pathZ: Buffer): number {
  if (!libcAvailable()) return -1;
  const fd = L().openat(AT_FDCWD, pathZ, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  return fd < 0 ? -1 : fd;
}

/**
 * The names in directory `fd` (from openDirectory) as latin1 strings (one char per byte), "." and
 * ".." left out, in the order getdents64(2) gives them; null where it cannot be called (glibc before
 * 2.30) or fails (the caller then lists the path with fs.readdirSync, for its answer or its error).
 * The walk reads the directory on the descriptor it opens anyway for its *at calls: fs.readdirSync
 * opened the path a second time and copied each name through libc's scandir.
 */
export function readDirectory(fd: number): string[] | null {
  if (getdentsFn === undefined) {
    getdentsFn = null;
    try {
      getdentsFn = L().self.func('long getdents64(int fd, void *buf, size_t n)') as unknown as Fn;
    } catch { /* no getdents64 in this libc */ }
  }
  const call = getdentsFn;
  if (!call) return null;
  const names: string[] = [];
  const b = dents;
  for (;;) {
    const n = call(fd, b, b.length);
    if (n < 0) return null;
    if (n === 0) return names;
    // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name (NUL-terminated).
    for (let o = 0; o < n;) {
      const reclen = LITTLE ? b[o + 16] | (b[o + 17] << 8) : (b[o + 16] << 8) | b[o + 17];
      const end = b.indexOf(0, o + 19);
      const len = end - o - 19;
      if (!(b[o + 19] === 0x2e && (len === 1 || (len === 2 && b[o + 20] === 0x2e)))) names.push(b.toString('latin1', o + 19, end));
      o += reclen;
    }
  }
}
let getdentsFn: Fn | null | undefined;
const dents = Buffer.allocUnsafe(64 * 1024);
const LITTLE = osEndianness() === 'LE';

/** Close a descriptor of openDirectory (errors ignored: nothing was written through it). */
export function closeDirectory(fd: number): void {
  if (fd >= 0) L().close(fd);
}

// One scratch buffer for listing and reading: grown to what a probe (size 0) says is needed
// (XATTR_SIZE_MAX is 64 KiB on Linux, but a list can be longer).
let scratch = Buffer.alloc(64 * 1024);

/**
 * Bytes offered to the kernel in a first call. It allocates a buffer of the size offered for every
 * call (getxattr zeroes it): offering all 64 KiB of scratch cost each call ~0.8 µs more (measured on
 * the bench corpus, 18,741 llistxattr calls of files without xattrs: 45 -> 30 ms of system time).
 * A longer list or value takes a probe for its size and a second call.
 */
const XATTR_FIRST_TRY = 1024;

/** An xattr call into scratch (`call(buf, size)`, a null buf probes the size): the length, or -errno. */
function xattrInto(call: (buf: Buffer | null, size: number) => number): number {
  const l = L();
  let size = XATTR_FIRST_TRY;
  for (;;) {
    const n = call(scratch, size);
    if (n >= 0) return n;
    const e = l.koffi.errno();
    if (e !== osConstants.errno.ERANGE) return -e;
    // Longer than offered (or grown since the probe): ask how long, then offer that.
    const need = call(null, 0);
    if (need < 0) return -l.koffi.errno();
    // Size 0 in the call below would probe again, not read.
    if (need === 0) return 0;
    if (need > scratch.length) scratch = Buffer.alloc(need);
    size = need;
  }
}

/**
 * listxattrat(2) (Linux 6.13; one number on every architecture, called through syscall(2), which
 * glibc 2.36 has no wrapper for): the list of a name in an open directory, without walking its
 * whole path (~20 % less system time per call, as for lstatxAt). Off for the rest of the process
 * once the kernel (or a seccomp filter) refuses it while llistxattr works.
 */
const SYS_listxattrat = 465;
let listxattratOn = process.platform === 'linux';
let syscallFn: Fn | null | undefined;

/**
 * Names and values of every xattr of `nameZ` in directory `dirfd` (NUL-terminated bytes), a symlink
 * not followed; `pathZ` is its whole path, for what has no *at call here (the values, and kernels
 * without listxattrat). The same lists and errors as lgetxattrs(pathZ).
 */
export function lgetxattrsAt(dirfd: number, nameZ: Buffer, pathZ: Buffer): { name: Buffer; value: Buffer }[] {
  if (dirfd < 0 || !listxattratOn) return lgetxattrs(pathZ);
  if (syscallFn === undefined) {
    syscallFn = null;
    try {
      syscallFn = L().self.func('long syscall(long nr, int dfd, const void *path, uint32_t flags, void *list, size_t size)') as unknown as Fn;
    } catch { /* no syscall() in this libc */ }
  }
  const call = syscallFn;
  if (!call) return lgetxattrs(pathZ);
  const n = xattrInto((buf, size) => call(SYS_listxattrat, dirfd, nameZ, AT_SYMLINK_NOFOLLOW, buf, size));
  if (n === 0 || n === -osConstants.errno.ENOTSUP) return [];
  if (n < 0) {
    // Whatever llistxattr says is the answer (and its error the message); if it works where this
    // failed with ENOSYS or EPERM, the call is missing or filtered here.
    const list = lgetxattrs(pathZ);
    if (n === -osConstants.errno.ENOSYS || n === -osConstants.errno.EPERM) listxattratOn = false;
    return list;
  }
  return xattrValues(pathZ, n);
}

/** Names and values of every xattr of `path` (NUL-terminated bytes), symlinks not followed. */
export function lgetxattrs(pathZ: Buffer): { name: Buffer; value: Buffer }[] {
  const l = L();
  const n = xattrInto((buf, size) => l.llistxattr(pathZ, buf, size));
  if (n === -osConstants.errno.ENOTSUP) return [];
  if (n < 0) failWith(-n, 'llistxattr');
  if (n === 0) return [];
  return xattrValues(pathZ, n);
}

/** The values of the `n` bytes of names listed in scratch, read from `pathZ`. */
function xattrValues(pathZ: Buffer, n: number): { name: Buffer; value: Buffer }[] {
  const l = L();
  const names: Buffer[] = [];
  for (let i = 0; i < n;) {
    let j = scratch.indexOf(0, i);
    if (j < 0 || j > n) j = n;
    if (j > i) names.push(Buffer.from(scratch.subarray(i, j)));
    i = j + 1;
  }
  const out: { name: Buffer; value: Buffer }[] = [];
  for (const name of names) {
    const nameZ = cstr(name);
    const v = xattrInto((buf, size) => l.lgetxattr(pathZ, nameZ, buf, size));
    // Removed between the list and the read: as if it had not been listed.
    if (v === -osConstants.errno.ENODATA) continue;
    if (v < 0) failWith(-v, 'lgetxattr');
    out.push({ name, value: Buffer.from(scratch.subarray(0, v)) });
  }
  return out;
}

function failWith(n: number, syscall: string): never {
  throw new SysError(ERRNO_NAMES.get(n) ?? `errno ${n}`, n, syscall);
}

/** uid of a user name through NSS (as tar and libacl resolve names), or null. */
export function lookupUser(name: string): number | null {
  const l = L();
  const p = l.getpwnam(name);
  return p ? (l.koffi.decode(p, l.passwd) as { pw_uid: number }).pw_uid : null;
}

/** gid of a group name through NSS, or null. */
export function lookupGroup(name: string): number | null {
  const l = L();
  const p = l.getgrnam(name);
  return p ? (l.koffi.decode(p, l.group) as { gr_gid: number }).gr_gid : null;
}
