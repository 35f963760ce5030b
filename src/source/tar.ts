// Scan a tar archive (a file or stdin, plain or gzip) into the tree model, as mkfs.erofs --tar=f does.
// Three parts, in src/source/tar/: the entry stream (headers, PAX and GNU long names, sparse maps ->
// entries: entries.ts, pax.ts, header.ts, input.ts), tree assembly (paths -> Inode tree, hard links,
// whiteouts: tree-builder.ts) and member data (referenced in place, spooled, or indexed: data.ts,
// spool.ts). Behaviour matched to mkfs.erofs 1.9.3 is listed in tree-builder.ts. Beyond mkfs.erofs
// 1.9.3: GNU sparse members are expanded (mkfs.erofs 1.9.3 drops old-GNU 'S' members, stores PAX 0.x
// sparse members as their packed data and PAX 1.0 ones as GNUSparseFile.PID/NAME with the map inside).
import type { Inode } from './tree.js';
import { nssResolver, type NameResolver } from './posix-acl.js';
import { openTarInput } from './tar/input.js';
import { TarEntryStream } from './tar/entries.js';
import { TarTree } from './tar/tree-builder.js';
import { MemberData } from './tar/data.js';

export interface TarScanOptions {
  /** 'auto' (default): gunzip when the input starts with 1f 8b; true: always; false: never. */
  gzip?: 'auto' | boolean;
  /** Convert aufs/OCI whiteouts (.wh.NAME, .wh..wh..opq) to the overlayfs form (mkfs.erofs --aufs). */
  aufs?: boolean;
  /** Drop overlayfs whiteouts and opaque xattrs (mkfs.erofs --ovlfs-strip). */
  ovlfsStrip?: boolean;
  warn?: (msg: string) => void;
  /** Time of the root and of missing parent directories (mkfs.erofs: the build time). Default: now. */
  buildTime?: { sec: bigint; nsec: number };
  /** Directory of the spool file for streamed input (default os.tmpdir()). */
  spoolDir?: string;
  /** User/group name lookup for ACL text (default: NSS, getpwnam/getgrnam). */
  resolveName?: NameResolver;
  /**
   * mkfs.erofs --tar=i: member data is not read, only where it lies in the archive (TarScan.index);
   * 'headerball' (--tar=headerball): the stream holds headers only, no member data follows them.
   */
  index?: 'tar' | 'headerball';
}

/** Where the data of an indexed archive lies (see TarScanOptions.index). */
export interface TarIndex {
  /** Regular files with data: byte offset of their data in the archive (-1 in a headerball: none). */
  offsets: Map<Inode, number>;
  /** Bytes of the archive read, up to and including its end-of-archive marker. */
  bytes: number;
}

export interface TarScan {
  tree: Inode;
  /** Bytes written to the spool file (0 when the archive is read in place). */
  spooledBytes: number;
  /** Remove the spool file. Call after the image is written (safe to call twice). */
  cleanup(): void;
  /** With options.index. */
  index?: TarIndex;
}

/**
 * Read a tar archive (`input` is a path, or '-' for stdin) into a tree. Throws UserError naming the
 * archive and the member (or the header offset) on malformed, truncated or unsupported input; the
 * spool file, if any, is removed before throwing.
 */
export async function scanTar(input: string, opts: TarScanOptions = {}): Promise<TarScan> {
  const inputName = input === '-' ? '<stdin>' : input;
  const warn = opts.warn ?? (() => {});
  const src = await openTarInput(input, opts.gzip ?? 'auto');
  const tree = new TarTree({
    inputName, warn, aufs: opts.aufs, ovlfsStrip: opts.ovlfsStrip,
    resolveName: opts.resolveName ?? nssResolver, buildTime: opts.buildTime ?? clockNow(),
  });
  const stream = new TarEntryStream(src, inputName, warn);
  const data = new MemberData(stream, { index: opts.index, spoolDir: opts.spoolDir });
  const indexOffsets = new Map<Inode, number>();
  try {
    for await (const entry of stream.entries()) {
      const file = tree.place(entry);
      if (!file) {
        await data.skip(entry);
        continue;
      }
      const r = await data.regular(entry);
      file.size = r.size;
      file.data = r.data;
      if (r.indexOffset !== undefined) indexOffsets.set(file, r.indexOffset);
    }
    await src.finish();
  } catch (e) {
    src.close();
    data.cleanup();
    throw e;
  }
  src.close();
  const index = opts.index ? { offsets: indexOffsets, bytes: src.offset } : undefined;
  return { tree: tree.finish(), spooledBytes: data.spooledBytes, cleanup: () => data.cleanup(), index };
}

function clockNow(): { sec: bigint; nsec: number } {
  const ms = Date.now();
  return { sec: BigInt(Math.floor(ms / 1000)), nsec: (ms % 1000) * 1_000_000 };
}
