# shellcheck shell=bash
# The size section of scripts/bench.sh (sourced by it; uses its md, log, die,
# measure_startup, measure_idle, startup_field and the INIT_* tables).
#
# Per target and build: the file size and the sizes of .text, .rodata and the
# data sections, for every build that exists (x86_64's default and tiny are
# built here; aarch64 and armv7 come from `make release`), beside
# tini-static. Then the largest modules of the default x86_64 build, from an
# unstripped copy linked with the same flags, and the tiny build's start-up
# overhead and RSS beside the default build's and tini-static's.

SIZE_TARGETS=${BENCH_SIZE_TARGETS:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf}
SIZE_BUDGET_DEFAULT=614400 # 600 KB (KiB)
SIZE_BUDGET_TINY=409600    # 400 KB (KiB)
TINY=$ROOT/target/tiny/$TARGET/tiny/tug

# section_sizes FILE -> "text rodata data" in bytes (data: .data, .data.rel.ro,
# .init_array/.fini_array, .got; .bss takes no room in the file). readelf
# reads any target's ELF.
section_sizes() {
	readelf -SW "$1" | awk '
		{ sub(/^ *\[ *[0-9]+\] */, "") }
		NF >= 6 && $1 ~ /^\./ {
			s = strtonum_hex($5)
			if ($1 == ".text") t += s
			else if ($1 == ".rodata") r += s
			else if ($1 == ".data" || $1 == ".data.rel.ro" || $1 == ".init_array" || $1 == ".fini_array" || $1 == ".got" || $1 == ".got.plt") d += s
		}
		function strtonum_hex(h,   i, c, n) {
			n = 0; h = tolower(h)
			for (i = 1; i <= length(h); i++) { c = index("0123456789abcdef", substr(h, i, 1)) - 1; n = n * 16 + c }
			return n
		}
		END { printf "%d %d %d\n", t, r, d }'
}

size_row() { # size_row TARGET BUILD FILE BUDGET
	local t r d size budget=$4 verdict=–
	size=$(stat -L -c %s "$3")
	read -r t r d < <(section_sizes "$3")
	[ "$budget" = – ] || verdict="$(((size * 1000 + 512) / 1024 / 1000)) KB of $((budget / 1024)) KB$( ((size <= budget)) || echo ' (**over**)')"
	md "| $1 | $2 | $size | $t | $r | $d | $verdict |"
}

# The default build unstripped, linked as `make build` links it (its
# LINK_ARGS read from the Makefile), grouped by module path (demangled
# symbol names up to the first type or item name); symbols without a Rust
# path are musl's C code and data.
SIZE_ANALYSIS_DIR=$ROOT/target/size-analysis
size_modules() { # size_modules N -> markdown rows
	local link_args bin=$SIZE_ANALYSIS_DIR/$TARGET/release/tug
	link_args=$(cd "$ROOT" && make -s -n -p build 2>/dev/null | sed -n 's/^LINK_ARGS := //p')
	[ -n "$link_args" ] || die "cannot read LINK_ARGS from the Makefile"
	log "size: building an unstripped copy of the default build in $SIZE_ANALYSIS_DIR"
	# shellcheck disable=SC2086 # a list of flags
	(cd "$ROOT" && cargo rustc -q --release --target "$TARGET" --target-dir "$SIZE_ANALYSIS_DIR" --bin tug \
		--config 'profile.release.strip=false' -- $link_args) >&2 || die "the unstripped build failed"
	nm -S -C "$bin" | python3 -c '
import collections, re, sys
n = int(sys.argv[1])
sizes, total, seen = collections.Counter(), 0, set()
for line in sys.stdin:
    f = line.split(None, 3)
    if len(f) < 4 or len(f[2]) != 1 or f[2] not in "tTrRdDbB":
        continue
    size, kind, name = int(f[1], 16), f[2].lower(), f[3]
    if (f[0], size) in seen:  # an alias (musl: weak_alias) of a symbol counted
        continue
    seen.add((f[0], size))
    total += size
    m = re.match(r"<*(?:impl )?([A-Za-z_]\w*(?:::[A-Za-z_]\w*)*)", name)
    if name.startswith("OUTLINED_FUNCTION"):
        key = "machine outliner (code shared by several functions)"
    elif "::" not in name or not m:
        key = "musl (C code)" if kind == "t" else "musl and linker data"
    else:
        path = []
        for part in m.group(1).split("::"):
            if part[:1].isupper():
                break
            path.append(part)
        key = "::".join(path[:3]) or m.group(1).split("::")[0]
        if kind != "t":
            key += " (data)"
    sizes[key] += size
for key, size in sizes.most_common(n):
    print("| `%s` | %d | %.1f %% |" % (key, size, 100.0 * size / total))
print("| all symbols | %d | 100 %% |" % total)
' "$1"
}

bench_size() {
	log "section: size"
	log "building tug tiny (make tiny)"
	(cd "$ROOT" && make tiny) >&2 || die "make tiny failed"
	[ -x "$TINY" ] || die "no tiny binary at $TINY"
	log "building tug with the Chaperone front-end (make chaperone)"
	(cd "$ROOT" && make chaperone) >&2 || die "make chaperone failed"

	md "## Binary size" ""
	md "How measured: file size \`stat -c %s\`; section sizes from \`readelf -S\` (.text; .rodata;" \
		"data = .data, .data.rel.ro, .init_array, .fini_array and .got; .bss takes no file space)." \
		"The default build is \`make build\` (release profile, stripped, not PIE, rust-lld, no unwind tables, machine outliner, \`--icf=all\`," \
		"the LLVM passes of the Makefile's CODEGEN_ARGS set for size); \"default + chaperone\" is \`make chaperone\`, the same with the" \
		"Chaperone front-end and telchap (a cargo feature until it fits the default build's budget);" \
		"the tiny build \`make tiny\` (core and alloc rebuilt with \`-Zbuild-std\`, immediate-abort panics," \
		"no unwind tables in any crate, no panic locations); aarch64 and armv7 rows appear when their builds exist" \
		"(\`make release\` for the default build, linked with its own rust-lld flags; \`make tiny TARGET=...\`)." \
		"Budgets: default ≤ 600 KB, tiny ≤ 400 KB (KB = 1024 bytes)." ""
	md "| target | build | file (bytes) | .text | .rodata | data | budget |" \
		"| --- | --- | ---: | ---: | ---: | ---: | --- |"
	local t bin
	for t in $SIZE_TARGETS; do
		bin=$ROOT/target/$t/release/tug
		[ -f "$bin" ] && size_row "${t%%-*}" default "$bin" "$SIZE_BUDGET_DEFAULT"
		bin=$ROOT/target/tiny/$t/tiny/tug
		[ -f "$bin" ] && size_row "${t%%-*}" tiny "$bin" "$SIZE_BUDGET_TINY"
	done
	size_row x86_64 "default + chaperone" "$ROOT/target/chaperone/$TARGET/release/tug" "$SIZE_BUDGET_DEFAULT"
	size_row x86_64 "tini-static ${INIT_VER[tini-static]} (Debian)" "${INIT_BIN[tini-static]}" –
	md ""

	md "### Largest modules (default build, x86_64)" ""
	md "How measured: the default build linked again with the same flags but not stripped" \
		"(\`target/size-analysis\`), \`nm -S -C\` (demangled), each symbol's size (an alias counted once) added to its path (the" \
		"demangled path cut before the first type name, at most three levels, so a module or a free function;" \
		"impl blocks count to the path they start with; non-code symbols marked \`(data)\`). With LTO and one codegen unit a function" \
		"inlined into another counts to its caller's module. String literals are unnamed (not symbols) and not" \
		"in these figures." ""
	md "| module | bytes | share of symbol bytes |" "| --- | ---: | ---: |"
	md "$(size_modules 15)"
	md ""

	# Start-up overhead and RSS: the init section's measures, on these three.
	log "size: start-up and RSS of tug tiny, tug and tini-static"
	local saved=("${INITS[@]}") rc
	INITS=(tug tug-tiny tini-static)
	INIT_BIN[tug-tiny]=$TINY
	INIT_CMD[tug-tiny]="$TINY --"
	rc=0
	$TINY -- /bin/sh -c 'exit 7' || rc=$?
	[ "$rc" = 7 ] || die "tug tiny: '$TINY -- /bin/sh -c \"exit 7\"' exited $rc, not 7"
	measure_startup
	measure_idle
	md "### Tiny build: start-up and RSS" ""
	md "How measured: as in the init core section (\`hyperfine -N --warmup $WARMUP --runs $RUNS\` over" \
		"\`INIT -- static-true\`, $ROUNDS rotated rounds; overhead over the bare static true as a ratio to" \
		"tini-static's; own \`VmRSS\` while the child sleeps), these three measured together." ""
	md "| binary | size (bytes) | start-up overhead vs tini-static (ratio, range over rounds) | overhead (µs) | own RSS (kB) |" \
		"| --- | ---: | ---: | ---: | ---: |"
	local n
	for n in "${INITS[@]}"; do
		md "| $n | $(stat -L -c %s "${INIT_BIN[$n]}") | $(startup_field "$n" 6) ($(startup_field "$n" 8)–$(startup_field "$n" 9)) | $(awk -v s="$(startup_field "$n" 5)" 'BEGIN { printf "%.1f", s * 1e6 }') | ${RSS_KB[$n]} |"
	done
	md ""
	INITS=("${saved[@]}")
}
