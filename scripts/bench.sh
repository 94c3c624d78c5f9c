#!/usr/bin/env bash
# Benchmarks tug against other container inits and writes docs/BENCHMARKS.md.
#
#   scripts/bench.sh            # build tug, install the other inits, measure
#
# Layout: main() writes the header, then calls one function per section
# (bench_init, ...). Each section function measures and appends its own
# markdown with md(). To add a section (supervisor, watch latency, ...), write
# another bench_* function and call it from main().
#
# Knobs (environment): BENCH_RUNS (1000), BENCH_WARMUP (50), BENCH_ROUNDS (5),
# BENCH_IDLE_SECS (10).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/docs/BENCHMARKS.md
TARGET=x86_64-unknown-linux-musl
TUG=$ROOT/target/$TARGET/release/tug

RUNS=${BENCH_RUNS:-1000}
WARMUP=${BENCH_WARMUP:-50}
ROUNDS=${BENCH_ROUNDS:-5}
IDLE_SECS=${BENCH_IDLE_SECS:-10}

# Targets for the init core.
TARGET_SIZE=409600 # 400 KB (KiB)
TARGET_RSS_KB=600
TARGET_OVERHEAD_RATIO=1.00
TARGET_WAKEUPS=0

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tug-bench.XXXXXX")
MD=$WORK/BENCHMARKS.md
declare -A BG_PIDS=() # background inits still to be cleaned up, by PID

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
md() { printf '%s\n' "$@" >>"$MD"; }

# ---------------------------------------------------------------------------
# Process helpers

alive() { # true while PID exists and is not a zombie
	local st
	st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

children_of() { cat /proc/"$1"/task/*/children 2>/dev/null || true; }

# Kill PID's children and PID itself with SIGKILL (used by the EXIT trap).
kill_tree() {
	local pid=$1 kid
	for kid in $(children_of "$pid"); do kill -KILL "$kid" 2>/dev/null || true; done
	kill -KILL "$pid" 2>/dev/null || true
}

# Stop an init the normal way: SIGTERM, which it forwards to its child. Falls
# back to SIGKILL for the whole tree after 2 s.
stop_init() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		alive "$pid" || break
		sleep 0.02
	done
	alive "$pid" && {
		log "pid $pid ignored SIGTERM for 2 s; killing it"
		kill_tree "$pid"
	}
	wait "$pid" 2>/dev/null || true
	unset 'BG_PIDS[$pid]'
}

cleanup() {
	local pid
	for pid in "${!BG_PIDS[@]}"; do kill_tree "$pid"; done
	for pid in "${!BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Wait (bounded) until PID has a child that has exec'd a program named COMM.
# Prints the child's PID.
wait_for_child() {
	local pid=$1 comm=$2 i kid
	for ((i = 0; i < 500; i++)); do
		for kid in $(children_of "$pid"); do
			if [ "$(cat "/proc/$kid/comm" 2>/dev/null)" = "$comm" ]; then
				echo "$kid"
				return 0
			fi
		done
		alive "$pid" || return 1
		sleep 0.01
	done
	return 1
}

status_field() { # status_field PID FIELD -> number
	awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status"
}

ctxt_switches() { # voluntary + nonvoluntary, summed over all threads of PID
	cat /proc/"$1"/task/*/status |
		awk '$1 == "voluntary_ctxt_switches:" || $1 == "nonvoluntary_ctxt_switches:" { n += $2 } END { print n + 0 }'
}

# ---------------------------------------------------------------------------
# Setup

ensure_packages() {
	local missing=() p
	for p in tini dumb-init catatonit hyperfine gcc file jq; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	((${#missing[@]})) || return 0
	local sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	log "installing ${missing[*]}"
	$sudo apt-get update -qq >&2 || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed"
	for p in "${missing[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			die "package $p is still not installed"
	done
}

pkg_bin() { # pkg_bin PACKAGE NAME -> path of the executable NAME that PACKAGE ships
	local f
	f=$(dpkg -L "$1" | awk -v n="/$2" 'substr($0, length($0) - length(n) + 1) == n' |
		while read -r f; do [ -f "$f" ] && [ -x "$f" ] && echo "$f"; done | awk 'NR == 1')
	[ -n "$f" ] || die "package $1 ships no executable named $2"
	echo "$f"
}

build_tug() {
	log "building tug (cargo build --release --target $TARGET)"
	(cd "$ROOT" && cargo build --release --target "$TARGET") || die "cargo build failed"
	[ -x "$TUG" ] || die "no tug binary at $TUG"
}

build_static_true() {
	STATIC_TRUE=$WORK/true
	gcc -static -nostdlib -Os -s -fno-asynchronous-unwind-tables \
		-o "$STATIC_TRUE" "$ROOT/scripts/static-true.c" || die "cannot build static true"
	"$STATIC_TRUE" || die "static true does not exit 0"
}

# INITS: names in table order; INIT_CMD[name]: the command prefix before the
# child's argv (paths contain no spaces, so it is split on whitespace).
declare -a INITS
declare -A INIT_CMD INIT_BIN INIT_VER

find_inits() {
	local tini tini_static dumb catat
	tini=$(pkg_bin tini tini)
	tini_static=$(pkg_bin tini tini-static)
	dumb=$(pkg_bin dumb-init dumb-init)
	catat=$(pkg_bin catatonit catatonit)
	INITS=(tug tini tini-static dumb-init catatonit)
	INIT_BIN=([tug]=$TUG [tini]=$tini [tini-static]=$tini_static [dumb-init]=$dumb [catatonit]=$catat)
	# Not PID 1 here: -s makes tini a subreaper instead of warning about it.
	# tug, dumb-init and catatonit need nothing to run as a non-PID-1 init.
	INIT_CMD=(
		[tug]="$TUG --"
		[tini]="$tini -s --"
		[tini-static]="$tini_static -s --"
		[dumb-init]="$dumb --"
		[catatonit]="$catat --"
	)
	INIT_VER=(
		[tug]="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
		[tini]="$(dpkg-query -W -f='${Version}' tini)"
		[tini-static]="$(dpkg-query -W -f='${Version}' tini)"
		[dumb-init]="$(dpkg-query -W -f='${Version}' dumb-init)"
		[catatonit]="$(dpkg-query -W -f='${Version}' catatonit)"
	)
	local n
	for n in "${INITS[@]}"; do
		case ${INIT_BIN[$n]} in *[[:space:]]*) die "path with whitespace: ${INIT_BIN[$n]}" ;; esac
	done
}

# Each init must accept `--`, run the child and pass its exit code on, quietly.
check_inits() {
	local n rc err
	for n in "${INITS[@]}"; do
		rc=0
		# shellcheck disable=SC2086
		${INIT_CMD[$n]} /bin/sh -c 'exit 7' 2>"$WORK/err" || rc=$?
		err=$(cat "$WORK/err")
		[ "$rc" = 7 ] || die "$n: '${INIT_CMD[$n]} /bin/sh -c \"exit 7\"' exited $rc, not 7 (stderr: $err)"
		[ -z "$err" ] || log "$n writes to stderr: $err"
		# shellcheck disable=SC2086
		${INIT_CMD[$n]} "$STATIC_TRUE" || die "$n: cannot run the static true"
	done
}

# ---------------------------------------------------------------------------
# Section: the init core

# Start-up: hyperfine over `INIT -- static-true` and the bare static true, in
# BENCH_ROUNDS rounds with the command order rotated each round (so slow drift
# of the machine does not favour whoever runs first). Per init: the mean of
# the per-round means, stddev of one round, and the spread of the overhead
# ratio across rounds.
measure_startup() {
	local names=(bare "${INITS[@]}") r i k n args json
	: >"$WORK/startup.tsv"
	for ((r = 0; r < ROUNDS; r++)); do
		args=()
		for ((i = 0; i < ${#names[@]}; i++)); do
			k=$(((i + r) % ${#names[@]}))
			n=${names[$k]}
			if [ "$n" = bare ]; then
				args+=(-n bare "$STATIC_TRUE")
			else
				args+=(-n "$n" "${INIT_CMD[$n]} $STATIC_TRUE")
			fi
		done
		json=$WORK/startup-$r.json
		log "start-up round $((r + 1))/$ROUNDS: hyperfine -N --warmup $WARMUP --runs $RUNS (${#names[@]} commands)"
		hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$json" "${args[@]}" \
			>"$WORK/hyperfine-$r.log" 2>&1 || {
			cat "$WORK/hyperfine-$r.log" >&2
			die "hyperfine failed"
		}
		jq -r --arg r "$r" '.results[] | [$r, .command, .mean, .stddev, .median] | @tsv' "$json" >>"$WORK/startup.tsv"
	done
	# Per round: overhead = mean(init) - mean(bare); ratio = overhead / overhead(tini-static).
	# Output per init: mean_s stddev_s median_s overhead_s overhead_ratio mean_ratio ratio_min ratio_max
	# median_overhead_ratio (the same ratio computed from medians, less sensitive to outliers)
	awk -F'\t' '
		{ mean[$1, $2] = $3; sd[$1, $2] = $4; med[$1, $2] = $5; rounds[$1] = 1; names[$2] = 1 }
		END {
			nr = 0; for (r in rounds) nr++
			for (n in names) {
				m = s = d = ov = 0; lo = 1e9; hi = -1e9
				for (r in rounds) {
					m += mean[r, n]; s += sd[r, n]; d += med[r, n]
					o = mean[r, n] - mean[r, "bare"]; ov += o
					ref = mean[r, "tini-static"] - mean[r, "bare"]
					q = (ref > 0) ? o / ref : 0
					if (q < lo) lo = q; if (q > hi) hi = q
				}
				M[n] = m / nr; S[n] = s / nr; D[n] = d / nr; O[n] = ov / nr; LO[n] = lo; HI[n] = hi
			}
			for (n in names)
				printf "%s\t%.9f\t%.9f\t%.9f\t%.9f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\n", n, M[n], S[n], D[n], O[n],
					(O["tini-static"] > 0 ? O[n] / O["tini-static"] : 0), M[n] / M["tini-static"], LO[n], HI[n],
					(D["tini-static"] > D["bare"] ? (D[n] - D["bare"]) / (D["tini-static"] - D["bare"]) : 0)
		}' "$WORK/startup.tsv" >"$WORK/startup-summary.tsv"
}

startup_field() { # startup_field NAME COLUMN(2..10)
	awk -F'\t' -v n="$1" -v c="$2" '$1 == n { print $c }' "$WORK/startup-summary.tsv"
}

# Own RSS and idle wake-ups: start every init with a sleeping child at once;
# once each child has exec'd sleep (plus 0.5 s to settle), read the init's
# VmRSS and context switches, wait BENCH_IDLE_SECS, read the switches again.
declare -A RSS_KB WAKEUPS
measure_idle() {
	local n pid kid sleep_bin
	local -A pids before
	sleep_bin=$(command -v sleep)
	for n in "${INITS[@]}"; do
		# shellcheck disable=SC2086
		${INIT_CMD[$n]} "$sleep_bin" $((IDLE_SECS + 50)) </dev/null >/dev/null 2>&1 &
		pids[$n]=$!
		BG_PIDS[$!]=1
	done
	for n in "${INITS[@]}"; do
		kid=$(wait_for_child "${pids[$n]}" sleep) || die "$n: its child never became 'sleep'"
		: "$kid"
	done
	sleep 0.5
	for n in "${INITS[@]}"; do
		pid=${pids[$n]}
		RSS_KB[$n]=$(status_field "$pid" VmRSS)
		before[$n]=$(ctxt_switches "$pid")
	done
	log "idle window: ${IDLE_SECS} s with all ${#INITS[@]} inits running"
	sleep "$IDLE_SECS" & # in the background so that a signal to this script is handled at once
	BG_PIDS[$!]=1
	wait $!
	unset 'BG_PIDS[$!]'
	for n in "${INITS[@]}"; do
		pid=${pids[$n]}
		alive "$pid" || die "$n exited during the idle window"
		WAKEUPS[$n]=$(($(ctxt_switches "$pid") - ${before[$n]}))
	done
	for n in "${INITS[@]}"; do stop_init "${pids[$n]}"; done
}

verdict() { if [ "$1" = 1 ]; then echo "**met**"; else echo "**not met**"; fi; }

bench_init() {
	local n size static kind ov_ratio mean_ratio
	log "section: init core"
	measure_startup
	measure_idle

	md "## Init core: tug vs other container inits" ""
	md "How measured: every init runs as an ordinary (non-PID-1) process, tini and tini-static with \`-s\`" \
		"(subreaper), the others with no option. **Start-up overhead** is measured with \`hyperfine -N --warmup $WARMUP" \
		"--runs $RUNS\` over \`INIT -- static-true\` and over the bare \`static-true\` (a libc-free static binary" \
		"whose \`_start\` calls \`exit_group(0)\`, built from \`scripts/static-true.c\`); overhead = mean(init) −" \
		"mean(bare), given as a ratio to tini-static's overhead (tini-static = 1.00). Each init is measured in $ROUNDS round(s)" \
		"of one hyperfine run each, the command order rotated between rounds; the headline uses the means averaged over rounds, the range is the smallest" \
		"and largest per-round ratio. **Own RSS** is the init's \`VmRSS\` from \`/proc/PID/status\` while its child" \
		"(\`sleep\`) is running. **Idle wake-ups** are the init's voluntary + non-voluntary context switches" \
		"(\`/proc/PID/status\`) over one ${IDLE_SECS} s window while its child sleeps; all inits idle in the same" \
		"window. Sizes are \`stat -c %s\` of the installed binary, static-ness from \`file(1)\`." ""

	md "| init | version | size (bytes) | static? | start-up overhead vs tini-static (ratio, range over rounds) | mean time vs tini-static (ratio) | own RSS (kB) | idle wake-ups / ${IDLE_SECS} s |" \
		"| --- | --- | ---: | :---: | ---: | ---: | ---: | ---: |"
	for n in "${INITS[@]}"; do
		size=$(stat -L -c %s "${INIT_BIN[$n]}")
		kind=$(file -L -b "${INIT_BIN[$n]}")
		case $kind in *"statically linked"* | *"static-pie linked"*) static=yes ;; *) static=no ;; esac
		ov_ratio=$(startup_field "$n" 6)
		mean_ratio=$(startup_field "$n" 7)
		md "| $n | ${INIT_VER[$n]} | $size | $static | $ov_ratio ($(startup_field "$n" 8)–$(startup_field "$n" 9)) | $mean_ratio | ${RSS_KB[$n]} | ${WAKEUPS[$n]} |"
	done
	md "" "<details><summary>Raw start-up times (µs, mean over $ROUNDS rounds of $RUNS runs; machine-dependent)</summary>" "" \
		"| command | mean | stddev | median | overhead over bare (means) | overhead ratio from medians |" \
		"| --- | ---: | ---: | ---: | ---: | ---: |"
	for n in bare "${INITS[@]}"; do
		md "$(awk -F'\t' -v n="$n" '$1 == n { printf "| %s | %.1f | %.1f | %.1f | %.1f | %s |", n, $2 * 1e6, $3 * 1e6, $4 * 1e6, $5 * 1e6, (n == "bare" ? "–" : $10) }' \
			"$WORK/startup-summary.tsv")"
	done
	md "" "</details>" ""

	# Targets.
	local tug_size tug_ratio tug_rss tug_wake ok
	tug_size=$(stat -L -c %s "$TUG")
	tug_ratio=$(startup_field tug 6)
	tug_rss=${RSS_KB[tug]}
	tug_wake=${WAKEUPS[tug]}
	md "## Targets for the init core" "" "| target | measured | verdict |" "| --- | --- | --- |"
	ok=$((tug_size <= TARGET_SIZE))
	md "| binary ≤ 400 KB ($TARGET_SIZE bytes) | $tug_size bytes | $(verdict $ok) |"
	ok=$(awk -v r="$tug_ratio" -v t="$TARGET_OVERHEAD_RATIO" 'BEGIN { print (r <= t) ? 1 : 0 }')
	md "| start-up overhead no worse than tini-static's (ratio ≤ $TARGET_OVERHEAD_RATIO) | $tug_ratio (per-round range $(startup_field tug 8)–$(startup_field tug 9)) | $(verdict "$ok") |"
	ok=$((tug_rss <= TARGET_RSS_KB))
	md "| own RSS ≤ $TARGET_RSS_KB kB | $tug_rss kB | $(verdict $ok) |"
	ok=$((tug_wake <= TARGET_WAKEUPS))
	md "| $TARGET_WAKEUPS idle wake-ups | $tug_wake in ${IDLE_SECS} s | $(verdict $ok) |"
	md "" "The start-up ratios are noisy: the per-round range shows how far they moved between rounds on" \
		"this machine. A ratio whose range includes 1.00 means \"as fast as tini-static\", neither faster" \
		"nor slower." ""
}

# ---------------------------------------------------------------------------

write_header() {
	local cpu
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	: >"$MD"
	md "# Benchmarks" "" \
		"Generated by \`scripts/bench.sh\`; re-run it to refresh this file. Figures depend on the machine;" \
		"compare ratios, not absolute times." "" \
		"- Date: $(date -u '+%Y-%m-%d %H:%M UTC')" \
		"- Kernel: $(uname -r) ($(uname -m))" \
		"- CPUs: $(nproc)${cpu:+ × $cpu}" \
		"- tug: \`${INIT_VER[tug]}\`, built with \`cargo build --release --target $TARGET\`" \
		"- hyperfine: $(hyperfine --version | awk '{ print $2 }')" ""
}

main() {
	ensure_packages
	build_tug
	build_static_true
	find_inits
	check_inits
	write_header
	bench_init
	mkdir -p "$(dirname "$OUT")"
	cp "$MD" "$OUT"
	log "wrote $OUT"
	cat "$OUT"
}

main "$@"
