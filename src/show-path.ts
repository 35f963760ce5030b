// How a path made of bytes is shown in messages. Any room may name a path; this one imports nothing.

/** Printable form of a byte path for messages: UTF-8 where valid, \xNN escapes otherwise. */
export function showPath(path: Uint8Array | string): string {
  const p = typeof path === 'string' ? Buffer.from(path, 'latin1') : path;
  const s = Buffer.from(p).toString('utf8');
  if (!s.includes('\ufffd') && !/[\x00-\x1f\x7f]/.test(s)) return s;
  let out = '';
  for (const c of p) out += c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return out;
}
