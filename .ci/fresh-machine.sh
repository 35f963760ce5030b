#!/usr/bin/env bash
# Fresh-machine proof (issue 16): the README's two commands in a clean clone, with a PATH that holds
# only node, npm and a shell (no getfattr, setfattr, getfacl, setfacl, getent, python3, touch, mknod);
# then a build + extract of a tree with xattrs and ACLs, compared with the source and with the kernel's
# mount of the image. The oracles (setfacl, setfattr, getfattr, find, sha256sum) run with the full PATH.
# Usage: .ci/fresh-machine.sh NODE_BIN_DIR   (run as root: mount, trusted.* xattrs)
set -euo pipefail
node_bin=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
mnt=
cleanup() {
  if [ -n "$mnt" ] && mountpoint -q "$mnt"; then umount "$mnt"; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A PATH of symlinks to what npm needs and nothing else.
bare=$work/bin
mkdir "$bare"
ln -s "$node_bin/node" "$bare/node"
ln -s "$(command -v npm)" "$bare/npm"
ln -s "$(command -v sh)" "$bare/sh"
for t in getfattr setfattr getfacl setfacl getent python3 touch mknod mkfifo; do
  if PATH=$bare command -v "$t" >/dev/null 2>&1; then echo "fresh-machine: $t is on the bare PATH" >&2; exit 1; fi
done
# The environment as it is (registry settings, CA certificates), but PATH.
run_bare() { env PATH="$bare" "$@"; }

git clone -q "$repo" "$work/clone"
(cd "$work/clone" && run_bare npm ci --no-audit --no-fund >/dev/null && run_bare npm start) | tee "$work/demo.log"
grep -q 'all identical to the source' "$work/demo.log"
grep -q 'all honest' "$work/demo.log"

# A tree with user/trusted/security xattrs (values with NUL and newline), access and default ACLs,
# a symlink carrying trusted.*, a FIFO, a non-UTF-8 name and nanosecond times.
src=$work/src
mkdir -p "$src/acl-dir/sub"
printf 'hello\n' > "$src/file"
printf 'latin1\n' > "$src/$(printf 'caf\351')"
ln -s file "$src/link"
mkfifo "$src/fifo"
setfattr -n user.v -v 0x610062000a63 "$src/file"
setfattr -n trusted.t -v 0x00ff "$src/file"
setfattr -n security.s -v label "$src/fifo"
setfattr -h -n trusted.l -v on-the-link "$src/link"
setfacl -m u:1234:rwx,g:5678:r-x "$src/file"
setfacl -d -m u:1234:rx,g::r-x "$src/acl-dir"
setfacl -m u:42:r "$src/acl-dir/sub"
touch -h -d '@1700000000.123456789' "$src/file" "$src/link" "$src/fifo"

img=$work/tree.img
out=$work/extracted
(cd "$work/clone" && run_bare node bin/erofs-forge.js build --quiet -zlz4 "$img" "$src" \
  && run_bare node bin/erofs-forge.js extract --quiet "$img" "$out")

# Everything a tree shows, paths relative: type, mode, owner, size (not of directories), ns mtime,
# link target; every xattr; every file's sha256.
describe() {
  (cd "$1" && find . \( -type d -printf '%p d %m %U %G %T@\n' \) -o -printf '%p %y %m %U %G %s %T@ %l\n' | LC_ALL=C sort \
    && find . -print0 | LC_ALL=C sort -z | LC_ALL=C xargs -0 getfattr -h -d -m - -e hex \
    && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}
describe "$src" > "$work/src.txt"
describe "$out" > "$work/out.txt"
mnt=$work/mnt
mkdir "$mnt"
mount -t erofs -o ro "$img" "$mnt"
describe "$mnt" > "$work/mnt.txt"
umount "$mnt"
mnt=
diff -u "$work/src.txt" "$work/out.txt"
diff -u "$work/mnt.txt" "$work/out.txt"
grep -q 'system.posix_acl_default' "$work/out.txt"
grep -q 'trusted.l=' "$work/out.txt"
echo "fresh-machine: npm ci + npm start with only node/npm/sh on PATH: demo ok; build + extract of a tree with xattrs and ACLs equals the source and the kernel mount ($(wc -l < "$work/src.txt") lines compared)"
