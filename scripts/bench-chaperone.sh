# shellcheck shell=bash
# The `chaperone` section of scripts/bench.sh (sourced by it; uses its
# helpers: log, die, md).
#
# tug's Chaperone front-end (`make chaperone`, tug installed as
# `chaperone`) on a chaperone-docker-like chaperone.d: an INIT oneshot,
# CHAP_SIMPLE simple services, a cron job, an inetd service and a console
# command. Measured: from spawning tug to every service started (each
# "job X is ready" line on the console.logging stdout; the cron job is
# scheduled at load), p50 / p99 over CHAP_RUNS runs; then tug's RSS with
# that config running. Chaperone is the anchor by its own figures: it
# cannot run on current Python (issue #24, `asyncio.async`), so its
# start-up floor is computed from the sleeps it makes: startup_pause
# (0.5 s) for the simple services, started together, and idle_delay
# (1 s) before the IDLE group (the console), Python's start excluded.

CHAP_RUNS=${BENCH_CHAP_RUNS:-50}
CHAP_SIMPLE=${BENCH_CHAP_SIMPLE:-4}
CHAP_TUG=$ROOT/target/chaperone/$TARGET/release/tug

bench_chaperone() {
	log "section: chaperone"
	(cd "$ROOT" && make chaperone >/dev/null) || die "make chaperone failed"
	local dir=$WORK/chap/chaperone.d i
	mkdir -p "$dir"
	{
		echo "settings: { env_set: { 'APPS_DIR': '\$(_CHAP_CONFIG_DIR:-/)' } }"
		echo "init.service: { type: oneshot, command: '/bin/true', service_groups: 'INIT' }"
		for i in $(seq 1 "$CHAP_SIMPLE"); do
			echo "web$i.service: { command: 'sleep 100000', restart: true }"
		done
		echo "tick.service: { type: cron, interval: '*/5 * * * *', command: '/bin/true' }"
		echo "echo.service: { type: inetd, port: 0, command: '/bin/cat' }"
		echo "console.logging: { selector: '*.*', stdout: true }"
	} >"$dir/010-start.conf"
	# inetd on port 0 would be refused: take a free port.
	local port
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	sed -i "s/port: 0/port: $port/" "$dir/010-start.conf"
	ln -sf "$CHAP_TUG" "$WORK/chap/chaperone"
	local out
	out=$(python3 - "$WORK/chap/chaperone" "$dir" "$CHAP_RUNS" "$((CHAP_SIMPLE + 2))" <<'PY'
import os, signal, subprocess, sys, time
exe, conf, runs, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
env["TUG_SOCKET"] = os.path.join(os.path.dirname(conf), "tug.sock")
times, rss = [], 0
for run in range(runs + 1):
    t0 = time.monotonic()
    p = subprocess.Popen([exe, "--config", conf, "sleep", "100000"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)
    ready = 0
    for line in p.stdout:
        if b" is ready" in line:
            ready += 1
            if ready == want:
                break
    dt = time.monotonic() - t0
    if ready != want:
        sys.exit("tug exited before every service was started")
    if run == runs:  # the last run: RSS with the config running
        for l in open(f"/proc/{p.pid}/status"):
            if l.startswith("VmRSS:"):
                rss = int(l.split()[1])
    else:
        times.append(dt)
    p.send_signal(signal.SIGTERM)
    p.stdout.read()
    p.wait()
times.sort()
p50 = times[len(times) // 2] * 1000
p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
print(f"{p50:.1f} {p99:.1f} {rss}")
PY
	) || die "the chaperone start-up run failed"
	local p50 p99 rss
	read -r p50 p99 rss <<<"$out"
	local size
	size=$(stat -c %s "$CHAP_TUG")
	md "## Chaperone front-end: a chaperone.d to every service started" "" \
		"A chaperone-docker-like \`chaperone.d\` (an INIT oneshot, $CHAP_SIMPLE simple" \
		"services, a cron job, an inetd service, \`console.logging\` to stdout) and a" \
		"console command, run by tug installed as \`chaperone\` (\`make chaperone\`," \
		"$size bytes). Start-up: from spawning tug to the last service started" \
		"(its \"job X is ready\" line), over $CHAP_RUNS runs. Chaperone itself cannot" \
		"start on Python 3.7 or later (issue #24), so its figure is the floor its own" \
		"sleeps set: startup_pause (0.5 s) for the simple services, started together," \
		"then idle_delay (1 s) before the IDLE group (the console), Python's own" \
		"start-up not counted." "" \
		"| | tug | Chaperone 0.3.9 (its sleeps) |" \
		"|---|---|---|" \
		"| start-up, p50 | ${p50} ms | >= 1500 ms |" \
		"| start-up, p99 | ${p99} ms | >= 1500 ms |" \
		"| RSS, that config running | ${rss} KB | (a Python 3 process: not measured) |" ""
}
