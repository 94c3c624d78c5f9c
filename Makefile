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

.PHONY: all build probe test test-deps lint run bench image fuzz clean musl-target release test-cross

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

# RELR relocations (`-z pack-relative-relocs`, read by musl >= 1.2.4, which
# Rust bundles) keep the binary static-pie while its relocation table
# shrinks from ~19 KB to a few hundred bytes. With panic=abort and no
# unwinder nothing reads unwind tables: `--no-eh-frame-hdr` drops their
# lookup table (~12 KB) and scripts/no-eh-frame.ld the tables (~74 KB).
LINK_ARGS := -C link-arg=-Wl,-z,pack-relative-relocs \
	-C link-arg=-Wl,--no-eh-frame-hdr \
	-C link-arg=-Wl,-T,$(CURDIR)/scripts/no-eh-frame.ld
build: musl-target
	$(CARGO) rustc --release --target $(TARGET) --bin tug -- $(LINK_ARGS)
	@echo "tug binary: $$(wc -c <$(BIN)) bytes"
	@scripts/check-static.sh $(BIN)

# Static builds for x86_64, aarch64 and armv7 (or RELEASE_TARGETS), linked
# with rust-lld from the toolchain; sizes listed.
release:
	LINK_ARGS='$(LINK_ARGS)' scripts/release.sh $(RELEASE_TARGETS)

probe: musl-target
	$(CARGO) build --release --target $(TARGET) --example probe

lint:
	python3 scripts/check-imports.py
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --release --target $(TARGET) --bin tug -- -D warnings

test: test-deps build probe lint
	$(CARGO) test -- --test-threads=4
	@if [ -n "$${CI:-}" ] && [ "$$CI" != false ]; then $(MAKE) test-cross; fi

# The portable tests (unit, init, jobs, CLI) for aarch64 and armv7 (or
# CROSS_TARGETS) under qemu-user; CI runs it after `make test`'s own.
test-cross: test-deps
	scripts/test-cross.sh $(CROSS_TARGETS)

run: build
	scripts/demo.sh $(BIN)

bench: build probe
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
