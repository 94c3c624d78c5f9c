#!/usr/bin/env bash
# Benchmarks tug against other container inits and writes docs/BENCHMARKS.md.
#
#   scripts/bench.sh            # build tug, install the other inits, measure
#
# Layout: main() writes the header, then calls one function per section
# (bench_init, bench_supervisors, bench_watch, bench_fleet, bench_services). Each section
# function measures and appends its own markdown with md(). To add a section,
# write another bench_* function and call it from main(). The discovery and
# control sections drive tug through scripts/bench_client.py (Python stdlib)
# against the Consul emulator (tests/consul/emulator.py) and a real etcd.
#
# Knobs (environment): BENCH_RUNS (1000), BENCH_WARMUP (50), BENCH_ROUNDS (5),
# BENCH_IDLE_SECS (10), BENCH_SUP_SECS (60: the supervisor window),
# BENCH_WATCH_CHANGES (200 per backend and series), BENCH_WATCH_GAP_MS (300:
# the quiet series' pause after each onChange run), BENCH_WATCH_CHURN_GAP_MS
# (150: the rolling-deploy series' schedule), BENCH_WATCH_IDLE_SECS (5),
# BENCH_FLEET_SECS (30: the 50-job window), BENCH_CTL_RUNS (300),
# BENCH_SVC_SECS (10: each inetd load window), BENCH_SVC_ROUNDS (3 windows
# per inetd server), BENCH_SVC_CLIENTS (50), BENCH_SVC_READY_RUNS (200),
# BENCH_SVC_JOBS (50), BENCH_SVC_IDLE_SECS (10).
# BENCH_SECTIONS="watch fleet" runs only those sections (init, supervisors,
# watch, fleet, services, size, logs, vm, registrator, chaperone) and prints the result without touching
# docs/BENCHMARKS.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/docs/BENCHMARKS.md
TARGET=x86_64-unknown-linux-musl
TUG=$ROOT/target/$TARGET/release/tug

RUNS=${BENCH_RUNS:-1000}
WARMUP=${BENCH_WARMUP:-50}
ROUNDS=${BENCH_ROUNDS:-5}
IDLE_SECS=${BENCH_IDLE_SECS:-10}
SUP_SECS=${BENCH_SUP_SECS:-60}
WATCH_CHANGES=${BENCH_WATCH_CHANGES:-200}
WATCH_GAP_MS=${BENCH_WATCH_GAP_MS:-300}
WATCH_CHURN_GAP_MS=${BENCH_WATCH_CHURN_GAP_MS:-150}
WATCH_IDLE_SECS=${BENCH_WATCH_IDLE_SECS:-5}
FLEET_SECS=${BENCH_FLEET_SECS:-30}
CTL_RUNS=${BENCH_CTL_RUNS:-300}
SVC_SECS=${BENCH_SVC_SECS:-10}
SVC_CLIENTS=${BENCH_SVC_CLIENTS:-50}
SVC_ROUNDS=${BENCH_SVC_ROUNDS:-3}
SVC_READY_RUNS=${BENCH_SVC_READY_RUNS:-200}
SVC_JOBS=${BENCH_SVC_JOBS:-50}
SVC_IDLE_SECS=${BENCH_SVC_IDLE_SECS:-10}
SECTIONS=${BENCH_SECTIONS:-init supervisors watch fleet services size logs vm registrator chaperone}

# Targets for supervisor mode: tug's own RSS against supervisord's and s6's.
TARGET_SUP_RSS_VS_SUPERVISORD=0.10 # at most a tenth
TARGET_SUP_RSS_VS_S6=1.00          # below s6-svscan + its s6-supervise processes

# Targets for the init core.
TARGET_SIZE=614400 # 600 KB (KiB): the default build with every feature (make tiny: 400 KB, in the size section)
TARGET_RSS_KB=600
TARGET_OVERHEAD_RATIO=1.00
TARGET_WAKEUPS=0

# Targets for discovery (issue 4) and the control plane (issue 5).
TARGET_WATCH_P99_MS=50
TARGET_WATCH_CHURN_BOUND_MS=200 # a change under churn is seen within this (+ one quiet change's p99)
TARGET_WATCH_QPS=5              # Consul queries per second per watch under churn (+ a burst of 2)
TARGET_CTL_STATUS_VS_CHECK=1.00 # a `tug ctl status` round trip faster than loading the config

# Targets for the service kinds (issue 10).
TARGET_INETD_RATE_VS_XINETD=1.00 # connections/s at least xinetd's
TARGET_INETD_RSS_VS_XINETD=0.25  # at most a quarter of xinetd's RSS
TARGET_READY_P99_MS=5            # READY=1 -> dependent exec'd
TARGET_NOTIFY_IDLE_WAKEUPS=0     # 50 notify jobs at rest
# The release binary before the issue-10 refactor (service kinds), for its growth.
SIZE_BEFORE_ISSUE10=485176 TEXT_BEFORE_ISSUE10=456704

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

# SIGSTOP every descendant of PID, each before its own children are listed
# (so that a supervisor cannot start a replacement in between); prints them.
stop_descendants() {
	local kid
	for kid in $(children_of "$1"); do
		kill -STOP "$kid" 2>/dev/null || true
		echo "$kid"
		stop_descendants "$kid"
	done
}

# Kill PID and all its descendants (children of supervisors included) with
# SIGKILL (used by the EXIT trap).
kill_tree() {
	local pid=$1 kid
	kill -STOP "$pid" 2>/dev/null || true
	for kid in $(stop_descendants "$pid"); do kill -KILL "$kid" 2>/dev/null || true; done
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
	kill_strays
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

nap() { # nap SECS: sleep in the background, so that a signal to this script is handled at once
	sleep "$1" &
	BG_PIDS[$!]=1
	wait $!
	unset 'BG_PIDS[$!]'
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
	for p in tini dumb-init catatonit supervisor s6 hyperfine gcc file jq etcd-server xinetd; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	command -v python3 >/dev/null || missing+=(python3) # any python3 will do
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
	# Debian starts the etcd it installs where systemd runs; the benchmark
	# starts its own on free ports.
	if [[ " ${missing[*]} " = *" etcd-server "* ]] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
		$sudo systemctl disable --now etcd >/dev/null 2>&1 || true
	fi
	# Likewise the system xinetd (the services section runs its own).
	if [[ " ${missing[*]} " = *" xinetd "* ]] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
		$sudo systemctl disable --now xinetd >/dev/null 2>&1 || true
	fi
}

pkg_bin() { # pkg_bin PACKAGE NAME -> path of the executable NAME that PACKAGE ships
	local f
	f=$(dpkg -L "$1" | awk -v n="/$2" 'substr($0, length($0) - length(n) + 1) == n' |
		while read -r f; do [ -f "$f" ] && [ -x "$f" ] && echo "$f"; done | awk 'NR == 1')
	[ -n "$f" ] || die "package $1 ships no executable named $2"
	echo "$f"
}

build_tug() {
	log "building tug (make build)"
	(cd "$ROOT" && make build) || die "make build failed"
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
	nap "$IDLE_SECS"
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
	md "| default build ≤ 600 KB ($TARGET_SIZE bytes) | $tug_size bytes | $(verdict $ok) |"
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
# Section: supervisor mode

# Three supervisors run the same SUP_JOBS children (a static pause() loop) at
# the same time, over one BENCH_SUP_SECS window: tug --config (with a tcp or
# http health check per job, every second, against one local listener),
# supervisord and s6-svscan. A second tug with the same jobs and no checks is
# the control: whatever it wakes up for, no timer asked for.
SUP_JOBS=10
SLEEPER=
declare -a SUPS
declare -A SUP_PID SUP_LABEL SUP_RSS SUP_WAKE SUP_CPU SUP_RESTARTS SUP_STOP SUP_KIDS SUP_PROCS
declare -A CTXT0 CPU0
TUG_RSS_FIRST=0 TUG_RSS_LAST=0 TUG_RSS_MIN=0 TUG_RSS_MAX=0
SUP_ELAPSED=0 CHECKS_TCP=0 CHECKS_HTTP=0 CHECKS_OTHER=0
TUG_SUP_ERR=

build_sleeper() {
	SLEEPER=$WORK/sleeper
	cat >"$WORK/sleeper.c" <<'EOF'
/* The supervised child: no libc, pause() forever; SIGTERM's default action ends it. */
void _start(void)
{
    for (;;)
        __asm__ volatile("mov $34, %%eax\n\tsyscall" ::: "rax", "rcx", "r11", "memory"); /* SYS_pause */
}
EOF
	gcc -static -nostdlib -Os -s -fno-asynchronous-unwind-tables -o "$SLEEPER" "$WORK/sleeper.c" ||
		die "cannot build the static sleeper"
}

descendants() { # descendants PID -> every descendant of PID
	local kid
	for kid in $(children_of "$1"); do
		echo "$kid"
		descendants "$kid"
	done
}

is_sleeper() { [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$SLEEPER" ]; }

sleepers_of() { # sleepers_of PID -> PIDs of the sleepers under PID, sorted
	local p
	for p in $(descendants "$1"); do is_sleeper "$p" && echo "$p"; done | sort -n
}

sleepers_anywhere() {
	local f p
	for f in /proc/[0-9]*; do
		p=${f#/proc/}
		is_sleeper "$p" && echo "$p"
	done
	return 0
}

kill_strays() { # (EXIT trap) SIGKILL sleepers that outlived their supervisor
	local p
	[ -n "$SLEEPER" ] || return 0
	for p in $(sleepers_anywhere); do kill -KILL "$p" 2>/dev/null || true; done
}

# The processes whose cost is measured: the supervisor, plus s6-svscan's
# s6-supervise children; never the sleepers.
sup_procs() {
	local pid=${SUP_PID[$1]} kid
	echo "$pid"
	[ "$1" = s6 ] || return 0
	for kid in $(children_of "$pid"); do
		[ "$(cat "/proc/$kid/comm" 2>/dev/null)" = s6-supervise ] && echo "$kid"
	done
	return 0
}

sum_rss() { local p n=0; for p in "$@"; do n=$((n + $(status_field "$p" VmRSS))); done; echo "$n"; }
sum_ctxt() { local p n=0; for p in "$@"; do n=$((n + $(ctxt_switches "$p"))); done; echo "$n"; }
sum_cpu_ticks() { # utime + stime, in clock ticks, over all threads of each PID
	local p n=0
	for p in "$@"; do
		n=$((n + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")))
	done
	echo "$n"
}

start_listener() {
	cat >"$WORK/listener.py" <<'EOF'
# Health-check target: accepts TCP on one loopback port; answers any data with
# an empty 200 and closes. Logs one line per connection: http or tcp.
import os, selectors, socket, sys

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
port_file, log_file = sys.argv[1:3]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(128)
srv.setblocking(False)
log = open(log_file, "a", buffering=1)
sel = selectors.DefaultSelector()
sel.register(srv, selectors.EVENT_READ)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % srv.getsockname()[1])
os.rename(port_file + ".tmp", port_file)
while True:
    for key, _ in sel.select():
        s = key.fileobj
        if s is srv:
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ)
            continue
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if data:
            try:
                s.send(RESPONSE)
            except OSError:
                pass
        log.write("http\n" if data else "tcp\n")
        sel.unregister(s)
        s.close()
EOF
	: >"$WORK/listener.log"
	rm -f "$WORK/listener.port" # from an earlier section's listener
	python3 "$WORK/listener.py" "$WORK/listener.port" "$WORK/listener.log" </dev/null >"$WORK/listener.out" 2>&1 &
	LISTENER_PID=$!
	BG_PIDS[$!]=1
	local i
	for ((i = 0; i < 500; i++)); do
		[ -s "$WORK/listener.port" ] && break
		alive "$LISTENER_PID" || die "the check listener died: $(cat "$WORK/listener.out")"
		sleep 0.01
	done
	PORT=$(cat "$WORK/listener.port" 2>/dev/null) || die "the check listener never wrote its port"
}

write_sup_configs() {
	local i check d
	for d in tug tug-no-checks; do
		{
			echo '{'
			echo '  logging: { level: "WARN" },'
			echo '  jobs: ['
			for ((i = 0; i < SUP_JOBS; i++)); do
				printf '    { name: "svc%d", exec: ["%s"], restarts: "unlimited"' "$i" "$SLEEPER"
				if [ "$d" = tug ]; then
					if ((i % 2 == 0)); then
						check="tcp: \"127.0.0.1:$PORT\""
					else
						check="http: \"http://127.0.0.1:$PORT/\""
					fi
					printf ',\n      health: { %s, interval: "1s", timeout: "1s" }' "$check"
				fi
				printf ' },\n'
			done
			echo '  ]'
			echo '}'
		} >"$WORK/$d.json5"
	done

	d=$WORK/supervisord
	mkdir -p "$d"
	{
		printf '[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\npidfile=%s/supervisord.pid\nchilddir=/\nchildlogdir=%s\n' \
			"$d" "$d" "$d"
		for ((i = 0; i < SUP_JOBS; i++)); do
			printf '\n[program:svc%d]\ncommand=%s\nautorestart=true\nredirect_stderr=true\nstdout_logfile=%s/svc%d.log\n' \
				"$i" "$SLEEPER" "$d" "$i"
		done
	} >"$d/supervisord.conf"

	for ((i = 0; i < SUP_JOBS; i++)); do
		d=$WORK/s6/svc$i
		mkdir -p "$d"
		printf '#!/bin/sh\nexec %s\n' "$SLEEPER" >"$d/run"
		chmod +x "$d/run"
	done
}

start_sup() { # start_sup NAME COMMAND...
	local name=$1
	shift
	"$@" </dev/null >"$WORK/$name.out" 2>&1 &
	SUP_PID[$name]=$!
	BG_PIDS[$!]=1
}

measure_supervisors() {
	local n i k left kids rss t0 t1 conn0 conn1
	local -a p
	local supervisord s6svscan
	supervisord=$(pkg_bin supervisor supervisord)
	s6svscan=$(pkg_bin s6 s6-svscan)

	start_listener
	write_sup_configs
	SUPS=()
	if "$TUG" check "$WORK/tug.json5" >"$WORK/tug-check.out" 2>&1 &&
		"$TUG" check "$WORK/tug-no-checks.json5" >>"$WORK/tug-check.out" 2>&1; then
		SUPS+=(tug tug-no-checks)
	else
		TUG_SUP_ERR=$(head -c 300 "$WORK/tug-check.out" | tr '\n|' '  ')
		log "tug cannot run the supervisor config, measuring the others only: $TUG_SUP_ERR"
	fi
	SUPS+=(supervisord s6)
	SUP_LABEL=(
		[tug]="tug \`${INIT_VER[tug]}\`"
		[tug-no-checks]="tug, no health checks (control)"
		[supervisord]="supervisord $(dpkg-query -W -f='${Version}' supervisor)"
		[s6]="s6-svscan $(dpkg-query -W -f='${Version}' s6)"
	)

	for n in "${SUPS[@]}"; do
		case $n in
		tug) start_sup tug "$TUG" --config "$WORK/tug.json5" --socket "$WORK/tug.sock" ;;
		tug-no-checks) start_sup tug-no-checks "$TUG" --config "$WORK/tug-no-checks.json5" --socket "$WORK/tug-no-checks.sock" ;;
		supervisord) start_sup supervisord "$supervisord" -n -c "$WORK/supervisord/supervisord.conf" ;;
		s6) start_sup s6 "$s6svscan" "$WORK/s6" ;;
		esac
	done
	# Bounded wait (10 s each) until every supervisor has all its children up.
	for n in "${SUPS[@]}"; do
		for ((i = 0; i < 1000; i++)); do
			[ "$(sleepers_of "${SUP_PID[$n]}" | wc -l)" -ge "$SUP_JOBS" ] && break
			alive "${SUP_PID[$n]}" || die "$n exited at start-up: $(tail -c 600 "$WORK/$n.out")"
			sleep 0.01
		done
		((i < 1000)) || die "$n: not all $SUP_JOBS children up after 10 s: $(tail -c 600 "$WORK/$n.out")"
	done
	sleep 2 # past supervisord's startsecs (1 s) and tug's first round of checks

	for n in "${SUPS[@]}"; do
		mapfile -t p < <(sup_procs "$n")
		SUP_KIDS[$n]=$(sleepers_of "${SUP_PID[$n]}" | tr '\n' ' ')
		CTXT0[$n]=$(sum_ctxt "${p[@]}")
		CPU0[$n]=$(sum_cpu_ticks "${p[@]}")
	done
	conn0=$(wc -l <"$WORK/listener.log")
	t0=$EPOCHREALTIME
	if [ -n "${SUP_PID[tug]:-}" ]; then
		TUG_RSS_FIRST=$(status_field "${SUP_PID[tug]}" VmRSS)
		TUG_RSS_MIN=$TUG_RSS_FIRST TUG_RSS_MAX=$TUG_RSS_FIRST
	fi
	log "supervisor window: ${SUP_SECS} s with ${SUPS[*]} running $SUP_JOBS children each"
	for ((i = 0; i < SUP_SECS; i++)); do
		nap 1
		if [ -n "${SUP_PID[tug]:-}" ]; then
			rss=$(status_field "${SUP_PID[tug]}" VmRSS)
			((rss < TUG_RSS_MIN)) && TUG_RSS_MIN=$rss
			((rss > TUG_RSS_MAX)) && TUG_RSS_MAX=$rss
			TUG_RSS_LAST=$rss
		fi
	done
	t1=$EPOCHREALTIME
	conn1=$(wc -l <"$WORK/listener.log")
	SUP_ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')

	local tck
	tck=$(getconf CLK_TCK)
	for n in "${SUPS[@]}"; do
		mapfile -t p < <(sup_procs "$n")
		for i in "${p[@]}"; do alive "$i" || die "$n: process $i exited during the window"; done
		SUP_RSS[$n]=$(sum_rss "${p[@]}")
		SUP_WAKE[$n]=$(awk -v d="$(($(sum_ctxt "${p[@]}") - CTXT0[$n]))" -v s="$SUP_ELAPSED" 'BEGIN { printf "%.2f", d / s }')
		SUP_CPU[$n]=$(awk -v d="$(($(sum_cpu_ticks "${p[@]}") - CPU0[$n]))" -v t="$tck" -v s="$SUP_ELAPSED" \
			'BEGIN { printf "%.0f", d * 1000 / t * 60 / s }')
		kids=$(sleepers_of "${SUP_PID[$n]}" | tr '\n' ' ')
		# Children that are not the ones we started with were restarted.
		SUP_RESTARTS[$n]=$(comm -13 <(tr ' ' '\n' <<<"${SUP_KIDS[$n]}" | sort) <(tr ' ' '\n' <<<"$kids" | sort) | grep -c . || true)
		SUP_KIDS[$n]=$kids
		SUP_PROCS[$n]=${#p[@]}
	done
	# Health checks the listener saw in the window (only tug makes any).
	read -r CHECKS_TCP CHECKS_HTTP CHECKS_OTHER < <(sed -n "$((conn0 + 1)),${conn1}p" "$WORK/listener.log" |
		awk '$1 == "tcp" { t++ } $1 == "http" { h++ } $1 != "tcp" && $1 != "http" { o++ } END { print t + 0, h + 0, o + 0 }')

	# Stop each supervisor with SIGTERM, one after the other, and check that
	# it took its children down with it.
	for n in "${SUPS[@]}"; do
		stop_init "${SUP_PID[$n]}"
		for ((i = 0; i < 50; i++)); do # up to 1 s for orphans to be reaped
			left=0
			for k in ${SUP_KIDS[$n]}; do is_sleeper "$k" && left=$((left + 1)); done
			((left == 0)) && break
			sleep 0.02
		done
		if ((left == 0)); then
			SUP_STOP[$n]="SIGTERM stopped all children"
		else
			SUP_STOP[$n]="**$left children left running after SIGTERM**"
			for k in ${SUP_KIDS[$n]}; do is_sleeper "$k" && kill -KILL "$k" 2>/dev/null; done
		fi
	done
	stop_init "$LISTENER_PID"
}

# Config load + render + validate (`tug check` on the corpus file with the
# most jobs), and the first job exec (`tug --config` on a config whose one job
# execs the static true, until tug exits), next to the bare static true and
# `tug -- static-true` (init mode) for reference.
declare -A LAT_MEAN LAT_SD LAT_MED
LAT_CORPUS=
measure_config_latency() {
	local once=$WORK/once.json5 json=$WORK/latency.json
	LAT_CORPUS=$ROOT/tests/compat/containerpilot/config-testdata.json5
	[ -f "$LAT_CORPUS" ] || die "no corpus file $LAT_CORPUS"
	case $LAT_CORPUS$WORK in *[[:space:]]*) die "path with whitespace: $LAT_CORPUS or $WORK" ;; esac
	printf '{ logging: { level: "WARN" }, jobs: [ { name: "once", exec: ["%s"] } ] }\n' "$STATIC_TRUE" >"$once"
	local args=(-n bare "$STATIC_TRUE" -n "init" "$TUG -- $STATIC_TRUE")
	if "$TUG" check "$LAT_CORPUS" >/dev/null 2>"$WORK/err"; then
		args+=(-n check "$TUG check $LAT_CORPUS")
	else
		log "tug check $LAT_CORPUS failed: $(cat "$WORK/err")"
	fi
	if timeout 10 "$TUG" --config "$once" --socket "$WORK/once.sock" >/dev/null 2>"$WORK/err"; then
		args+=(-n config "$TUG --config $once --socket $WORK/once.sock")
	else
		log "tug --config $once failed: $(cat "$WORK/err")"
	fi
	log "config latency: hyperfine -N --warmup $WARMUP --runs $RUNS ($((${#args[@]} / 3)) commands)"
	hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$json" "${args[@]}" \
		>"$WORK/hyperfine-latency.log" 2>&1 || {
		cat "$WORK/hyperfine-latency.log" >&2
		die "hyperfine failed"
	}
	local n m s d
	while read -r n m s d; do
		LAT_MEAN[$n]=$m LAT_SD[$n]=$s LAT_MED[$n]=$d
	done < <(jq -r '.results[] | [.command, .mean * 1e3, .stddev * 1e3, .median * 1e3] | @tsv' "$json")
}

ms() { # ms SECONDS-IN-MS -> "1.234"
	awk -v x="$1" 'BEGIN { printf "%.3f", x }'
}

bench_supervisors() {
	log "section: supervisor mode"
	build_sleeper
	measure_supervisors
	measure_config_latency

	local n note tug_rss budget checks_s per_check ok r
	checks_s=$(awk -v n="$((CHECKS_TCP + CHECKS_HTTP + CHECKS_OTHER))" -v s="$SUP_ELAPSED" 'BEGIN { printf "%.2f", n / s }')

	md "## Supervisor mode: tug vs supervisord and s6" ""
	md "How measured: each supervisor runs the same $SUP_JOBS children, a libc-free static binary that" \
		"loops on \`pause()\` (built by the script), and all of them run at the same time, over one" \
		"window of ${SUP_ELAPSED} s that starts 2 s after every supervisor has its $SUP_JOBS children up" \
		"(seen in \`/proc\`). **tug** runs \`tug --config\` with $SUP_JOBS jobs (\`restarts: \"unlimited\"\`)," \
		"each with a health check every 1 s (timeout 1 s): $((SUP_JOBS - SUP_JOBS / 2)) \`tcp\` and $((SUP_JOBS / 2)) \`http\`, all against one" \
		"local Python listener that answers any request with an empty 200. **tug, no health checks** is a" \
		"control: the same jobs without checks, so every wake-up it makes is one no timer asked for." \
		"**supervisord** runs $SUP_JOBS \`[program:svcN]\` sections (\`autorestart=true\`, \`nodaemon=true\`, no" \
		"HTTP/unix server, logs to files); **s6** is \`s6-svscan\` over a scan directory of $SUP_JOBS services" \
		"whose \`run\` is \`#!/bin/sh\` + \`exec\` of the child. Neither supervisord nor s6 has health checks, so" \
		"they do less work than tug here." "" \
		"**RSS** is the sum of \`VmRSS\` (\`/proc/PID/status\`) of the supervisor's own processes at the end of" \
		"the window (tug: the tug process; supervisord: its Python process; s6: s6-svscan and its" \
		"$SUP_JOBS s6-supervise processes), never the children. **Wake-ups** are the voluntary + non-voluntary" \
		"context switches of those processes, over all their threads, during the window, per second." \
		"**CPU** is utime + stime (\`/proc/PID/stat\`, $(getconf CLK_TCK) ticks/s, so 10 ms resolution) during the window," \
		"scaled to 60 s." ""

	md "| supervisor | RSS kB (total) | wake-ups/s | CPU ms per 60 s | notes |" \
		"| --- | ---: | ---: | ---: | --- |"
	for n in "${SUPS[@]}"; do
		case $n in
		tug) note="1 process; $SUP_JOBS health checks/s asked for, the listener saw $checks_s/s ($CHECKS_TCP tcp + $CHECKS_HTTP http in the window); RSS $TUG_RSS_FIRST kB at the start of the window, $TUG_RSS_LAST kB at the end (min $TUG_RSS_MIN, max $TUG_RSS_MAX, sampled every second)" ;;
		tug-no-checks) note="1 process; control: same jobs, no health checks" ;;
		supervisord) note="1 Python process; no health checks (supervisord has none)" ;;
		s6) note="${SUP_PROCS[$n]} processes (s6-svscan + $((SUP_PROCS[$n] - 1)) s6-supervise); no health checks (s6 has none)" ;;
		esac
		note+="; ${SUP_RESTARTS[$n]} child restarts in the window; ${SUP_STOP[$n]}"
		md "| ${SUP_LABEL[$n]} | ${SUP_RSS[$n]} | ${SUP_WAKE[$n]} | ${SUP_CPU[$n]} | $note |"
	done
	md ""
	if [ -n "$TUG_SUP_ERR" ]; then
		md "**tug could not run the supervisor config**, so it is missing from the table: \`$TUG_SUP_ERR\`" ""
	else
		tug_rss=${SUP_RSS[tug]}
		md "### Targets for supervisor mode" "" "| target | measured | verdict |" "| --- | --- | --- |"
		r=$(awk -v a="$tug_rss" -v b="${SUP_RSS[supervisord]}" 'BEGIN { printf "%.3f (1/%.1f)", a / b, b / a }')
		ok=$(awk -v a="$tug_rss" -v b="${SUP_RSS[supervisord]}" -v t="$TARGET_SUP_RSS_VS_SUPERVISORD" 'BEGIN { print (a <= t * b) ? 1 : 0 }')
		md "| tug's RSS ≤ 1/10 of supervisord's | $tug_rss kB vs ${SUP_RSS[supervisord]} kB: $r | $(verdict "$ok") |"
		r=$(awk -v a="$tug_rss" -v b="${SUP_RSS[s6]}" 'BEGIN { printf "%.3f (1/%.1f)", a / b, b / a }')
		ok=$(awk -v a="$tug_rss" -v b="${SUP_RSS[s6]}" -v t="$TARGET_SUP_RSS_VS_S6" 'BEGIN { print (a < t * b) ? 1 : 0 }')
		md "| tug's RSS below s6's total (s6-svscan + ${SUP_JOBS} s6-supervise) | $tug_rss kB vs ${SUP_RSS[s6]} kB: $r | $(verdict "$ok") |"
		# Each check may wake tug up to 3 times: its timer, the connect
		# completing, the response (or EOF) arriving.
		budget=$(awk -v c="$checks_s" 'BEGIN { printf "%.1f", 3 * c }')
		per_check=$(awk -v w="${SUP_WAKE[tug]}" -v c="$checks_s" 'BEGIN { printf "%.2f", (c > 0) ? w / c : 0 }')
		ok=$(awk -v w="${SUP_WAKE[tug]}" -v b="$budget" -v z="${SUP_WAKE[tug-no-checks]}" 'BEGIN { print (w <= b && z == 0) ? 1 : 0 }')
		md "| no wake-ups that no timer asked for: ≤ 3 per health check (timer, connect, response), 0 without checks | ${SUP_WAKE[tug]}/s for $checks_s checks/s = $per_check per check (budget $budget/s); control without checks: ${SUP_WAKE[tug-no-checks]}/s | $(verdict "$ok") |"
		ok=$((TUG_RSS_LAST <= TUG_RSS_FIRST))
		md "| no RSS growth over the window (leak check) | $TUG_RSS_FIRST kB → $TUG_RSS_LAST kB (max $TUG_RSS_MAX kB) over ${SUP_ELAPSED} s, $((CHECKS_TCP + CHECKS_HTTP)) checks | $(verdict "$ok") |"
		md "" "Wake-ups: tug ${SUP_WAKE[tug]}/s, supervisord ${SUP_WAKE[supervisord]}/s" \
			"(tug/supervisord = $(awk -v a="${SUP_WAKE[tug]}" -v b="${SUP_WAKE[supervisord]}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')), s6 ${SUP_WAKE[s6]}/s;" \
			"only tug runs health checks ($checks_s/s). Without checks tug wakes up ${SUP_WAKE[tug-no-checks]} times/s;" \
			"supervisord's main loop polls with a 1 s timeout even when idle." ""
	fi

	md "### Config load and first job exec" ""
	md "\`hyperfine -N --warmup $WARMUP --runs $RUNS\`, one run of all commands. **check** is" \
		"\`tug check $(basename "$LAT_CORPUS")\` (ContainerPilot's own test config, the corpus file with the most" \
		"jobs: $("$TUG" check "$LAT_CORPUS" 2>/dev/null | sed -n 2p)): JSON5 parse, template render, decode and" \
		"validation, printing the job graph. **config** is \`tug --config\` on a config whose one job execs the" \
		"static true (\`restarts\` unset; control socket in a temp dir): load, first job exec, reap, exit. **init** (\`tug -- static-true\`) and" \
		"**bare** (\`static-true\` alone) are the baselines; config − init approximates the first-exec latency" \
		"that supervisor mode adds over init mode." ""
	md "| command | mean (ms) | stddev (ms) | median (ms) |" "| --- | ---: | ---: | ---: |"
	for n in bare init check config; do
		[ -n "${LAT_MEAN[$n]:-}" ] || {
			md "| $n | failed (see the log) | | |"
			continue
		}
		md "| $n | $(ms "${LAT_MEAN[$n]}") | $(ms "${LAT_SD[$n]}") | $(ms "${LAT_MED[$n]}") |"
	done
	if [ -n "${LAT_MEAN[config]:-}" ]; then
		md "" "config − init: $(awk -v a="${LAT_MEAN[config]}" -v b="${LAT_MEAN[init]}" 'BEGIN { printf "%.3f", a - b }') ms;" \
			"config − bare: $(awk -v a="${LAT_MEAN[config]}" -v b="${LAT_MEAN[bare]}" 'BEGIN { printf "%.3f", a - b }') ms."
	fi
	md ""
}

# ---------------------------------------------------------------------------
# Discovery and control: shared helpers

CLIENT=$ROOT/scripts/bench_client.py
EMULATOR=$ROOT/tests/consul/emulator.py
STAMP=

# The onChange job of the watch benchmark (scripts/stamp.c): appends
# CLOCK_MONOTONIC ns to the file named by its argument, with no libc.
build_stamp() {
	STAMP=$WORK/stamp
	gcc -static -nostdlib -Os -s -fno-asynchronous-unwind-tables -o "$STAMP" "$ROOT/scripts/stamp.c" ||
		die "cannot build the stamp helper"
	{ "$STAMP" "$WORK/stamp.test" && [ -s "$WORK/stamp.test" ]; } || die "the stamp helper wrote nothing"
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_line FILE REGEX PID SECS: prints the first line of FILE matching
# REGEX once there is one; fails if PID exits or SECS pass first.
wait_for_line() {
	local i
	for ((i = 0; i < $4 * 100; i++)); do
		grep -m1 -E -- "$2" "$1" 2>/dev/null && return 0
		alive "$3" || return 1
		sleep 0.01
	done
	return 1
}

# kv_into ARRAY PREFIX FILE: the key=value lines of FILE (bench_client.py's
# output) into the associative array ARRAY, keys prefixed with PREFIX.
kv_into() {
	local -n into=$1
	local k v
	while IFS='=' read -r k v; do
		[ -n "$k" ] && into[$2$k]=$v
	done <"$3"
}

client() { # client SUBCOMMAND ARGS... > key=value lines; dies with the client's error
	python3 "$CLIENT" "$@" 2>"$WORK/client.err" || die "bench_client.py $1: $(cat "$WORK/client.err")"
}

declare -A EMU_PID EMU_API EMU_ADMIN
start_emulator() { # start_emulator NAME: a Consul emulator on free loopback ports
	local n=$1 line
	# --ignore-stdin: it would exit at stdin's EOF; the EXIT trap stops it.
	python3 "$EMULATOR" --port 0 --ignore-stdin </dev/null >"$WORK/$n.out" 2>"$WORK/$n.err" &
	EMU_PID[$n]=$!
	BG_PIDS[$!]=1
	line=$(wait_for_line "$WORK/$n.out" '^listening ' "${EMU_PID[$n]}" 10) ||
		die "the Consul emulator $n did not start: $(tail -c 600 "$WORK/$n.err")"
	EMU_API[$n]=${line#listening }
	EMU_ADMIN[$n]=$(awk '$1 == "admin" { print $2; exit }' "$WORK/$n.out")
}

ETCD_PID= ETCD_ADDR= ETCD_VER=
start_etcd() { # a fresh single-member etcd on free loopback ports (apis.md B.8)
	local bin client peer
	bin=$(command -v etcd) || die "etcd is not installed"
	client=$(free_port)
	peer=$(free_port)
	while [ "$peer" = "$client" ]; do peer=$(free_port); done
	client=http://127.0.0.1:$client peer=http://127.0.0.1:$peer
	rm -rf "$WORK/etcd"
	"$bin" --name bench --data-dir "$WORK/etcd" \
		--listen-client-urls "$client" --advertise-client-urls "$client" \
		--listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
		--initial-cluster "bench=$peer" --initial-cluster-state new \
		</dev/null >"$WORK/etcd.out" 2>"$WORK/etcd.err" &
	ETCD_PID=$!
	BG_PIDS[$!]=1
	wait_for_line "$WORK/etcd.err" 'ready to serve client requests' "$ETCD_PID" 30 >/dev/null ||
		die "etcd did not start: $(tail -c 600 "$WORK/etcd.err")"
	ETCD_ADDR=${client#http://}
	ETCD_VER=$("$bin" --version | awk '/^etcd Version/ { print $3 }')
}

# ---------------------------------------------------------------------------
# Section: discovery watches (issue 4)

# Per backend, one tug watches service `backend`; its onChange job is the
# stamp, which also records the instances it was started with. Two series
# of BENCH_WATCH_CHANGES catalog changes each (scripts/bench_client.py):
# quiet (the next change only after the onChange job for the last one has
# exec'd and been reaped, then BENCH_WATCH_GAP_MS), and churn (a change every
# BENCH_WATCH_CHURN_GAP_MS on a fixed schedule, whatever tug does: a rolling
# deploy, where changes may coalesce). Each change is timed from just before
# its request to the first onChange run that saw it. Both backends get the
# same series. For Consul, the emulator counts tug's queries. Then tug's
# context switches over BENCH_WATCH_IDLE_SECS with the watch open and
# nothing changing.
WATCH_BACKENDS=(consul etcd)
WATCH_SERIES=(quiet churn)
declare -A WATCH WATCH_LABEL

measure_watch() { # measure_watch consul|etcd
	local b=$1 cfg=$WORK/watch-$1.json5 stamps=$WORK/stamps-$1 target backend pid c0 c1 i0 i1 emu=()
	case $b in
	consul)
		start_emulator emu-watch
		target=${EMU_ADMIN[emu-watch]}
		emu=(--emulator "$target")
		backend="consul: \"${EMU_API[emu-watch]}\""
		WATCH_LABEL[$b]="Consul (emulator): re-register another node's instance with a new port"
		;;
	etcd)
		start_etcd
		target=$ETCD_ADDR
		backend="etcd: { endpoints: [\"http://$ETCD_ADDR\"], prefix: \"/services\" }"
		WATCH_LABEL[$b]="etcd $ETCD_VER: put \`/services/backend/b1\` with a new port"
		;;
	esac
	cat >"$cfg" <<-EOF
		{
		  $backend,
		  logging: { level: "WARN" },
		  watches: [ { name: "backend", interval: 1 } ],
		  jobs: [ { name: "onchange", exec: ["$STAMP", "$stamps", "TUG_WATCH_BACKEND"],
		            when: { source: "watch.backend", each: "changed" } } ]
		}
	EOF
	"$TUG" check "$cfg" >"$WORK/err" 2>&1 || die "tug check $cfg: $(cat "$WORK/err")"
	start_sup "watch-$b" "$TUG" --config "$cfg" --socket "$WORK/watch-$b.sock"
	pid=${SUP_PID[watch-$b]}
	# The watch's first result (no instance yet) runs onChange once.
	wait_for_line "$stamps" . "$pid" 15 >/dev/null ||
		die "watch ($b): onChange never ran for the first result: $(tail -c 600 "$WORK/watch-$b.out")"
	sleep 0.5
	c0=$(ctxt_switches "$pid")
	log "watch latency ($b, quiet): $WATCH_CHANGES changes, each $WATCH_GAP_MS ms after the last onChange run"
	client changes --backend "$b" --target "$target" --stamps "$stamps" --pid "$pid" "${emu[@]}" \
		--mode quiet --count "$WATCH_CHANGES" --gap-ms "$WATCH_GAP_MS" --first-port 10000 >"$WORK/watch-$b-quiet.kv"
	c1=$(ctxt_switches "$pid")
	kv_into WATCH "$b,quiet," "$WORK/watch-$b-quiet.kv"
	WATCH[$b,per_change]=$(awk -v d="$((c1 - c0))" -v n="${WATCH[$b,quiet,n]}" 'BEGIN { printf "%.2f", (n > 0) ? d / n : 0 }')
	log "watch latency ($b, churn): $WATCH_CHANGES changes, one every $WATCH_CHURN_GAP_MS ms"
	client changes --backend "$b" --target "$target" --stamps "$stamps" --pid "$pid" "${emu[@]}" \
		--mode churn --count "$WATCH_CHANGES" --gap-ms "$WATCH_CHURN_GAP_MS" --first-port 20000 >"$WORK/watch-$b-churn.kv"
	kv_into WATCH "$b,churn," "$WORK/watch-$b-churn.kv"
	log "watch idle window ($b): ${WATCH_IDLE_SECS} s"
	# The churn's last answer is followed by one more query, paced up to
	# 200 ms (Consul): let it go out before the window opens.
	nap 1
	i0=$(ctxt_switches "$pid")
	nap "$WATCH_IDLE_SECS"
	i1=$(ctxt_switches "$pid")
	alive "$pid" || die "watch ($b): tug exited: $(tail -c 600 "$WORK/watch-$b.out")"
	WATCH[$b,idle]=$((i1 - i0))
	stop_init "$pid"
	case $b in
	consul) stop_init "${EMU_PID[emu-watch]}" ;;
	etcd) stop_init "$ETCD_PID" ;;
	esac
}

bench_watch() {
	local b s ok runs qps bound
	log "section: discovery watches"
	build_stamp
	for b in "${WATCH_BACKENDS[@]}"; do measure_watch "$b"; done

	md "## Discovery watches: catalog change to onChange exec" ""
	md "How measured: tug runs \`watches: [{ name: \"backend\", interval: 1 }]\` and one job" \
		"\`when: { source: \"watch.backend\", each: \"changed\" }\` whose exec is \`stamp\` (built from" \
		"\`scripts/stamp.c\`: a libc-free static binary that appends \`CLOCK_MONOTONIC\` ns and the" \
		"\`TUG_WATCH_BACKEND\` it was started with to a file, so there is no shell or libc start-up in the" \
		"figure and each run tells which set it saw). \`scripts/bench_client.py\` makes two series of" \
		"$WATCH_CHANGES catalog changes per backend, each change moving the one instance to a new port, timed" \
		"from just before its HTTP request is sent (one keep-alive connection) to the exec of the first" \
		"onChange run that saw it: the backend's own write, tug seeing the change, and the fork+exec." \
		"**quiet**: the next change is made only after the onChange job for the last one has exited and" \
		"been reaped, then ${WATCH_GAP_MS} ms later. **churn** (a rolling deploy): a change every" \
		"${WATCH_CHURN_GAP_MS} ms on a fixed schedule, whatever tug does; changes may coalesce into one run." \
		"Both backends get the same series. **Runs** are onChange runs; **stale** counts runs that saw an older" \
		"set than the run before them. **Queries/s** are the Consul API requests the emulator served during" \
		"the series (tug's blocking queries) over its length. **Wake-ups per change** are tug's context" \
		"switches over the quiet series divided by its changes (the response, the spawn, the exit, the next" \
		"query). **Idle wake-ups** are its context switches over ${WATCH_IDLE_SECS} s after the series, the watch" \
		"open and nothing changing. Consul is \`tests/consul/emulator.py\` (blocking queries as Consul's)," \
		"etcd a real single-member \`etcd\` on loopback." ""
	md "| backend: the change | series | changes | runs (stale) | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | mean (ms) | queries/s | wake-ups per change | idle wake-ups / ${WATCH_IDLE_SECS} s |" \
		"| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for b in "${WATCH_BACKENDS[@]}"; do
		for s in "${WATCH_SERIES[@]}"; do
			runs="${WATCH[$b,$s,runs]} (${WATCH[$b,$s,stale_runs]})"
			((WATCH[$b,$s,missed])) && runs="$runs, ${WATCH[$b,$s,missed]} changes never seen"
			qps=${WATCH[$b,$s,queries_per_s]:-n/a (one stream)}
			if [ "$s" = quiet ]; then
				md "| ${WATCH_LABEL[$b]} | quiet, ${WATCH_GAP_MS} ms after each run | ${WATCH[$b,$s,n]} | $runs | ${WATCH[$b,$s,p50_ms]} | ${WATCH[$b,$s,p90_ms]} | ${WATCH[$b,$s,p99_ms]} | ${WATCH[$b,$s,max_ms]} | ${WATCH[$b,$s,mean_ms]} | $qps | ${WATCH[$b,per_change]} | ${WATCH[$b,idle]} |"
			else
				md "| | churn, one every ${WATCH_CHURN_GAP_MS} ms | ${WATCH[$b,$s,n]} | $runs | ${WATCH[$b,$s,p50_ms]} | ${WATCH[$b,$s,p90_ms]} | ${WATCH[$b,$s,p99_ms]} | ${WATCH[$b,$s,max_ms]} | ${WATCH[$b,$s,mean_ms]} | $qps | | |"
			fi
		done
	done
	md "| ContainerPilot, \`interval: 1\` (not measured: the floor its polling sets) | either | | | ≈ 500 | ≈ 900 | ≈ 990 | ≈ 1000 | ≈ 500 | 1 | | ≥ $WATCH_IDLE_SECS (a poll per second) |"
	md "" "**Pacing and the rate bound.** A Consul watch is one blocking query per answer, paced per watch" \
		"(\`src/discovery/retry.rs\`, GCRA): a burst of 2, then one query per 200 ms. A query never waits" \
		"more than 200 ms after the previous one started, and not at all once 200 ms have passed, so a change" \
		"after a quiet moment goes out with the answer to the query already waiting at the agent, and under" \
		"churn every change is seen within 200 ms (closer ones coalesce: the run sees the newest set). The" \
		"agent gets at most 2 + 5·T queries in T seconds per watch, **5 queries/s**, and only while answers" \
		"come back that fast (churn, or an agent answering at once); a quiet watch costs one query per change" \
		"or per 60 s \`wait\`. The etcd watch is one stream that carries every change; its pacing (a burst of" \
		"3, then one per 500 ms) applies only to reopening it." "" \
		"ContainerPilot's watches poll: one \`GET /v1/health/service/NAME\` every \`interval\` seconds," \
		"an integer ≥ 1, with no blocking query. A change waits for the next poll, so its latency is spread" \
		"over 0 to \`interval\` (uniformly, for changes that do not follow the polls' rhythm): with the" \
		"smallest interval, 1 s, p50 ≈ 500 ms and p99 ≈ 990 ms before its onChange job even starts, and the" \
		"poll wakes it up every second while nothing changes. tug's Consul watch holds a blocking query" \
		"(\`index\` + \`wait=60s\`), so when nothing changes it is asked again once a minute (about 1/60 of" \
		"ContainerPilot's floor); the etcd watch is a stream with no periodic traffic from tug." ""
	md "### Targets for discovery watches" "" "| target | measured | verdict |" "| --- | --- | --- |"
	for b in "${WATCH_BACKENDS[@]}"; do
		ok=$(awk -v p="${WATCH[$b,quiet,p99_ms]}" -v t="$TARGET_WATCH_P99_MS" 'BEGIN { print (p < t) ? 1 : 0 }')
		md "| $b: quiet p99 change-to-onChange < $TARGET_WATCH_P99_MS ms | ${WATCH[$b,quiet,p99_ms]} ms (p50 ${WATCH[$b,quiet,p50_ms]} ms) over ${WATCH[$b,quiet,n]} changes | $(verdict "$ok") |"
		bound=$(awk -v q="${WATCH[$b,quiet,p99_ms]}" -v t="$TARGET_WATCH_CHURN_BOUND_MS" 'BEGIN { printf "%.1f", t + q }')
		ok=$(awk -v m="${WATCH[$b,churn,max_ms]}" -v t="$bound" -v x="${WATCH[$b,churn,missed]}" 'BEGIN { print (m <= t && x == 0) ? 1 : 0 }')
		md "| $b: churn, every change seen within $TARGET_WATCH_CHURN_BOUND_MS ms + the quiet p99 ($bound ms) | max ${WATCH[$b,churn,max_ms]} ms, p99 ${WATCH[$b,churn,p99_ms]} ms; ${WATCH[$b,churn,runs]} runs for ${WATCH[$b,churn,n]} changes, ${WATCH[$b,churn,stale_runs]} stale | $(verdict "$ok") |"
		if [ -n "${WATCH[$b,churn,queries]:-}" ]; then
			bound=$(awk -v w="${WATCH[$b,churn,window_s]}" -v r="$TARGET_WATCH_QPS" 'BEGIN { printf "%.2f", (2 + r * w) / w }')
			ok=$(awk -v q="${WATCH[$b,churn,queries_per_s]}" -v t="$bound" 'BEGIN { print (q <= t) ? 1 : 0 }')
			md "| $b: churn, at most 2 + $TARGET_WATCH_QPS·T queries in T s ($bound/s over ${WATCH[$b,churn,window_s]} s) | ${WATCH[$b,churn,queries]} queries, ${WATCH[$b,churn,queries_per_s]}/s | $(verdict "$ok") |"
		fi
		ok=$((WATCH[$b,idle] == 0))
		md "| $b: 0 wake-ups between changes (idle, watch open) | ${WATCH[$b,idle]} in ${WATCH_IDLE_SECS} s | $(verdict $ok) |"
	done
	md ""
}

# ---------------------------------------------------------------------------
# Section: 50 advertised jobs, control socket and telemetry (issues 4 and 5)

# Two tugs run at the same time, each against its own Consul emulator, each
# with FLEET_JOBS advertised jobs (the pause() child, ttl 10s, a tcp or http
# check every 5 s against the local listener, so a TTL heartbeat every 5 s
# per job): `fleet` also serves telemetry, `fleet-plain` does not. Over one
# BENCH_FLEET_SECS window: RSS, context switches, CPU, the requests each
# emulator saw. Then, on `fleet` (still heartbeating): `tug ctl ping` and
# `tug ctl status` against `tug check` of the same config (hyperfine), the
# control socket's own round trips and /metrics scrapes (bench_client.py),
# RSS again. SIGTERM at the end; every service must be deregistered.
FLEET_JOBS=50
FLEETS=(fleet fleet-plain)
declare -A FLEET FLEET_LABEL CTL
FLEET_ELAPSED=0 FLEET_CHECKS=0 TEL_PORT=

write_fleet_config() { # write_fleet_config NAME EMULATOR [TELEMETRY_PORT]
	local i check
	{
		echo '{'
		echo "  consul: \"${EMU_API[$2]}\","
		echo '  logging: { level: "WARN" },'
		[ -n "${3:-}" ] && echo "  telemetry: { port: $3, interfaces: [\"static:127.0.0.1\"] },"
		echo '  jobs: ['
		for ((i = 0; i < FLEET_JOBS; i++)); do
			if ((i % 2 == 0)); then
				check="tcp: \"127.0.0.1:$PORT\""
			else
				check="http: \"http://127.0.0.1:$PORT/\""
			fi
			printf '    { name: "svc%d", exec: ["%s"], restarts: "unlimited",\n' "$i" "$SLEEPER"
			printf '      port: %d, interfaces: ["static:127.0.0.1"],\n' $((20000 + i))
			printf '      health: { %s, interval: "5s", ttl: "10s", timeout: "1s" } },\n' "$check"
		done
		echo '  ]'
		echo '}'
	} >"$WORK/$1.json5"
}

# fleet_count NAME requests|services -> the Consul requests its emulator has
# served, or the services registered in its agent
fleet_count() {
	client emulator-requests --target "${EMU_ADMIN[emu-$1]}" >"$WORK/req.kv"
	awk -F= -v k="$2" '$1 == k { print $2 }' "$WORK/req.kv"
}

tel_metric() { # tel_metric NAME -> the value of that series on fleet's /metrics
	client metric --url "http://127.0.0.1:$TEL_PORT/metrics" --name "$1" | awk -F= '$1 == "value" { print $2 }'
}

measure_fleet() {
	local n i pid rss names tck conn0 conn1 t0 t1 w0 w1
	local -A req0 ctxt0 cpu0
	[ -n "$SLEEPER" ] || build_sleeper
	start_listener
	TEL_PORT=$(free_port)
	for n in "${FLEETS[@]}"; do
		start_emulator "emu-$n"
		if [ "$n" = fleet ]; then write_fleet_config "$n" "emu-$n" "$TEL_PORT"; else write_fleet_config "$n" "emu-$n"; fi
		"$TUG" check "$WORK/$n.json5" >"$WORK/err" 2>&1 || die "tug check $n.json5: $(cat "$WORK/err")"
		start_sup "$n" "$TUG" --config "$WORK/$n.json5" --socket "$WORK/$n.sock"
	done
	FLEET_LABEL=([fleet]="tug, $FLEET_JOBS advertised jobs + telemetry" [fleet-plain]="tug, $FLEET_JOBS advertised jobs, no telemetry")
	names=$(for ((i = 0; i < FLEET_JOBS; i++)); do printf 'svc%d,' "$i"; done)
	for n in "${FLEETS[@]}"; do
		client wait-passing --target "${EMU_ADMIN[emu-$n]}" --names "${names%,}" --timeout 30 >/dev/null
		FLEET[$n,registered]=$(fleet_count "$n" services)
	done
	sleep 2 # past the first round of heartbeats
	for n in "${FLEETS[@]}"; do
		pid=${SUP_PID[$n]}
		alive "$pid" || die "$n exited: $(tail -c 600 "$WORK/$n.out")"
		FLEET[$n,rss_first]=$(status_field "$pid" VmRSS)
		FLEET[$n,rss_min]=${FLEET[$n,rss_first]} FLEET[$n,rss_max]=${FLEET[$n,rss_first]}
		req0[$n]=$(fleet_count "$n" requests)
	done
	w0=$(tel_metric tug_loop_wakeups_total)
	for n in "${FLEETS[@]}"; do
		ctxt0[$n]=$(ctxt_switches "${SUP_PID[$n]}")
		cpu0[$n]=$(sum_cpu_ticks "${SUP_PID[$n]}")
	done
	conn0=$(wc -l <"$WORK/listener.log")
	t0=$EPOCHREALTIME
	log "fleet window: ${FLEET_SECS} s with ${FLEETS[*]} heartbeating $FLEET_JOBS services each"
	for ((i = 0; i < FLEET_SECS; i++)); do
		nap 1
		for n in "${FLEETS[@]}"; do
			rss=$(status_field "${SUP_PID[$n]}" VmRSS)
			((rss < FLEET[$n,rss_min])) && FLEET[$n,rss_min]=$rss
			((rss > FLEET[$n,rss_max])) && FLEET[$n,rss_max]=$rss
		done
	done
	t1=$EPOCHREALTIME
	conn1=$(wc -l <"$WORK/listener.log")
	tck=$(getconf CLK_TCK)
	FLEET_ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	for n in "${FLEETS[@]}"; do
		pid=${SUP_PID[$n]}
		alive "$pid" || die "$n exited during the window: $(tail -c 600 "$WORK/$n.out")"
		FLEET[$n,wake]=$(awk -v d="$(($(ctxt_switches "$pid") - ctxt0[$n]))" -v s="$FLEET_ELAPSED" 'BEGIN { printf "%.2f", d / s }')
		FLEET[$n,cpu]=$(awk -v d="$(($(sum_cpu_ticks "$pid") - cpu0[$n]))" -v t="$tck" -v s="$FLEET_ELAPSED" \
			'BEGIN { printf "%.0f", d * 1000 / t * 60 / s }')
		FLEET[$n,rss]=$(status_field "$pid" VmRSS)
		FLEET[$n,req]=$(awk -v d="$(($(fleet_count "$n" requests) - req0[$n]))" -v s="$FLEET_ELAPSED" 'BEGIN { printf "%.2f", d / s }')
		[ "$(children_of "$pid" | wc -w)" -ge "$FLEET_JOBS" ] || die "$n lost children during the window"
	done
	w1=$(tel_metric tug_loop_wakeups_total)
	FLEET[fleet,loop_wake]=$(awk -v d="$((w1 - w0))" -v s="$FLEET_ELAPSED" 'BEGIN { printf "%.2f", d / s }')
	FLEET_CHECKS=$(awk -v n="$((conn1 - conn0))" -v s="$FLEET_ELAPSED" 'BEGIN { printf "%.2f", n / s }')

	measure_control
	FLEET[fleet,rss_after]=$(status_field "${SUP_PID[fleet]}" VmRSS)

	for n in "${FLEETS[@]}"; do
		stop_init "${SUP_PID[$n]}"
		FLEET[$n,left]=$(fleet_count "$n" services)
		stop_init "${EMU_PID[emu-$n]}"
	done
	stop_init "$LISTENER_PID"
}

# hyperfine over `tug ctl ping`, `tug ctl status` (the table) and `tug check`
# of fleet's config, with the bare static true as the floor of a process
# start; then the socket's round trips without a process start, and
# /metrics scrapes.
measure_control() {
	local sock=$WORK/fleet.sock json=$WORK/control.json n m s d
	local args=(-n bare "$STATIC_TRUE" -n ping "$TUG ctl --socket $sock ping"
		-n status "$TUG ctl --socket $sock status" -n check "$TUG check $WORK/fleet.json5")
	log "control: hyperfine -N --warmup 20 --runs $CTL_RUNS (4 commands)"
	hyperfine -N --style basic --warmup 20 --runs "$CTL_RUNS" --export-json "$json" "${args[@]}" \
		>"$WORK/hyperfine-control.log" 2>&1 || {
		cat "$WORK/hyperfine-control.log" >&2
		die "hyperfine failed"
	}
	while read -r n m s d; do
		CTL[$n,mean]=$m CTL[$n,sd]=$s CTL[$n,med]=$d
	done < <(jq -r '.results[] | [.command, .mean * 1e3, .stddev * 1e3, .median * 1e3] | @tsv' "$json")
	"$TUG" ctl --socket "$sock" status >"$WORK/status.txt" 2>&1 || die "tug ctl status: $(cat "$WORK/status.txt")"
	CTL[status_lines]=$(wc -l <"$WORK/status.txt")
	log "control: socket round trips and /metrics scrapes (200 each)"
	client control --socket "$sock" --count 200 >"$WORK/control.kv"
	kv_into CTL "" "$WORK/control.kv"
	client scrape --url "http://127.0.0.1:$TEL_PORT/metrics" --count 200 >"$WORK/scrape.kv"
	kv_into CTL "scrape_" "$WORK/scrape.kv"
}

bench_fleet() {
	local n ratio ok note
	log "section: 50 advertised jobs, control and telemetry"
	measure_fleet

	md "## Discovery: $FLEET_JOBS advertised jobs heartbeating" ""
	md "How measured: two tugs run at the same time, each against its own Consul emulator, each with" \
		"$FLEET_JOBS advertised jobs (\`port\`, \`interfaces: [\"static:127.0.0.1\"]\`, the \`pause()\` child of the" \
		"supervisor section, \`restarts: \"unlimited\"\`) with \`health: { interval: \"5s\", ttl: \"10s\"," \
		"timeout: \"1s\" }\`, half \`tcp\` and half \`http\` checks against the local listener; every passing" \
		"check is a TTL heartbeat (\`PUT /v1/agent/check/update/service:ID\`), so $((FLEET_JOBS / 5)) checks and" \
		"$((FLEET_JOBS / 5)) heartbeats per second are asked for. One tug also serves telemetry (which" \
		"registers its own \`containerpilot\` service, heartbeating every 5 s), the other does not. The" \
		"window is ${FLEET_ELAPSED} s, starting 2 s after every service is passing in the catalog." \
		"**RSS** is \`VmRSS\` at the end of the window (min–max sampled every second); **wake-ups** are" \
		"context switches per second, **CPU** utime + stime scaled to 60 s, as in the supervisor section;" \
		"**requests/s** are the Consul API requests the tug's emulator served in the window." ""
	md "| tug | services registered | RSS kB (min–max) | wake-ups/s | CPU ms per 60 s | emulator requests/s | deregistered on SIGTERM |" \
		"| --- | ---: | ---: | ---: | ---: | ---: | --- |"
	for n in "${FLEETS[@]}"; do
		if [ "${FLEET[$n,left]}" = 0 ]; then note="all (0 left)"; else note="**${FLEET[$n,left]} left**"; fi
		md "| ${FLEET_LABEL[$n]} | ${FLEET[$n,registered]} | ${FLEET[$n,rss]} (${FLEET[$n,rss_min]}–${FLEET[$n,rss_max]}) | ${FLEET[$n,wake]} | ${FLEET[$n,cpu]} | ${FLEET[$n,req]} | $note |"
	done
	md "" "The listener saw $FLEET_CHECKS checks/s from both tugs ($((2 * FLEET_JOBS / 5)) asked for). Per heartbeat" \
		"(one check and one TTL update) the tug without telemetry woke up" \
		"$(awk -v w="${FLEET[fleet-plain,wake]}" -v j="$FLEET_JOBS" 'BEGIN { printf "%.2f", w / (j / 5) }') times: connects," \
		"responses and timers that fall due together share a wake-up. The telemetry tug's own counter" \
		"\`tug_loop_wakeups_total\` (one per \`epoll_wait\` return) grew by ${FLEET[fleet,loop_wake]}/s over the" \
		"window, next to its ${FLEET[fleet,wake]} context switches/s." ""

	md "## Control socket and telemetry ($FLEET_JOBS jobs)" ""
	md "How measured: on the telemetry tug above, still heartbeating its $FLEET_JOBS services, right after" \
		"the window. \`hyperfine -N --warmup 20 --runs $CTL_RUNS\` over \`tug ctl ping\`, \`tug ctl status\` (the" \
		"table: ${CTL[status_lines]} lines), \`tug check\` of the same config file (load, render, decode and" \
		"validate, print the job graph: what ContainerPilot's CLI did before every command) and the bare" \
		"static true (the cost of starting any process). Then \`scripts/bench_client.py\` times 200" \
		"requests each from Python, so without a process start: \`GET /v3/ping\` and \`GET /v3/status\` on" \
		"the control socket, a new connection each, and \`GET /metrics\`, first a new connection each," \
		"then all on one keep-alive connection. **RSS added by telemetry** compares the two tugs of the" \
		"section above (same jobs, same backend)." ""
	md "| command | mean (ms) | stddev (ms) | median (ms) |" "| --- | ---: | ---: | ---: |"
	for n in bare ping status check; do
		md "| $n | $(ms "${CTL[$n,mean]}") | $(ms "${CTL[$n,sd]}") | $(ms "${CTL[$n,med]}") |"
	done
	md "" "| round trip, no process start | p50 (ms) | p99 (ms) | max (ms) | response bytes |" \
		"| --- | ---: | ---: | ---: | ---: |" \
		"| \`GET /v3/ping\`, control socket, new connection | ${CTL[ping_p50_ms]} | ${CTL[ping_p99_ms]} | ${CTL[ping_max_ms]} | ${CTL[ping_bytes]} |" \
		"| \`GET /v3/status\`, control socket, new connection | ${CTL[status_p50_ms]} | ${CTL[status_p99_ms]} | ${CTL[status_max_ms]} | ${CTL[status_bytes]} |" \
		"| \`GET /metrics\`, new connection | ${CTL[scrape_fresh_p50_ms]} | ${CTL[scrape_fresh_p99_ms]} | ${CTL[scrape_fresh_max_ms]} | ${CTL[scrape_bytes]} (${CTL[scrape_series]} series) |" \
		"| \`GET /metrics\`, keep-alive | ${CTL[scrape_keepalive_p50_ms]} | ${CTL[scrape_keepalive_p99_ms]} | ${CTL[scrape_keepalive_max_ms]} | ${CTL[scrape_bytes]} |" ""
	((CTL[scrape_keepalive_closed_by_server] == 0)) ||
		md "tug closed the keep-alive connection ${CTL[scrape_keepalive_closed_by_server]} times during the keep-alive scrapes." ""
	md "RSS added by telemetry: ${FLEET[fleet,rss]} kB with telemetry vs ${FLEET[fleet-plain,rss]} kB without" \
		"= $((FLEET[fleet,rss] - FLEET[fleet-plain,rss])) kB at the end of the window; ${FLEET[fleet,rss_after]} kB" \
		"after the control benchmarks ($((CTL_RUNS + 20)) runs of each \`tug ctl\` command, 400 socket requests)" \
		"and the 400 scrapes of a ${CTL[scrape_bytes]}-byte page ($((FLEET[fleet,rss_after] - FLEET[fleet-plain,rss])) kB" \
		"over the tug without telemetry)." ""
	md "### Targets for the control plane" "" "| target | measured | verdict |" "| --- | --- | --- |"
	ratio=$(awk -v a="${CTL[status,mean]}" -v b="${CTL[check,mean]}" 'BEGIN { printf "%.2f", a / b }')
	ok=$(awk -v r="$ratio" -v t="$TARGET_CTL_STATUS_VS_CHECK" 'BEGIN { print (r < t) ? 1 : 0 }')
	md "| a \`tug ctl status\` round trip faster than loading the config (\`tug check\`): ratio < $TARGET_CTL_STATUS_VS_CHECK | status $(ms "${CTL[status,mean]}") ms / check $(ms "${CTL[check,mean]}") ms = $ratio (ping: $(awk -v a="${CTL[ping,mean]}" -v b="${CTL[check,mean]}" 'BEGIN { printf "%.2f", a / b }')) | $(verdict "$ok") |"
	md "" "Both are dominated by starting a process: the bare static true alone takes $(ms "${CTL[bare,mean]}") ms" \
		"here. Without the process start, the status round trip is the socket figure above" \
		"(p50 ${CTL[status_p50_ms]} ms)." ""
}

# ---------------------------------------------------------------------------
# Section: service kinds (issue 10). inetd under load, tug against Debian's
# xinetd; readiness latency (READY=1 -> the dependent's exec); 50 notify
# jobs at rest. Every tug half first runs `tug check` on its config: a
# build without the service kinds is reported as not measured, the xinetd
# half still runs.

declare -A SVC

build_peer() { # build_peer NAME: tests/peers/NAME.c -> $WORK/NAME
	gcc -O2 -o "$WORK/$1" "$ROOT/tests/peers/$1.c" || die "cannot build tests/peers/$1.c"
}

wait_port() { # wait_port PORT PID: until 127.0.0.1:PORT accepts (5 s), while PID lives
	local i
	for ((i = 0; i < 500; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		alive "$2" || return 1
		sleep 0.01
	done
	return 1
}

# measure_echo NAME PID PORT: one load window of BENCH_SVC_CLIENTS clients at
# once against the echo server on PORT for BENCH_SVC_SECS; adds to the totals
# SVC[NAME,*]: connections, seconds, refused, errors, the server process
# PID's CPU ticks and context switches, the client's CPU; its peak RSS
# (sampled every 0.2 s); this window's rate in SVC[NAME,rates]. Every TTFB
# goes to $WORK/ttfb-NAME.raw. Only PID is measured: its children (the
# `cat` instances, the same program under either server) are not counted.
measure_echo() {
	local n=$1 pid=$2 port=$3 cl rss cpu0 ctx0 busy0 total0 busy1 total1
	local -A r=()
	read -r busy0 total0 < <(machine_ticks)
	cpu0=$(sum_cpu_ticks "$pid")
	ctx0=$(ctxt_switches "$pid")
	python3 "$CLIENT" echo-load --target "127.0.0.1:$port" --clients "$SVC_CLIENTS" --secs "$SVC_SECS" \
		--max-conns $((SVC_SECS * 5000)) --raw "$WORK/ttfb-$n.raw" >"$WORK/echo-$n.kv" 2>"$WORK/echo-$n.err" &
	cl=$!
	BG_PIDS[$cl]=1
	while alive "$cl"; do
		rss=$(status_field "$pid" VmRSS)
		((rss > SVC[$n,rss_max])) && SVC[$n,rss_max]=$rss
		sleep 0.2
	done
	wait "$cl" || die "echo-load against $n: $(cat "$WORK/echo-$n.err")"
	unset 'BG_PIDS[$cl]'
	read -r busy1 total1 < <(machine_ticks)
	SVC[$n,m_busy]=$((SVC[$n,m_busy] + busy1 - busy0))
	SVC[$n,m_total]=$((SVC[$n,m_total] + total1 - total0))
	alive "$pid" || die "$n exited under load: $(tail -c 600 "$WORK/$n.out")"
	kv_into r "" "$WORK/echo-$n.kv"
	SVC[$n,conns]=$((SVC[$n,conns] + r[conns]))
	SVC[$n,refused]=$((SVC[$n,refused] + r[refused]))
	SVC[$n,errors]=$((SVC[$n,errors] + r[errors]))
	SVC[$n,secs]=$(awk -v a="${SVC[$n,secs]}" -v b="${r[secs]}" 'BEGIN { printf "%.3f", a + b }')
	SVC[$n,client_cpu]=$(awk -v a="${SVC[$n,client_cpu]}" -v b="${r[client_cpu_s]}" 'BEGIN { printf "%.3f", a + b }')
	SVC[$n,ticks]=$((SVC[$n,ticks] + $(sum_cpu_ticks "$pid") - cpu0))
	SVC[$n,ctx]=$((SVC[$n,ctx] + $(ctxt_switches "$pid") - ctx0))
	SVC[$n,rates]+="${r[conns_per_s]} "
}

# The machine's CPU time so far, all CPUs, in ticks: "busy total" (idle and
# iowait are the not-busy part).
machine_ticks() {
	awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}

# Nearest-rank percentile P of the numbers (ns) in FILE, in ms.
pct_ms() {
	sort -n "$2" | awk -v p="$1" '{ v[NR] = $1 } END { r = int(NR * p / 100); if (r < NR * p / 100) r++; if (r < 1) r = 1; printf "%.3f", v[r] / 1e6 }'
}

# xinetd and tug serve the same echo service (cat) on two loopback ports,
# both running throughout; BENCH_SVC_ROUNDS rounds of one load window
# each, the order swapped every round (so that drift of this shared
# machine favours neither), the other server idle meanwhile.
INETDS=(xinetd tug)
measure_inetd() {
	local cat_bin n r i
	local -A port
	cat_bin=$(command -v cat)
	for n in "${INETDS[@]}"; do
		SVC[$n,rss_max]=0 SVC[$n,conns]=0 SVC[$n,secs]=0 SVC[$n,refused]=0 SVC[$n,errors]=0
		SVC[$n,client_cpu]=0 SVC[$n,ticks]=0 SVC[$n,ctx]=0 SVC[$n,rates]= SVC[$n,m_busy]=0 SVC[$n,m_total]=0
		: >"$WORK/ttfb-$n.raw"
	done
	# xinetd: one stream service running cat, no rate limit (cps) or
	# per-source cap, as many instances as tug's max, no per-connection log.
	port[xinetd]=$(free_port)
	cat >"$WORK/xinetd.conf" <<XEOF
defaults
{
	log_type = FILE $WORK/xinetd.log
	log_on_success =
	log_on_failure = HOST
	instances = UNLIMITED
	per_source = UNLIMITED
	cps = 1000000 1
}
service tug-echo
{
	type = UNLISTED
	id = tug-echo
	socket_type = stream
	protocol = tcp
	wait = no
	user = $(id -un)
	bind = 127.0.0.1
	port = ${port[xinetd]}
	server = $cat_bin
	instances = $((2 * SVC_CLIENTS))
}
XEOF
	# (pkg_bin would find /etc/init.d/xinetd first.)
	local xinetd=/usr/sbin/xinetd
	[ -x "$xinetd" ] || die "no $xinetd"
	start_sup xinetd "$xinetd" -dontfork -f "$WORK/xinetd.conf" -pidfile "$WORK/xinetd.pid"
	wait_port "${port[xinetd]}" "${SUP_PID[xinetd]}" || die "xinetd does not listen: $(tail -c 600 "$WORK/xinetd.out")"
	SVC[xinetd,rss_idle]=$(status_field "${SUP_PID[xinetd]}" VmRSS)

	port[tug]=$(free_port)
	cat >"$WORK/inetd.json5" <<JEOF
{ logging: { level: "WARN" }, jobs: [
  { name: "echo", type: "inetd", listen: "tcp://127.0.0.1:${port[tug]}", max: $((2 * SVC_CLIENTS)), exec: ["$cat_bin"] } ] }
JEOF
	local servers=(xinetd)
	if "$TUG" check "$WORK/inetd.json5" >"$WORK/err" 2>&1; then
		start_sup tug "$TUG" --config "$WORK/inetd.json5" --socket "$WORK/inetd.sock"
		wait_port "${port[tug]}" "${SUP_PID[tug]}" || die "tug's inetd job does not listen: $(tail -c 600 "$WORK/tug.out")"
		SVC[tug,rss_idle]=$(status_field "${SUP_PID[tug]}" VmRSS)
		servers+=(tug)
	else
		SVC[tug,skip]=$(head -1 "$WORK/err")
		log "inetd: tug not measured: ${SVC[tug,skip]}"
	fi
	sleep 0.5 # wait_port's own connections served and reaped
	for ((r = 0; r < SVC_ROUNDS; r++)); do
		for ((i = 0; i < ${#servers[@]}; i++)); do
			n=${servers[$(((i + r) % ${#servers[@]}))]}
			log "inetd round $((r + 1))/$SVC_ROUNDS: $n, $SVC_CLIENTS clients for ${SVC_SECS} s"
			measure_echo "$n" "${SUP_PID[$n]}" "${port[$n]}"
		done
	done
	local tck
	tck=$(getconf CLK_TCK)
	for n in "${servers[@]}"; do
		# What the server logged (tug at WARN: nothing is expected).
		if [ "$n" = tug ]; then
			SVC[$n,log_lines]=$(grep -c . "$WORK/tug.out" || true)
			SVC[$n,log_first]=$(grep -m1 . "$WORK/tug.out" | head -c 200 || true)
		else
			SVC[$n,log_lines]=$(grep -c . "$WORK/xinetd.log" 2>/dev/null || true)
			SVC[$n,log_first]=$(grep -m1 . "$WORK/xinetd.log" 2>/dev/null | head -c 200 || true)
		fi
		stop_init "${SUP_PID[$n]}"
		SVC[$n,conns_per_s]=$(awk -v c="${SVC[$n,conns]}" -v s="${SVC[$n,secs]}" 'BEGIN { printf "%.1f", c / s }')
		SVC[$n,ttfb_p50_ms]=$(pct_ms 50 "$WORK/ttfb-$n.raw")
		SVC[$n,ttfb_p99_ms]=$(pct_ms 99 "$WORK/ttfb-$n.raw")
		SVC[$n,cpu_per_1k]=$(awk -v d="${SVC[$n,ticks]}" -v t="$tck" -v n="${SVC[$n,conns]}" 'BEGIN { printf "%.1f", n ? d * 1000 / t * 1000 / n : 0 }')
		SVC[$n,cpu_pct]=$(awk -v d="${SVC[$n,ticks]}" -v t="$tck" -v s="${SVC[$n,secs]}" 'BEGIN { printf "%.0f", d / t / s * 100 }')
		SVC[$n,client_pct]=$(awk -v c="${SVC[$n,client_cpu]}" -v s="${SVC[$n,secs]}" 'BEGIN { printf "%.0f", c / s * 100 }')
		SVC[$n,machine_pct]=$(awk -v b="${SVC[$n,m_busy]}" -v t="${SVC[$n,m_total]}" 'BEGIN { printf "%.0f", t ? b / t * 100 : 0 }')
		SVC[$n,ctx_per_conn]=$(awk -v d="${SVC[$n,ctx]}" -v n="${SVC[$n,conns]}" 'BEGIN { printf "%.2f", n ? d / n : 0 }')
	done
	# The rate ratio per round (tug / xinetd), for its range.
	if [ -z "${SVC[tug,skip]:-}" ]; then
		SVC[ratio_range]=$(paste <(tr ' ' '\n' <<<"${SVC[tug,rates]}") <(tr ' ' '\n' <<<"${SVC[xinetd,rates]}") |
			awk 'NF == 2 && $2 > 0 { q = $1 / $2; if (lo == "" || q < lo) lo = q; if (hi == "" || q > hi) hi = q } END { printf "%.2f–%.2f", lo, hi }')
	fi
}

# READY=1 -> the dependent's exec: a fresh tug per run, a notify job that
# stamps CLOCK_MONOTONIC just before its READY=1 (tests/peers/notify.c
# ready-stamp) and a job `after` it that stamps at its exec (scripts/stamp.c).
# Each run is paired with one of scripts/ready-baseline.c (a blocking recv,
# then fork+exec: the floor for any supervisor), the pair's order swapped
# every run, so both see the same machine.
measure_readiness() {
	local i k pid a b
	cat >"$WORK/ready.json5" <<JEOF
{ logging: { level: "WARN" }, jobs: [
  { name: "db", type: "notify", exec: ["$WORK/notify", "ready-stamp", "$WORK/ready.st"] },
  { name: "app", after: ["db"], exec: ["$STAMP", "$WORK/exec.st"] } ] }
JEOF
	if ! "$TUG" check "$WORK/ready.json5" >"$WORK/err" 2>&1; then
		SVC[ready,skip]=$(head -1 "$WORK/err")
		log "readiness: not measured: ${SVC[ready,skip]}"
		return 0
	fi
	gcc -O2 -o "$WORK/ready-baseline" "$ROOT/scripts/ready-baseline.c" || die "cannot build scripts/ready-baseline.c"
	: >"$WORK/ready.lat"
	: >"$WORK/ready-base.lat"
	log "readiness: $SVC_READY_RUNS runs (+ as many of the baseline)"
	local order f
	SVC[ready,load0]=$(cut -d' ' -f1 /proc/loadavg)
	for ((i = 0; i < SVC_READY_RUNS; i++)); do
		order="0 1"
		((i % 2 == 0)) || order="1 0"
		for k in $order; do
			rm -f "$WORK/ready.st" "$WORK/exec.st"
			if ((k == 0)); then
				start_sup ready "$TUG" --config "$WORK/ready.json5" --socket "$WORK/ready.sock"
				pid=${SUP_PID[ready]}
				wait_for_line "$WORK/exec.st" '^[0-9]+' "$pid" 5 >/dev/null ||
					die "readiness run $i: the dependent never ran: $(tail -c 600 "$WORK/ready.out")"
				stop_init "$pid"
			else
				timeout 5 "$WORK/ready-baseline" "$WORK/notify" "$WORK/ready.st" "$STAMP" "$WORK/exec.st" \
					2>"$WORK/ready-base.out" || die "readiness baseline run $i failed: $(tail -c 600 "$WORK/ready-base.out")"
			fi
			a=$(head -1 "$WORK/ready.st") b=$(head -1 "$WORK/exec.st")
			f=ready
			((k == 0)) || f=ready-base
			echo $((b - a)) >>"$WORK/$f.lat"
		done
	done
	SVC[ready,load1]=$(cut -d' ' -f1 /proc/loadavg)
	local p
	for f in ready ready-base; do
		for p in 0 50 90 99 100; do SVC[$f,p$p]=$(pct_ms "$p" "$WORK/$f.lat"); done
	done
}

# BENCH_SVC_JOBS notify jobs (each READY=1, then pause) against as many
# simple jobs running the same program (notify.c silent): RSS and
# context switches per second over BENCH_SVC_IDLE_SECS once all are up.
measure_notify_fleet() {
	local n i pid
	local -A ctx0
	for n in notify simple; do
		{
			echo '{ jobs: ['
			for ((i = 0; i < SVC_JOBS; i++)); do
				if [ "$n" = notify ]; then
					printf '  { name: "n%d", type: "notify", exec: ["%s", "ready"] },\n' "$i" "$WORK/notify"
				else
					printf '  { name: "s%d", exec: ["%s", "silent"] },\n' "$i" "$WORK/notify"
				fi
			done
			echo '] }'
		} >"$WORK/fleet-$n.json5"
	done
	if ! "$TUG" check "$WORK/fleet-notify.json5" >"$WORK/err" 2>&1; then
		SVC[fleet,skip]=$(head -1 "$WORK/err")
		log "notify jobs: not measured: ${SVC[fleet,skip]}"
		return 0
	fi
	for n in notify simple; do
		start_sup "fleet-$n" "$TUG" --config "$WORK/fleet-$n.json5" --socket "$WORK/fleet-$n.sock"
	done
	for ((i = 0; i < 1000; i++)); do
		(($(grep -c 'is ready' "$WORK/fleet-notify.out") >= SVC_JOBS)) &&
			(($(grep -c 'silent' "$WORK/fleet-simple.out") >= SVC_JOBS)) && break
		for n in notify simple; do
			alive "${SUP_PID[fleet-$n]}" || die "tug with $SVC_JOBS $n jobs exited: $(tail -c 600 "$WORK/fleet-$n.out")"
		done
		sleep 0.01
	done
	((i < 1000)) || die "the $SVC_JOBS notify jobs were not all ready within 10 s"
	sleep 0.5
	for n in notify simple; do
		pid=${SUP_PID[fleet-$n]}
		SVC[fleet-$n,rss]=$(status_field "$pid" VmRSS)
		ctx0[$n]=$(ctxt_switches "$pid")
	done
	log "notify jobs: ${SVC_IDLE_SECS} s at rest"
	nap "$SVC_IDLE_SECS"
	for n in notify simple; do
		pid=${SUP_PID[fleet-$n]}
		alive "$pid" || die "tug with $SVC_JOBS $n jobs exited at rest"
		SVC[fleet-$n,wake]=$(awk -v d="$(($(ctxt_switches "$pid") - ctx0[$n]))" -v s="$SVC_IDLE_SECS" 'BEGIN { printf "%.2f", d / s }')
		SVC[fleet-$n,fds]=$(find "/proc/$pid/fd" -mindepth 1 | wc -l)
		stop_init "$pid"
	done
}

bench_services() {
	local n ok r label
	log "section: service kinds"
	[ -n "${STAMP:-}" ] || build_stamp
	build_peer notify
	measure_inetd
	measure_readiness
	measure_notify_fleet

	md "## Service kinds: inetd, readiness, notify jobs" ""
	md "How measured (inetd): an echo service (\`cat\`, one process per connection, the socket as its stdin" \
		"and stdout) on a loopback port, served by Debian's xinetd $(dpkg-query -W -f='${Version}' xinetd)" \
		"(\`wait = no\`, no \`cps\` or \`per_source\` limit, \`instances = $((2 * SVC_CLIENTS))\`, nothing logged per" \
		"connection) and by tug \`${INIT_VER[tug]}\` (\`type: \"inetd\"\`, \`listen: \"tcp://127.0.0.1:PORT\"\`," \
		"\`max: $((2 * SVC_CLIENTS))\`, log level WARN), both running throughout, loaded in turn: $SVC_ROUNDS round(s) of one" \
		"${SVC_SECS} s window per server, the order swapped every round, the other server idle meanwhile." \
		"\`scripts/bench_client.py echo-load\` keeps $SVC_CLIENTS connections open at once," \
		"each reopened as soon as it has its answer: connect, send a line, wait for the first byte back," \
		"close. **Connections/s** is all answered connections over all windows; **TTFB** is" \
		"connect-to-first-byte, percentiles over every connection of every window. **RSS** is the" \
		"server process's own \`VmRSS\`, its peak during the load (sampled every 0.2 s; idle before it in" \
		"brackets): **children are not counted** (the \`cat\` instances are the same program under either" \
		"server). **CPU** is the server process's utime + stime during the load (again without the" \
		"instances), per 1000 connections and as a share of one CPU; **client CPU** is the load" \
		"generator's own share of one CPU (one Python process), to tell whether it set the pace;" \
		"**machine CPU busy** is the whole machine's (\`/proc/stat\`, all $(nproc) CPUs, everyone's processes) during" \
		"the server's windows. **Log lines** are what the server logged in all (tug at WARN, xinetd" \
		"failures only)." ""
	md "| server | connections/s | vs xinetd (ratio, range over rounds) | TTFB p50 (ms) | TTFB p99 (ms) | refused | errors | own RSS kB peak (idle) | RSS vs xinetd | CPU ms per 1000 conns (% of a CPU) | context switches per conn | client CPU | machine CPU busy | log lines |" \
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for n in tug xinetd; do
		if [ -n "${SVC[$n,skip]:-}" ]; then
			md "| $n | not measured: ${SVC[$n,skip]//|/\\|} | | | | | | | | | | | | |"
			continue
		fi
		local vs rss_vs
		label=$n
		if [ "$n" = tug ]; then label="tug \`${INIT_VER[tug]}\`"; fi
		if [ "$n" = xinetd ]; then
			vs="1.00" rss_vs="1.00"
		else
			vs="$(awk -v a="${SVC[tug,conns_per_s]}" -v b="${SVC[xinetd,conns_per_s]}" 'BEGIN { printf "%.2f", a / b }') (${SVC[ratio_range]})"
			rss_vs=$(awk -v a="${SVC[tug,rss_max]}" -v b="${SVC[xinetd,rss_max]}" 'BEGIN { printf "%.2f (1/%.1f)", a / b, b / a }')
		fi
		md "| $label | ${SVC[$n,conns_per_s]} | $vs | ${SVC[$n,ttfb_p50_ms]} | ${SVC[$n,ttfb_p99_ms]} | ${SVC[$n,refused]} | ${SVC[$n,errors]} | ${SVC[$n,rss_max]} (${SVC[$n,rss_idle]}) | $rss_vs | ${SVC[$n,cpu_per_1k]} (${SVC[$n,cpu_pct]} %) | ${SVC[$n,ctx_per_conn]} | ${SVC[$n,client_pct]} % | ${SVC[$n,machine_pct]} % | ${SVC[$n,log_lines]} |"
	done
	md ""
	local line
	for n in tug xinetd; do
		line=${SVC[$n,log_first]:-}
		if [ -n "$line" ]; then md "$n's first log line: \`${line//[\`|]/ }\`" ""; fi
	done

	md "How measured (readiness): $SVC_READY_RUNS runs, each a fresh tug with a \`type: \"notify\"\` job" \
		"\`db\` (\`tests/peers/notify.c ready-stamp\`: \`CLOCK_MONOTONIC\` written just before its \`READY=1\`" \
		"datagram) and a job \`after: [\"db\"]\` (\`scripts/stamp.c\`: \`CLOCK_MONOTONIC\` at its exec, no libc)." \
		"The time is from just before the datagram is sent to the dependent's first instruction: tug" \
		"receiving READY=1, marking \`db\` ready, starting the dependent (fork + exec). Each run is paired" \
		"with one of a **baseline** (\`scripts/ready-baseline.c\`: the same two programs under a C" \
		"parent that polls the notify socket and the service's stdout, copies its output to stderr as" \
		"tug logs it, and on READY=1 fork+execs the dependent: the least any supervisor can do), the" \
		"pair's order swapped every run, so both see the same machine." ""
	if [ -n "${SVC[ready,skip]:-}" ]; then
		md "Not measured: ${SVC[ready,skip]}" ""
	else
		md "| READY=1 → dependent exec'd, $SVC_READY_RUNS runs each | min (ms) | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) |" \
			"| --- | ---: | ---: | ---: | ---: | ---: |"
		for n in ready ready-base; do
			label="tug \`${INIT_VER[tug]}\`"
			[ "$n" = ready ] || label="baseline (\`scripts/ready-baseline.c\`)"
			md "| $label | ${SVC[$n,p0]} | ${SVC[$n,p50]} | ${SVC[$n,p90]} | ${SVC[$n,p99]} | ${SVC[$n,p100]} |"
		done
		md "| tug / baseline (ratio) | $(for p in p0 p50 p90 p99 p100; do awk -v a="${SVC[ready,$p]}" -v b="${SVC[ready-base,$p]}" 'BEGIN { printf "%.2f | ", (b > 0) ? a / b : 0 }'; done)" ""
		md "The machine's 1-minute load average was ${SVC[ready,load0]} at the start of the runs and ${SVC[ready,load1]} at" \
			"the end ($(nproc) CPUs)." ""
	fi
	md "How measured (notify jobs): two tugs side by side, one with $SVC_JOBS \`type: \"notify\"\` jobs" \
		"(\`notify.c ready\`: \`READY=1\`, then \`pause()\`), one with $SVC_JOBS simple jobs running the same" \
		"program without notifying (\`notify.c silent\`). Once every job is up (all \`is ready\` lines" \
		"seen), 0.5 s later: the tug's own **RSS** (\`VmRSS\`, children not counted), then its" \
		"**wake-ups** (voluntary + non-voluntary context switches, as in the init-core section) per second over" \
		"${SVC_IDLE_SECS} s at rest, and its open fds." ""
	if [ -n "${SVC[fleet,skip]:-}" ]; then
		md "Not measured: ${SVC[fleet,skip]}" ""
	else
		md "| tug | own RSS kB | wake-ups/s at rest | open fds |" "| --- | ---: | ---: | ---: |"
		for n in notify simple; do
			md "| $SVC_JOBS $n jobs | ${SVC[fleet-$n,rss]} | ${SVC[fleet-$n,wake]} | ${SVC[fleet-$n,fds]} |"
		done
		md "" "Per notify job over a simple one: $(awk -v a="${SVC[fleet-notify,rss]}" -v b="${SVC[fleet-simple,rss]}" -v j="$SVC_JOBS" 'BEGIN { printf "%.2f", (a - b) / j }') kB of RSS" \
			"and $(awk -v a="${SVC[fleet-notify,fds]}" -v b="${SVC[fleet-simple,fds]}" -v j="$SVC_JOBS" 'BEGIN { printf "%.0f", (a - b) / j }') fd (its notify socket)." ""
	fi

	local size text
	size=$(stat -L -c %s "$TUG")
	text=$(size "$TUG" | awk 'NR == 2 { print $1 }')
	md "Binary size (\`make build\`): $size bytes (text $text), against $SIZE_BEFORE_ISSUE10 bytes (text" \
		"$TEXT_BEFORE_ISSUE10) before the issue-10 refactor: $(awk -v a="$size" -v b="$SIZE_BEFORE_ISSUE10" 'BEGIN { printf "%+d bytes, ×%.3f", a - b, a / b }')" \
		"(text $(awk -v a="$text" -v b="$TEXT_BEFORE_ISSUE10" 'BEGIN { printf "%+d, ×%.3f", a - b, a / b }'))." ""

	md "### Targets for the service kinds" "" "| target | measured | verdict |" "| --- | --- | --- |"
	if [ -z "${SVC[tug,skip]:-}" ]; then
		r=$(awk -v a="${SVC[tug,conns_per_s]}" -v b="${SVC[xinetd,conns_per_s]}" 'BEGIN { printf "%.2f", a / b }')
		ok=$(awk -v r="$r" -v t="$TARGET_INETD_RATE_VS_XINETD" 'BEGIN { print (r >= t) ? 1 : 0 }')
		md "| inetd: connections/s ≥ xinetd's (ratio ≥ $TARGET_INETD_RATE_VS_XINETD), $SVC_CLIENTS clients | ${SVC[tug,conns_per_s]}/s vs ${SVC[xinetd,conns_per_s]}/s = $r (per-round ${SVC[ratio_range]}); TTFB p99 ${SVC[tug,ttfb_p99_ms]} vs ${SVC[xinetd,ttfb_p99_ms]} ms | $(verdict "$ok") |"
		r=$(awk -v a="${SVC[tug,rss_max]}" -v b="${SVC[xinetd,rss_max]}" 'BEGIN { printf "%.3f (1/%.1f)", a / b, b / a }')
		ok=$(awk -v a="${SVC[tug,rss_max]}" -v b="${SVC[xinetd,rss_max]}" -v t="$TARGET_INETD_RSS_VS_XINETD" 'BEGIN { print (a <= t * b) ? 1 : 0 }')
		md "| inetd: own RSS ≤ 1/4 of xinetd's, under the same load (children not counted) | ${SVC[tug,rss_max]} kB vs ${SVC[xinetd,rss_max]} kB peak: $r | $(verdict "$ok") |"
	fi
	if [ -z "${SVC[ready,skip]:-}" ]; then
		ok=$(awk -v p="${SVC[ready,p99]}" -v t="$TARGET_READY_P99_MS" 'BEGIN { print (p < t) ? 1 : 0 }')
		md "| READY=1 → dependent exec'd: p99 < $TARGET_READY_P99_MS ms | p99 ${SVC[ready,p99]} ms (p50 ${SVC[ready,p50]} ms, max ${SVC[ready,p100]} ms) over $SVC_READY_RUNS runs; the baseline's p99 ${SVC[ready-base,p99]} ms | $(verdict "$ok") |"
	fi
	if [ -z "${SVC[fleet,skip]:-}" ]; then
		ok=$(awk -v w="${SVC[fleet-notify,wake]}" -v t="$TARGET_NOTIFY_IDLE_WAKEUPS" 'BEGIN { print (w <= t) ? 1 : 0 }')
		md "| $SVC_JOBS notify jobs at rest: $TARGET_NOTIFY_IDLE_WAKEUPS wake-ups | ${SVC[fleet-notify,wake]}/s over ${SVC_IDLE_SECS} s (own RSS ${SVC[fleet-notify,rss]} kB) | $(verdict "$ok") |"
	fi
	md ""
	if [ -z "${SVC[tug,skip]:-}" ] &&
		awk -v a="${SVC[tug,conns_per_s]}" -v b="${SVC[xinetd,conns_per_s]}" -v t="$TARGET_INETD_RATE_VS_XINETD" 'BEGIN { exit !(a < t * b) }'; then
		md "**Where the inetd rate falls short.** Both servers run the machine's CPUs flat out here" \
			"(machine CPU busy: tug's windows ${SVC[tug,machine_pct]} %, xinetd's ${SVC[xinetd,machine_pct]} %), mostly on the" \
			"fork + exec + dynamic loading of one \`cat\` per connection, and the load generator is far from" \
			"its limit (client CPU ${SVC[tug,client_pct]} % / ${SVC[xinetd,client_pct]} %). tug no longer waits for an instance's" \
			"exec (\`Command::spawn_detached\`: the report pipe is read in the loop), so what is left is CPU:" \
			"its own CPU per 1000 connections is tug ${SVC[tug,cpu_per_1k]} ms, xinetd ${SVC[xinetd,cpu_per_1k]} ms, on a machine" \
			"with none to spare. Per connection tug makes, besides the fork, a report pipe, a stderr pipe it" \
			"registers in epoll and drains (stderr is logged, with the peer), and a pidfd; xinetd's children" \
			"write their stderr where it points. Those are the syscalls to cut next (a stderr pipe shared by" \
			"an inetd job's instances, no pidfd for instances: SIGCHLD suffices for children)." ""
	fi
	if [ -z "${SVC[ready,skip]:-}" ] &&
		awk -v p="${SVC[ready,p99]}" -v t="$TARGET_READY_P99_MS" 'BEGIN { exit !(p >= t) }'; then
		md "**Where the readiness p99 is missed.** The baseline, which does nothing but poll, log and" \
			"fork+exec, has p99 ${SVC[ready-base,p99]} ms in the same runs (tug / baseline: $(awk -v a="${SVC[ready,p99]}" -v b="${SVC[ready-base,p99]}" 'BEGIN { printf "%.2f", a / b }') at p99," \
			"$(awk -v a="${SVC[ready,p50]}" -v b="${SVC[ready-base,p50]}" 'BEGIN { printf "%.2f", a / b }') at p50): on this shared machine (1-minute load ${SVC[ready,load0]}–${SVC[ready,load1]} on $(nproc) CPUs)" \
			"the tail is set mostly by how soon the woken parent and then the new child get a CPU (each" \
			"wait can be a scheduler slice, a few ms). Whether tug meets 5 ms can only be told on a machine" \
			"where the baseline does." ""
	fi
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
		"- tug: \`${INIT_VER[tug]}\`, built with \`make build\` (release, $TARGET)" \
		"- hyperfine: $(hyperfine --version | awk '{ print $2 }')" ""
}

# The logs section (issue 11).
# shellcheck source=scripts/bench-logs.sh
. "$ROOT/scripts/bench-logs.sh"

# The vm section (tug and busybox init as a VM's PID 1).
# shellcheck source=scripts/bench-vm.sh
. "$ROOT/scripts/bench-vm.sh"

main() {
	ensure_packages
	build_tug
	build_static_true
	find_inits
	check_inits
	local section
	for section in $SECTIONS; do
		case $section in
		init | supervisors | watch | fleet | services | size | logs | vm | registrator | chaperone) ;;
		*) die "unknown section '$section' in BENCH_SECTIONS (init, supervisors, watch, fleet, services, size, logs, vm, registrator, chaperone)" ;;
		esac
	done
	write_header
	for section in $SECTIONS; do
		case $section in
		init) bench_init ;;
		supervisors) bench_supervisors ;;
		watch) bench_watch ;;
		fleet) bench_fleet ;;
		services) bench_services ;;
		size) bench_size ;;
		logs) bench_logs ;;
		vm) bench_vm ;;
		registrator) bench_registrator ;;
		chaperone) bench_chaperone ;;
		esac
	done
	if [ -n "${BENCH_SECTIONS:-}" ]; then
		log "BENCH_SECTIONS is set: $OUT left as it was"
		cat "$MD"
		return
	fi
	mkdir -p "$(dirname "$OUT")"
	cp "$MD" "$OUT"
	log "wrote $OUT"
	cat "$OUT"
}

# Section: binary size (bench_size).
# shellcheck source=scripts/bench-size.sh
source "$ROOT/scripts/bench-size.sh"
# shellcheck source=scripts/bench-registrator.sh
. "$ROOT/scripts/bench-registrator.sh"
# shellcheck source=scripts/bench-chaperone.sh
. "$ROOT/scripts/bench-chaperone.sh"

main "$@"
