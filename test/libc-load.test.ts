// koffi's native module is opened by its path (src/sys/libc.ts dlopenKoffi): module resolution and
// koffi's loader script were ~4 ms of every extract. The build for this libc is picked by the
// running program's ELF interpreter, as koffi's loader picks it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { programInterpreterIsMusl } from '../src/sys/libc.js';

/** A 64-bit little-endian ELF header and program headers: PT_LOAD, then PT_INTERP naming `interp` (none: no PT_INTERP). */
function elf(interp?: string): Buffer {
  const phnum = interp === undefined ? 1 : 2;
  const phoff = 64;
  const strAt = phoff + 56 * phnum;
  const name = Buffer.from(`${interp ?? ''}\0`, 'latin1');
  const b = Buffer.alloc(strAt + name.length);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2;
  b[5] = 1;
  b[6] = 1;
  b.writeBigUInt64LE(BigInt(phoff), 32);
  b.writeUInt16LE(64, 52);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(phnum, 56);
  b.writeUInt32LE(1, phoff);
  if (interp !== undefined) {
    const at = phoff + 56;
    b.writeUInt32LE(3, at);
    b.writeBigUInt64LE(BigInt(strAt), at + 8);
    b.writeBigUInt64LE(BigInt(name.length), at + 32);
    name.copy(b, strAt);
  }
  return b;
}

test('koffi_native_module_opened_by_path: the interpreter says musl or glibc; unreadable answers undefined', () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-elf-'));
  try {
    const cases: [string, Buffer, boolean | undefined][] = [
      ['musl', elf('/lib/ld-musl-x86_64.so.1'), true],
      ['musl-arm64', elf('/lib/ld-musl-aarch64.so.1'), true],
      ['glibc', elf('/lib64/ld-linux-x86-64.so.2'), false],
      ['static', elf(), undefined],
      ['script', Buffer.from('#!/bin/sh\necho hi\n'), undefined],
      ['short', elf('/lib/ld-musl-x86_64.so.1').subarray(0, 100), undefined],
    ];
    for (const [name, bytes, want] of cases) {
      const f = path.join(d, name);
      fs.writeFileSync(f, bytes);
      assert.equal(programInterpreterIsMusl(f), want, name);
    }
    assert.equal(programInterpreterIsMusl(path.join(d, 'missing')), undefined);
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

test('koffi_native_module_opened_by_path: a fresh process loads it by path and calls libc', (t) => {
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) { t.skip('koffi prebuilt layout checked on Linux x64/arm64'); return; }
  const libc = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/sys/libc.js');
  const script = `const m = await import(${JSON.stringify(libc)}); const ok = m.libcAvailable(); const fd = m.openat(m.AT_FDCWD, Buffer.from('/'), m.O_RDONLY | m.O_DIRECTORY); m.close(fd); console.log(JSON.stringify({ ok, entry: m.koffiEntry }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { ok: true, entry: 'dlopen' });
});
