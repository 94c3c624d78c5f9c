#!/usr/bin/env bash
# test-cross.sh [TARGET...]: the portable part of the test suite for other
# CPUs, under Debian's qemu-user-static (default: aarch64 and armv7).
#
# - tug for the target comes from `make release` (scripts/release.sh).
# - The integration tests that need no Docker nor namespaces (tests/init.rs,
#   tests/jobs.rs, tests/cli.rs) run on the host with TUG_BIN pointing to a
#   wrapper that execs tug under qemu-user (`-0` keeps argv[0], so tug still
#   answers to the name tini). binfmt_misc is not needed: tug's children,
#   the tests' host probe, run natively, as qemu-user execs them.
# - The unit tests (cargo test --lib) need std for the test harness, run
#   under qemu-user as cargo's target runner: where the target's rust-std is
#   installed (aarch64). armv7's rust-std cannot be downloaded (rustup 404),
#   and tug's release build avoids std (core+alloc from rust-src), but the
#   harness cannot: its unit tests are reported as not run. (Building std
#   from rust-src too was tried: with -Zpanic-abort-tests the harness runs
#   each test by re-executing itself, which fails with ENOEXEC without
#   binfmt_misc; with panic_unwind the build stops on duplicate `core` lang
#   items between std's libc and tug's own libc dev-dependency.)
#
# What qemu-user itself lacks (PR_SET_CHILD_SUBREAPER, pwritev2's
# RWF_NOWAIT, exec of a foreign binary without binfmt_misc...) makes a few
# tests fail for reasons that are not tug's: they are skipped by name below,
# each with the reason, and listed in the summary.
set -uo pipefail
cd "$(dirname "$0")/.."
targets=${*:-aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf}
sysroot=$(rustc --print sysroot)
summary=""
failed=0

qemu_for() {
	case $1 in
	aarch64-*) echo qemu-aarch64-static ;;
	armv7-*) echo qemu-arm-static ;;
	*) echo "test-cross: no qemu-user for $1" >&2; return 1 ;;
	esac
}

# Tests that fail under qemu-user whatever tug does: name and why.
INTEGRATION_SKIPS=(
	# tug's children here are host binaries (the tests' probe) that
	# qemu-user execs natively: they inherit qemu's own host signal mask and
	# dispositions, not the ones tug set for them, so every test of the
	# signal state children get, or of their death by a signal, fails.
	children_get_the_signal_state_tug_was_started_with
	death_by_signal_is_128_plus_n
	every_catchable_signal_reaches_the_child
	without_dash_g_only_the_main_child_gets_forwarded_signals
	the_sigkill_at_the_end_of_the_grace_period_names_its_targets
	descendants_get_the_grace_period_and_no_more
	tug_grace_env_sets_the_grace_period
	sigkill_at_the_stop_timeout_and_at_the_grace_period_names_its_targets
	# Under qemu-user, execve is qemu's own emulation: some failed execs
	# (not executable, wrong format) come back differently.
	a_file_that_exists_but_cannot_run_says_why
	command_not_found_is_127_and_not_executable_is_126
	# tcsetpgrp on the pseudo-terminal goes through qemu's ioctl layer.
	on_a_terminal_the_child_gets_the_foreground
	# qemu-user rejects PR_SET_CHILD_SUBREAPER (EINVAL): orphans go to the
	# host's init, not to tug.
	zombie_storm_of_1000_orphans_is_fully_reaped
)
UNIT_SKIPS=(
	# The test re-executes its own (foreign) binary: ENOEXEC without
	# binfmt_misc.
	control::tests::a_peer_outside_the_allow_list_gets_403
	# qemu-user has no pwritev2 (ENOSYS).
	logs::sink::tests::rwf_nowait_and_send_do_not_block_either
	# /proc/PID/stat of a process under qemu-user names qemu's state.
	process::tree::tests::looks_up_one_process_and_its_state
	# SCM_RIGHTS past the room in the buffer: qemu-user truncates otherwise.
	service::notify::tests::more_fds_than_room_are_all_released
	# PR_SET_CHILD_SUBREAPER again.
	service::pidfile::tests::a_double_forked_daemon_is_adoptable_by_a_subreaper
)

skip_args() {
	local a=()
	for t in "$@"; do a+=(--skip "$t"); done
	echo "${a[@]}"
}

make -s release RELEASE_TARGETS="$targets" || exit 1
make -s probe || exit 1
for t in $targets; do
	qemu=$(qemu_for "$t") || exit 1
	command -v "$qemu" >/dev/null || { echo "test-cross: error: $qemu missing (qemu-user-static)" >&2; exit 1; }
	dir=$PWD/target/cross/$t
	mkdir -p "$dir"
	printf '#!/bin/sh\nexec %s -0 "$0" %s "$@"\n' "$qemu" "$PWD/target/$t/release/tug" >"$dir/tug"
	chmod +x "$dir/tug"
	echo "test-cross: $t: integration tests (init, jobs, cli) under $qemu" >&2
	# shellcheck disable=SC2046 # one word per flag
	if TUG_BIN=$dir/tug cargo test --test init --test jobs --test cli -- --test-threads=2 \
		$(skip_args "${INTEGRATION_SKIPS[@]}"); then
		summary+="$t: integration tests passed (${#INTEGRATION_SKIPS[@]} skipped: qemu-user limits)"$'\n'
	else
		summary+="$t: integration tests FAILED"$'\n'
		failed=1
	fi
	if [ -d "$sysroot/lib/rustlib/$t/lib" ]; then
		echo "test-cross: $t: unit tests under $qemu" >&2
		var=CARGO_TARGET_$(echo "$t" | tr 'a-z-' 'A-Z_')
		# shellcheck disable=SC2046
		if env "${var}_LINKER=rust-lld" "${var}_RUNNER=$qemu" \
			"${var}_RUSTFLAGS=-C linker-flavor=ld.lld -C link-self-contained=yes" \
			cargo test --lib --target "$t" -- --test-threads=2 $(skip_args "${UNIT_SKIPS[@]}"); then
			summary+="$t: unit tests passed (${#UNIT_SKIPS[@]} skipped: qemu-user limits)"$'\n'
		else
			summary+="$t: unit tests FAILED"$'\n'
			failed=1
		fi
	else
		summary+="$t: unit tests NOT RUN: no rust-std for $t (the test harness needs std; rustup cannot download it)"$'\n'
	fi
done
printf '\ntest-cross summary:\n%s' "$summary"
exit $failed
