// On-disk constants, named as in the kernel's fs/erofs/erofs_fs.h (EROFS_ prefix dropped).

export const SUPER_OFFSET = 1024;
export const SUPER_MAGIC_V1 = 0xe0f5e1e2;
/** Base superblock size; sb_extslots adds 16 bytes each. */
export const SUPER_BASE_SIZE = 128;
export const ISLOTBITS = 5;
/** One nid = one 32-byte inode slot. */
export const ISLOT_SIZE = 1 << ISLOTBITS;
export const MIN_BLKSZBITS = 9;
export const MAX_BLKSZBITS = 12;
export const NULL_ADDR = 0xffffffff;
export const NAME_LEN = 255;
/** Kernel symlink limit (PATH_MAX - 1 bytes of target). */
export const MAX_SYMLINK = 4095;

export const FEATURE_COMPAT_SB_CHKSUM = 0x01;
export const FEATURE_COMPAT_MTIME = 0x02;
export const FEATURE_COMPAT_XATTR_FILTER = 0x04;
export const FEATURE_COMPAT_SHARED_EA_IN_METABOX = 0x08;
export const FEATURE_COMPAT_PLAIN_XATTR_PFX = 0x10;
export const FEATURE_COMPAT_ISHARE_XATTRS = 0x20;
/** Compat bits we understand; unknown compat bits are allowed by the kernel (informational). */
export const ALL_FEATURE_COMPAT = 0x3f;

export const FEATURE_INCOMPAT_LZ4_0PADDING = 0x001;
export const FEATURE_INCOMPAT_COMPR_CFGS = 0x002;
export const FEATURE_INCOMPAT_BIG_PCLUSTER = 0x002;
export const FEATURE_INCOMPAT_CHUNKED_FILE = 0x004;
export const FEATURE_INCOMPAT_DEVICE_TABLE = 0x008;
export const FEATURE_INCOMPAT_COMPR_HEAD2 = 0x008;
export const FEATURE_INCOMPAT_ZTAILPACKING = 0x010;
export const FEATURE_INCOMPAT_FRAGMENTS = 0x020;
export const FEATURE_INCOMPAT_DEDUPE = 0x020;
export const FEATURE_INCOMPAT_XATTR_PREFIXES = 0x040;
export const FEATURE_INCOMPAT_48BIT = 0x080;
export const FEATURE_INCOMPAT_METABOX = 0x100;
/** The kernel refuses to mount an image with any incompat bit outside this mask (super.c). */
export const ALL_FEATURE_INCOMPAT = 0x1ff;

// i_format: bit 0 = version, bits 1..3 = data layout.
export const INODE_LAYOUT_COMPACT = 0;
export const INODE_LAYOUT_EXTENDED = 1;
export const I_VERSION_BITS = 1;
export const I_DATALAYOUT_BIT = 1;
export const I_DATALAYOUT_BITS = 3;
/** Kernels before 6.15 accept only bits 0..3 of i_format (EOPNOTSUPP otherwise). */
export const I_ALL_LEGACY = 0x0f;
export const I_NLINK_1_BIT = 4;

export const INODE_FLAT_PLAIN = 0;
export const INODE_COMPRESSED_FULL = 1;
export const INODE_FLAT_INLINE = 2;
export const INODE_COMPRESSED_COMPACT = 3;
export const INODE_CHUNK_BASED = 4;

export const INODE_COMPACT_SIZE = 32;
export const INODE_EXTENDED_SIZE = 64;

// Directory entry file types (erofs_fs.h EROFS_FT_*), same numbering as fs_types.h.
export const FT_UNKNOWN = 0;
export const FT_REG_FILE = 1;
export const FT_DIR = 2;
export const FT_CHRDEV = 3;
export const FT_BLKDEV = 4;
export const FT_FIFO = 5;
export const FT_SOCK = 6;
export const FT_SYMLINK = 7;
export const DIRENT_SIZE = 12;

// POSIX st_mode type bits.
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

// xattr name indexes (EROFS_XATTR_INDEX_*).
export const XATTR_INDEX_USER = 1;
export const XATTR_INDEX_POSIX_ACL_ACCESS = 2;
export const XATTR_INDEX_POSIX_ACL_DEFAULT = 3;
export const XATTR_INDEX_TRUSTED = 4;
export const XATTR_INDEX_LUSTRE = 5;
export const XATTR_INDEX_SECURITY = 6;
/** e_name_index with this bit set refers to long prefix (index & 0x7f). */
export const XATTR_LONG_PREFIX = 0x80;
export const XATTR_LONG_PREFIX_MASK = 0x7f;
export const XATTR_FILTER_BITS = 32;
export const XATTR_FILTER_DEFAULT = 0xffffffff;
export const XATTR_FILTER_SEED = 0x25bbe08f;
export const XATTR_IBODY_HEADER_SIZE = 12;
export const XATTR_ENTRY_SIZE = 4;

/** Map POSIX mode type to the directory entry file type. */
export function fileTypeOfMode(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFREG: return FT_REG_FILE;
    case S_IFDIR: return FT_DIR;
    case S_IFCHR: return FT_CHRDEV;
    case S_IFBLK: return FT_BLKDEV;
    case S_IFIFO: return FT_FIFO;
    case S_IFSOCK: return FT_SOCK;
    case S_IFLNK: return FT_SYMLINK;
    default: return FT_UNKNOWN;
  }
}

// Chunk-based inodes (EROFS_INODE_CHUNK_BASED): i_u's low 16 bits are the chunk format.
/** log2(chunk size / block size). */
export const CHUNK_FORMAT_BLKBITS_MASK = 0x001f;
/** 8-byte erofs_inode_chunk_index entries instead of 4-byte block map entries. */
export const CHUNK_FORMAT_INDEXES = 0x0020;
/** 48-bit block addresses (6.15+); never written by erofs-forge. */
export const CHUNK_FORMAT_48BIT = 0x0040;
/** Pre-6.15 kernels refuse any other chunk format bit (inode.c: "unsupported chunk format"). */
export const CHUNK_FORMAT_ALL = CHUNK_FORMAT_BLKBITS_MASK | CHUNK_FORMAT_INDEXES;
export const BLOCK_MAP_ENTRY_SIZE = 4;
/** erofs_inode_chunk_index: startblk_hi (le16), device_id (le16), startblk_lo (le32). */
export const CHUNK_INDEX_SIZE = 8;

// Algorithms (Z_EROFS_COMPRESSION_*): h_algorithmtype nibbles and available_compr_algs bits.
export const COMPRESSION_LZ4 = 0;
export const COMPRESSION_LZMA = 1;
export const COMPRESSION_DEFLATE = 2;
export const COMPRESSION_ZSTD = 3;
export const COMPRESSION_MAX = 4;
export const ALL_COMPR_ALGS = (1 << COMPRESSION_MAX) - 1;
