#!/bin/sh
# release.sh [TARGET...]: static musl builds of tug for each target (default
# x86_64, aarch64 and armv7), each checked to be static, sizes listed.
# The host target links as `make build` does; the others with rust-lld, which
# ships with the Rust toolchain, against the self-contained musl objects of
# the target's rust-std: no cross gcc needed. A target whose rust-std rustup
# cannot install is reported and makes the run fail, after the others.
set -u
cd "$(dirname "$0")/.."
LINK_ARGS=${LINK_ARGS:?LINK_ARGS comes from the Makefile}
targets=${*:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf}
host=x86_64-unknown-linux-musl
sysroot=$(rustc --print sysroot)
failed=""
sizes=""
for t in $targets; do
	if [ ! -d "$sysroot/lib/rustlib/$t/lib" ] && ! rustup target add "$t" >&2; then
		echo "release: error: cannot install the Rust target $t (rustup target add $t failed)" >&2
		failed="$failed $t"
		continue
	fi
	if [ "$t" = "$host" ]; then
		# shellcheck disable=SC2086 # LINK_ARGS is a list of flags
		cargo rustc --release --target "$t" --bin tug -- $LINK_ARGS || { failed="$failed $t"; continue; }
	else
		# lld takes the same flags as `make build` gives ld.bfd through cc,
		# without cc's `-Wl,` wrapping; it reads the INSERT linker script too.
		var=CARGO_TARGET_$(echo "$t" | tr 'a-z-' 'A-Z_')_LINKER
		env "$var=rust-lld" cargo rustc --release --target "$t" --bin tug -- \
			-C linker-flavor=ld.lld -C link-self-contained=yes \
			-C link-arg=-z -C link-arg=pack-relative-relocs \
			-C link-arg=--no-eh-frame-hdr \
			-C link-arg=-T -C link-arg="$PWD/scripts/no-eh-frame.ld" ||
			{ failed="$failed $t"; continue; }
	fi
	bin=target/$t/release/tug
	scripts/check-static.sh "$bin" || { failed="$failed $t"; continue; }
	sizes="$sizes$(printf '%-34s %8s bytes' "$t" "$(wc -c <"$bin")")
"
done
printf 'release builds (static):\n%s' "$sizes"
[ -z "$failed" ] || { echo "release: failed:$failed" >&2; exit 1; }
