# tug — `make test` is the test command (CI runs it through .ci/run);
# `make run` shows tug at work. `make build`, `run` and `image` need only the
# Rust toolchain with the musl target (and Docker for `image`); `make test`
# also installs the tools the tests use (scripts/test-deps.sh). Nothing here
# needs network access beyond crates.io, PyPI and Debian's archive.

TARGET  := x86_64-unknown-linux-musl
RELEASE := target/$(TARGET)/release
BIN     := $(RELEASE)/tug
PROBE   := $(RELEASE)/examples/probe
CARGO   ?= cargo
RUSTC   ?= rustc
# `make image TAG=myrepo/tug:1.0`
TAG     ?= tug:latest

.PHONY: all build probe test test-deps lint run bench image fuzz clean musl-target release tiny test-tiny rust-src test-cross chaperone

all: build

# The musl target's standard library: already in the toolchain's sysroot
# (however it was installed), or added with rustup. No root needed.
musl-target:
	@sysroot=$$($(RUSTC) --print sysroot) || { echo "error: $(RUSTC) not found: install Rust (https://rustup.rs)" >&2; exit 1; }; \
	[ -d "$$sysroot/lib/rustlib/$(TARGET)/lib" ] && exit 0; \
	command -v rustup >/dev/null || { echo "error: the Rust target $(TARGET) is not installed in $$sysroot and there is no rustup to add it: install it with your toolchain (for rustup: rustup target add $(TARGET))" >&2; exit 1; }; \
	echo "adding the Rust target $(TARGET) with rustup" >&2; \
	rustup target add $(TARGET)

# What the tests run besides tug (etcd, promtool, python3...): Debian
# packages, installed when missing (needs root then).
test-deps:
	@scripts/test-deps.sh

# A plain static executable (as tini-static and busybox-static are), not
# static-pie: absolute addresses make shorter code (-11 KB) and need no
# relocations at start-up; the image is not randomized (ASLR), its heap,
# stack and mmaps still are. (For static-pie, drop `relocation-model=static`:
# `-z pack-relative-relocs`, RELR relocations read by musl >= 1.2.4, then
# keeps its relocation table at a few hundred bytes instead of ~19 KB.)
# With panic=abort and no unwinder nothing reads unwind tables:
# `--no-eh-frame-hdr` drops their lookup table (~12 KB) and
# scripts/no-eh-frame.ld the tables (~74 KB).
# LLVM passes that trade code size for loop speed, off or set for size
# (opt-level z leaves them on). Measured with the chaperone feature, each
# against the others: machine LICM off (-8.6 KB: hoisting constants and
# addresses out of loops made the registers spill), IR constant hoisting
# off (-3.0 KB), loop strength reduction off (-2.0 KB), x86's
# store-forwarding split of copies off (-1.5 KB), LICM's promotion of
# memory to registers off (-1.0 KB), the register allocator's splitting
# for size (-0.6 KB), GVN's load PRE and memory dependences off (-0.8
# KB), no loop alignment (-0.4 KB), no cmov-to-branch conversion (-0.2
# KB), and no jump table for a switch under 24 cases (-3.3 KB: 8 bytes a
# case in .rodata, absolute with relocation-model=static, where a few
# compares cost less). Each only turns an optimization off or picks a
# heuristic: none changes what the code does. tug has no loop hot enough
# for these to show: the logs benchmark (a syslog flood, the hottest
# path), run with and without them, gave the same CPU per message (0.44
# of rsyslogd's both times). Left out although smaller:
# -enable-ipra (-1.7 KB: interprocedural register allocation, off by
# default in LLVM, has open x86 miscompiles, llvm-project #109739, and
# crashes with the machine outliner, #119556).
# x86-only options are accepted, and ignored, for the other targets.
CODEGEN_ARGS := -C llvm-args=-enable-machine-outliner=always \
	-C llvm-args=-enable-ext-tsp-block-placement -C llvm-args=-tail-merge-size=2 \
	-C llvm-args=-min-jump-table-entries=24 \
	-C llvm-args=-disable-machine-licm -C llvm-args=-disable-constant-hoisting \
	-C llvm-args=-disable-lsr -C llvm-args=-x86-disable-avoid-SFB \
	-C llvm-args=-disable-licm-promotion -C llvm-args=-split-spill-mode=size \
	-C llvm-args=-enable-pre=false -C llvm-args=-enable-gvn-memdep=false \
	-C llvm-args=-align-loops=1 -C llvm-args=-x86-cmov-converter=false
# rust-lld (shipped with the toolchain, as for the cross builds) instead of
# cc and ld.bfd: no page padding between the segments (-7.4 KB), and `-O2`
# merges the tails of strings (-0.3 KB); LLVM's machine outliner turns
# repeated instruction sequences into calls (-9.7 KB). `--icf=all` folds
# identical functions into one (-2.7 KB with the chaperone feature); safe
# because nothing in tug compares function or vtable addresses (no fn-pointer
# or `dyn` pointer equality anywhere in src/) and `make tiny` has run the
# whole suite with it. (`--icf=safe` folds nothing here.) LLVM's ext-TSP
# block placement and tail merging of two-instruction tails lay the same
# code out in fewer jumps (-1.7 KB); they change no behaviour. The
# code-generation flags in CODEGEN_ARGS above save 21.5 KB more.
LINK_ARGS := -C relocation-model=static \
	-C linker=rust-lld -C linker-flavor=ld.lld -C link-self-contained=yes \
	-C link-arg=-z -C link-arg=pack-relative-relocs \
	-C link-arg=--no-eh-frame-hdr \
	-C link-arg=-T -C link-arg=$(CURDIR)/scripts/no-eh-frame.ld \
	-C link-arg=-O2 -C link-arg=--icf=all $(CODEGEN_ARGS)
build: musl-target
	$(CARGO) rustc --release --target $(TARGET) --bin tug -- $(LINK_ARGS)
	@echo "tug binary: $$(wc -c <$(BIN)) bytes"
	@scripts/check-static.sh $(BIN)

# `make tiny`: the same features, smaller: core and alloc rebuilt from
# source (-Zbuild-std, on the stable toolchain through RUSTC_BOOTSTRAP) with
# the `tiny` profile (release's) for every crate, panics that abort at once
# (no panic message or location formatting), core's optimize_for_size
# algorithms, no unwind tables anywhere, the machine outliner, rust-lld with
# identical code folding of every function, and a plain static executable
# (as tini-static is) instead of static-pie: absolute addresses make shorter
# code and need no relocations, but the image is not randomized (ASLR).
# Its own target dir: it never replaces `make build`'s binary.
# `make test-tiny` runs the tests on it.
TINY_DIR := target/tiny
TINY     := $(TINY_DIR)/$(TARGET)/tiny/tug
TINY_RUSTFLAGS := -C force-unwind-tables=no -Z location-detail=none \
	-C relocation-model=static \
	-C linker=rust-lld -C linker-flavor=ld.lld -C link-self-contained=yes \
	-C link-arg=--no-eh-frame-hdr -C link-arg=-T -C link-arg=$(CURDIR)/scripts/no-eh-frame.ld \
	-C link-arg=--icf=all -C link-arg=-O2 $(CODEGEN_ARGS)
# -Zbuild-std needs the standard library's source (rustup's rust-src).
rust-src:
	@sysroot=$$($(RUSTC) --print sysroot) || exit 1; \
	[ -f "$$sysroot/lib/rustlib/src/rust/library/core/Cargo.toml" ] && exit 0; \
	command -v rustup >/dev/null || { echo "error: make tiny and the armv7 build of make release need the standard library's source in $$sysroot/lib/rustlib/src (for rustup: rustup component add rust-src)" >&2; exit 1; }; \
	echo "adding the rust-src component with rustup" >&2; \
	rustup component add rust-src
tiny: musl-target rust-src
	RUSTC_BOOTSTRAP=1 RUSTFLAGS='$(TINY_RUSTFLAGS)' $(CARGO) build --profile tiny \
	  --target $(TARGET) --target-dir $(TINY_DIR) --bin tug \
	  -Zbuild-std=core,alloc -Zbuild-std-features=optimize_for_size \
	  -Zpanic-immediate-abort --config 'profile.tiny.panic="immediate-abort"'
	@echo "tug tiny binary: $$(wc -c <$(TINY)) bytes ($(TINY))"
	@scripts/check-static.sh $(TINY)

# The whole test suite against the tiny binary (TUG_BIN selects it).
test-tiny: test-deps tiny probe
	TUG_BIN=$(CURDIR)/$(TINY) $(CARGO) test -- --test-threads=4

# The default build plus the Chaperone front-end (issue 12, in progress;
# not in `make build` until it fits the size budget), in its own target
# dir. `make test` runs tests/chaperone.rs against it.
CHAPERONE := target/chaperone/$(TARGET)/release/tug
chaperone: musl-target
	$(CARGO) rustc --release --target $(TARGET) --target-dir target/chaperone --features chaperone --bin tug -- $(LINK_ARGS)
	@echo "tug binary with the chaperone feature: $$(wc -c <$(CHAPERONE)) bytes"

# Static builds for x86_64, aarch64 and armv7 (or RELEASE_TARGETS), linked
# with rust-lld from the toolchain; sizes listed.
release: rust-src
	LINK_ARGS='$(LINK_ARGS)' CODEGEN_ARGS='$(CODEGEN_ARGS)' scripts/release.sh $(RELEASE_TARGETS)

probe: musl-target
	$(CARGO) build --release --target $(TARGET) --example probe

lint:
	python3 scripts/check-imports.py
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --features chaperone -- -D warnings
	$(CARGO) clippy --release --target $(TARGET) --bin tug -- -D warnings

test: test-deps build chaperone probe lint
	$(CARGO) test -- --test-threads=4
	TUG_BIN=$(CHAPERONE) $(CARGO) test --features chaperone --test chaperone -- --test-threads=4
	TUG_BIN=$(CHAPERONE) $(CARGO) test --features chaperone --test telchap --test chaperone_image
	@if [ -n "$${CI:-}" ] && [ "$$CI" != false ]; then $(MAKE) test-cross; fi

# The portable tests (unit, init, jobs, CLI) for aarch64 and armv7 (or
# CROSS_TARGETS) under qemu-user; CI runs it after `make test`'s own.
test-cross: test-deps rust-src
	scripts/test-cross.sh $(CROSS_TARGETS)

run: build
	scripts/demo.sh $(BIN)

bench: test-deps build probe
	scripts/bench.sh

image: build
	docker build -f Dockerfile.scratch -t $(TAG) .

clean:
	$(CARGO) clean

# Fuzz the parsers for FUZZ_SECONDS each, from the seeds in tests/fuzz/seeds
# (and the ContainerPilot corpus in tests/compat for the config parsers) (cargo fuzz needs nightly features;
# RUSTC_BOOTSTRAP enables them on the stable toolchain).
FUZZ_SECONDS ?= 60
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	for t in $$(RUSTC_BOOTSTRAP=1 $(CARGO) fuzz list --fuzz-dir tests/fuzz); do \
	  seeds=""; [ -d tests/fuzz/seeds/$$t ] && seeds="tests/fuzz/seeds/$$t"; \
	  case $$t in config|json5|template) seeds="$$seeds tests/compat/containerpilot";; esac; \
	  dict=""; [ -f tests/fuzz/$$t.dict ] && dict="-dict=tests/fuzz/$$t.dict"; \
	  mkdir -p tests/fuzz/corpus/$$t; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --fuzz-dir tests/fuzz $$t tests/fuzz/corpus/$$t $$seeds -- -max_total_time=$(FUZZ_SECONDS) $$dict || exit 1; \
	done
