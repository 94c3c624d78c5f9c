#!/bin/sh
# check-static.sh FILE: fails unless FILE is a 64-bit little-endian ELF
# executable with no program interpreter (no PT_INTERP program header), i.e.
# statically linked, static-pie included. It reads the ELF header with od
# alone, so `make build` needs nothing beyond the Rust toolchain (file(1) is
# not on every machine).
set -eu
f=$1
fail() { echo "error: $f $*" >&2; exit 1; }
# Unsigned little-endian integer of $2 bytes at offset $1 (od prints in the
# host's byte order, and only x86_64 hosts build this x86_64 binary).
u() { od -An -t "u$2" -j "$1" -N "$2" "$f" | tr -d ' \n'; }

[ -f "$f" ] || fail "does not exist"
[ "$(od -An -c -N 4 "$f" | tr -d ' \n')" = 177ELF ] || fail "is not an ELF file"
[ "$(u 4 1)" = 2 ] && [ "$(u 5 1)" = 1 ] || fail "is not a 64-bit little-endian ELF file"
phoff=$(u 32 8)
phentsize=$(u 54 2)
phnum=$(u 56 2)
i=0
while [ "$i" -lt "$phnum" ]; do
  # PT_INTERP (3): the dynamic loader's path, which a static binary lacks.
  [ "$(u $((phoff + i * phentsize)) 4)" != 3 ] || fail "is not statically linked (it names a program interpreter)"
  i=$((i + 1))
done
