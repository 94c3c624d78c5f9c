#!/bin/sh
# release.sh [TARGET...]: static musl builds of tug for each target (default
# x86_64, aarch64 and armv7), each checked to be static, sizes listed.
# The host target links as `make build` does; the others with rust-lld, which
# ships with the Rust toolchain, against the self-contained musl objects of
# the target's rust-std: no cross gcc needed. armv7's rust-std is not
# always downloadable: with Debian's musl-dev:armhf (scripts/test-deps.sh
# installs it) it is built from rust-src instead (debian_musl below). A
# target that cannot be built is reported and makes the run fail, after
# the others.
set -u
cd "$(dirname "$0")/.."
LINK_ARGS=${LINK_ARGS:?LINK_ARGS comes from the Makefile}
CODEGEN_ARGS=${CODEGEN_ARGS:?CODEGEN_ARGS comes from the Makefile}
targets=${*:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf}
host=x86_64-unknown-linux-musl
sysroot=$(rustc --print sysroot)
failed=""
sizes=""
# Debian's musl for a target (musl-dev:armhf...), where rustup has no
# rust-std for it: then core and alloc are built from rust-src
# (-Zbuild-std, RUSTC_BOOTSTRAP: tug needs nothing else) and linked with
# rust-lld against Debian's crt objects and libc.a. Debian's musl (1.2.3)
# predates RELR, so that build is a plain static executable.
debian_musl() {
	case $1 in
	armv7-unknown-linux-musleabihf) echo /usr/lib/arm-linux-musleabihf ;;
	aarch64-unknown-linux-musl) echo /usr/lib/aarch64-linux-musl ;;
	esac
}
for t in $targets; do
	var=CARGO_TARGET_$(echo "$t" | tr 'a-z-' 'A-Z_')_LINKER
	m=$(debian_musl "$t")
	if [ "$t" = "$host" ]; then
		# shellcheck disable=SC2086 # LINK_ARGS is a list of flags
		cargo rustc --release --target "$t" --bin tug -- $LINK_ARGS || { failed="$failed $t"; continue; }
	elif [ ! -d "$sysroot/lib/rustlib/$t/lib" ] && [ -n "$m" ] && [ -f "$m/libc.a" ] &&
		[ -d "$sysroot/lib/rustlib/src/rust/library" ]; then
		echo "release: $t: no rust-std; building core and alloc from rust-src, linking Debian's musl in $m" >&2
		env RUSTC_BOOTSTRAP=1 "$var=rust-lld" cargo rustc -Zbuild-std=core,alloc \
			--release --target "$t" --bin tug -- \
			-C linker-flavor=ld.lld -C link-self-contained=no -C relocation-model=static \
			-C link-arg=-O2 $CODEGEN_ARGS \
			-Zpre-link-arg="$m/crt1.o" -Zpre-link-arg="$m/crti.o" \
			-C link-arg=-L"$m" -C link-arg="$m/crtn.o" \
			-C link-arg=--no-eh-frame-hdr \
			-C link-arg=-T -C link-arg="$PWD/scripts/no-eh-frame.ld" ||
			{ failed="$failed $t"; continue; }
	elif [ ! -d "$sysroot/lib/rustlib/$t/lib" ] && ! rustup target add "$t" >&2; then
		echo "release: error: cannot install the Rust target $t (rustup target add $t failed; for armv7, Debian's musl-dev:armhf lets tug build without it)" >&2
		failed="$failed $t"
		continue
	else
		# lld takes the same flags as `make build` gives ld.bfd through cc,
		# without cc's `-Wl,` wrapping; it reads the INSERT linker script too.
		env "$var=rust-lld" cargo rustc --release --target "$t" --bin tug -- \
			-C linker-flavor=ld.lld -C link-self-contained=yes -C relocation-model=static \
			-C link-arg=-O2 $CODEGEN_ARGS \
			-C link-arg=--no-eh-frame-hdr \
			-C link-arg=-T -C link-arg="$PWD/scripts/no-eh-frame.ld" ||
			{ failed="$failed $t"; continue; }
	fi
	bin=target/$t/release/tug
	scripts/check-static.sh "$bin" || { failed="$failed $t"; continue; }
	kind=$(command -v file >/dev/null && file -b "$bin" | cut -d, -f1-2)
	sizes="$sizes$(printf '%-34s %8s bytes  %s' "$t" "$(wc -c <"$bin")" "$kind")
"
done
printf 'release builds (static):\n%s' "$sizes"
[ -z "$failed" ] || { echo "release: failed:$failed" >&2; exit 1; }
