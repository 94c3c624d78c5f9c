#!/bin/sh
# check-static.sh FILE: fails unless FILE is a little-endian ELF (64- or 32-bit)
# executable with no program interpreter (no PT_INTERP program header), i.e.
# statically linked, static-pie included. It reads the ELF header with od
# alone, so `make build` needs nothing beyond the Rust toolchain (file(1) is
# not on every machine).
set -eu
f=$1
fail() { echo "error: $f $*" >&2; exit 1; }
# Unsigned little-endian integer of $2 bytes at offset $1 (od prints in the
# host's byte order: the build hosts are x86_64, little-endian like every
# target built).
u() { od -An -t "u$2" -j "$1" -N "$2" "$f" | tr -d ' \n'; }

[ -f "$f" ] || fail "does not exist"
[ "$(od -An -c -N 4 "$f" | tr -d ' \n')" = 177ELF ] || fail "is not an ELF file"
[ "$(u 5 1)" = 1 ] || fail "is not a little-endian ELF file"
case $(u 4 1) in
2) phoff=$(u 32 8) phentsize=$(u 54 2) phnum=$(u 56 2) ;; # ELFCLASS64
1) phoff=$(u 28 4) phentsize=$(u 42 2) phnum=$(u 44 2) ;; # ELFCLASS32 (armv7)
*) fail "is neither a 32- nor a 64-bit ELF file" ;;
esac
i=0
while [ "$i" -lt "$phnum" ]; do
  # PT_INTERP (3): the dynamic loader's path, which a static binary lacks.
  [ "$(u $((phoff + i * phentsize)) 4)" != 3 ] || fail "is not statically linked (it names a program interpreter)"
  i=$((i + 1))
done
