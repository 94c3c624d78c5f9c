# shellcheck shell=bash
# The `logs` section of scripts/bench.sh (sourced by it; issue 11): the
# built-in syslog against Debian's rsyslogd, busybox syslogd and syslog-ng.
# BENCH_LOGS_SENDERS (4) senders at once each send BENCH_LOGS_PER (250000)
# messages of ~100 bytes to a unix datagram socket (blocking sends, as
# syslog(3)); the daemon writes them to one file. Measured per daemon: the
# time from the first send to the last message in the file, messages lost
# (sent minus lines in the file), peak RSS (VmHWM) and CPU (utime + stime)
# per message.

LOGS_SENDERS=${BENCH_LOGS_SENDERS:-4}
LOGS_PER=${BENCH_LOGS_PER:-250000}
TARGET_LOGS_RATE_VS_RSYSLOGD=1.00 # messages/s at least rsyslogd's
TARGET_LOGS_RSS_VS_RSYSLOGD=0.10  # at most a tenth of its peak RSS

declare -A LG=()
LOGS_NAMES=()

logs_wait_socket() { # logs_wait_socket PATH PID: until PATH is a socket (10 s), while PID lives
	local i
	for ((i = 0; i < 1000; i++)); do
		[ -S "$1" ] && return 0
		alive "$2" || return 1
		sleep 0.01
	done
	return 1
}

logs_count() { # logs_count FILE -> the flood's lines in FILE
	local n
	n=$(grep -c ' sender [0-9]* message ' "$1" 2>/dev/null) || true
	echo "${n:-0}"
}

# measure_syslogd NAME PID SOCKET FILE: one flood into the daemon PID
# listening on SOCKET and writing FILE; fills LG[NAME,*].
measure_syslogd() {
	local n=$1 pid=$2 sock=$3 file=$4 total=$((LOGS_SENDERS * LOGS_PER))
	local c0 c1 t0 t1 s p got last=-1 still=0 failed=0 pids=()
	logs_wait_socket "$sock" "$pid" || die "$n: no socket at $sock"
	log "logs: $n: $total messages from $LOGS_SENDERS senders"
	c0=$(sum_cpu_ticks "$pid")
	t0=$(date +%s%N)
	for ((s = 0; s < LOGS_SENDERS; s++)); do
		"$WORK/logflood" "$sock" "$s" "$LOGS_PER" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || failed=1; done
	((failed == 0)) || log "logs: $n: a sender failed"
	# What the daemon still holds goes to the file: wait until every line
	# is there, or nothing came for 2 s.
	t1=$(date +%s%N)
	while :; do
		got=$(logs_count "$file")
		((got < total)) || { t1=$(date +%s%N); break; }
		if ((got != last)); then
			last=$got still=0 t1=$(date +%s%N)
		elif ((++still >= 20)); then
			break
		fi
		sleep 0.1
	done
	c1=$(sum_cpu_ticks "$pid")
	LG[$n,got]=$got
	LG[$n,lost]=$((total - got))
	LG[$n,secs]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
	LG[$n,rate]=$(awk -v g="$got" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", g / ((b - a) / 1e9) }')
	LG[$n,rss]=$(status_field "$pid" VmHWM)
	LG[$n,cpu]=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v g="$got" \
		'BEGIN { printf "%.2f", g ? t / hz * 1e6 / g : 0 }')
	LOGS_NAMES+=("$n")
	log "logs: $n: ${LG[$n,rate]} msg/s, ${LG[$n,lost]} lost, ${LG[$n,rss]} KiB, ${LG[$n,cpu]} us/msg"
	rm -f "$file"
}

logs_stop() { # logs_stop PID
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	unset "BG_PIDS[$1]"
}

logs_tug() {
	local d=$WORK/logs-tug
	mkdir -p "$d"
	cat >"$d/config.json5" <<-EOF
		{ syslog: { socket: "$d/sock" },
		  logs: [ { name: "all", selector: "*.*;![tug].*", file: "$d/out.log" } ] }
	EOF
	"$TUG" --config "$d/config.json5" --socket "$d/ctl.sock" >"$d/stderr" 2>&1 &
	BG_PIDS[$!]=1
	local pid=$!
	measure_syslogd tug "$pid" "$d/sock" "$d/out.log"
	logs_stop "$pid"
}

logs_rsyslogd() {
	local d=$WORK/logs-rsyslogd
	mkdir -p "$d"
	cat >"$d/rsyslog.conf" <<-EOF
		global(workDirectory="$d")
		module(load="imuxsock" SysSock.Use="off")
		input(type="imuxsock" Socket="$d/sock" RateLimit.Interval="0")
		action(type="omfile" file="$d/out.log")
	EOF
	/usr/sbin/rsyslogd -n -f "$d/rsyslog.conf" -i "$d/pid" >"$d/stderr" 2>&1 &
	BG_PIDS[$!]=1
	local pid=$!
	measure_syslogd rsyslogd "$pid" "$d/sock" "$d/out.log"
	logs_stop "$pid"
}

# busybox syslogd binds /dev/log only: it runs in a mount namespace with a
# /dev of its own, and the senders reach that socket through
# /proc/PID/root.
logs_busybox() {
	local d=$WORK/logs-busybox bb
	bb=$(command -v busybox) || die "no busybox (busybox-static)"
	mkdir -p "$d"
	unshare -m sh -c "mount -t tmpfs none /dev && exec $bb syslogd -n -O $d/out.log" >"$d/stderr" 2>&1 &
	BG_PIDS[$!]=1
	local pid=$!
	measure_syslogd "busybox syslogd" "$pid" "/proc/$pid/root/dev/log" "$d/out.log"
	logs_stop "$pid"
}

# syslog-ng-core conflicts with rsyslog in Debian: its .deb is unpacked in
# the work dir and run from there, with the libraries it depends on that
# are not installed (libivykis0, libpcre3 on a fresh machine) unpacked
# beside it.
logs_syslog_ng() {
	local d=$WORK/logs-syslog-ng r p libs=()
	mkdir -p "$d"
	r=$d/root
	(cd "$d" && apt-get download syslog-ng-core >/dev/null 2>&1) || {
		log "logs: cannot download syslog-ng-core: syslog-ng left out"
		return 0
	}
	dpkg-deb -x "$d"/syslog-ng-core_*.deb "$r" || die "cannot unpack syslog-ng-core"
	for p in $(dpkg-deb -f "$d"/syslog-ng-core_*.deb Depends | tr ',' '\n' | sed -n 's/^ *\(lib[^ ]*\).*/\1/p'); do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || libs+=("$p")
	done
	if ((${#libs[@]})); then
		(cd "$d" && apt-get download "${libs[@]}" >/dev/null 2>&1) || die "cannot download ${libs[*]} for syslog-ng"
		for p in "${libs[@]}"; do
			dpkg-deb -x "$d/${p}"_*.deb "$r" || die "cannot unpack $p"
		done
	fi
	LG[syslog-ng,ver]=$(dpkg-deb -f "$d"/syslog-ng-core_*.deb Version)
	cat >"$d/syslog-ng.conf" <<-EOF
		@version: 3.38
		source s { unix-dgram("$d/sock"); };
		destination f { file("$d/out.log"); };
		log { source(s); destination(f); flags(flow-control); };
	EOF
	LD_LIBRARY_PATH=$r/usr/lib/syslog-ng:$r/usr/lib/x86_64-linux-gnu:$r/lib/x86_64-linux-gnu \
		"$r/usr/sbin/syslog-ng" -F -f "$d/syslog-ng.conf" --module-path="$r/usr/lib/syslog-ng/3.38" \
		-R "$d/persist" -p "$d/pid" -c "$d/ctl" >"$d/stderr" 2>&1 &
	BG_PIDS[$!]=1
	local pid=$!
	measure_syslogd syslog-ng "$pid" "$d/sock" "$d/out.log"
	logs_stop "$pid"
}

bench_logs() {
	log "section: logs"
	gcc -O2 -o "$WORK/logflood" "$ROOT/tests/peers/logflood.c" || die "cannot build tests/peers/logflood.c"
	[ -x /usr/sbin/rsyslogd ] || die "no /usr/sbin/rsyslogd (Debian's rsyslog)"
	logs_tug
	logs_rsyslogd
	logs_busybox
	logs_syslog_ng

	local total=$((LOGS_SENDERS * LOGS_PER)) n
	md "## Logs: the built-in syslog vs rsyslogd, busybox syslogd, syslog-ng" ""
	md "How measured: $LOGS_SENDERS senders at once (tests/peers/logflood.c) each send $LOGS_PER messages of" \
		"~100 bytes (\`<14>flood[PID]: sender S message K …\`) with blocking \`send\` on a unix datagram" \
		"socket, as syslog(3) does; the daemon writes each to one file. **rate**: messages in the file over" \
		"the time from the first send to the last line in the file; **lost**: $total minus the lines in the" \
		"file; **peak RSS**: the daemon's VmHWM; **CPU**: its utime + stime per message. One run each, in" \
		"turn, the others stopped. tug \`${INIT_VER[tug]:-}\`: \`syslog: { socket }\`, one \`file\` output" \
		"(\`classic\` lines). rsyslogd $(dpkg-query -W -f='${Version}' rsyslog): imuxsock on the socket" \
		"(\`RateLimit.Interval=\"0\"\`) → omfile, defaults otherwise. busybox syslogd" \
		"$(busybox 2>&1 | awk 'NR == 1 { print $2 }'): \`-n -O FILE\` (it binds /dev/log only: run in a mount" \
		"namespace with its own /dev, reached through /proc/PID/root/dev/log). syslog-ng ${LG[syslog-ng,ver]:-(not run)}:" \
		"Debian's syslog-ng-core unpacked from its .deb (it conflicts with rsyslog), \`unix-dgram\` → \`file\`" \
		"with \`flags(flow-control)\` (without it, a full destination queue drops)." ""
	md "| daemon | messages/s | lost | peak RSS (KiB) | CPU per message (µs) | seconds |" \
		"| --- | ---: | ---: | ---: | ---: | ---: |"
	for n in "${LOGS_NAMES[@]}"; do
		md "| $n | ${LG[$n,rate]} | ${LG[$n,lost]} | ${LG[$n,rss]} | ${LG[$n,cpu]} | ${LG[$n,secs]} |"
	done
	md ""
	local rate_ratio rss_ratio ok_rate ok_rss
	rate_ratio=$(awk -v a="${LG[tug,rate]}" -v b="${LG[rsyslogd,rate]}" 'BEGIN { printf "%.2f", a / b }')
	rss_ratio=$(awk -v a="${LG[tug,rss]}" -v b="${LG[rsyslogd,rss]}" 'BEGIN { printf "%.3f", a / b }')
	ok_rate=$(awk -v r="$rate_ratio" -v t="$TARGET_LOGS_RATE_VS_RSYSLOGD" -v l="${LG[tug,lost]}" 'BEGIN { print (r >= t && l == 0) ? 1 : 0 }')
	ok_rss=$(awk -v r="$rss_ratio" -v t="$TARGET_LOGS_RSS_VS_RSYSLOGD" 'BEGIN { print (r <= t) ? 1 : 0 }')
	md "### Targets for the logs" "" \
		"| target | measured | verdict |" "| --- | --- | --- |" \
		"| rate ≥ rsyslogd's with 0 lost | ${rate_ratio}× rsyslogd's, ${LG[tug,lost]} lost | $(verdict "$ok_rate") |" \
		"| peak RSS ≤ 1/10 of rsyslogd's | ${LG[tug,rss]} KiB = ${rss_ratio} of ${LG[rsyslogd,rss]} KiB | $(verdict "$ok_rss") |" ""
}
