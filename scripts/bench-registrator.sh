# shellcheck shell=bash
# The `registrator` section of scripts/bench.sh (sourced by it; uses its
# helpers: log, die, md, start_emulator, status_field, ctxt_switches, nap).
#
# tug registrator against the host's Docker engine and the Consul emulator:
# - latency: `docker run -d` of REG_RUNS containers one after another; for
#   each, from the engine's `start` event (seen on the bench's own /events
#   subscription) and from the `docker run` call to the service being in
#   the catalog (the emulator's blocking wait answers the moment its state
#   has it): p50 / p99;
# - RSS of tug with REG_RSS_CONTAINERS containers registered;
# - tug's wake-ups (context switches) over REG_IDLE_SECS while nothing
#   changes.
# Images are FROM scratch of the probe (nothing is pulled); every container
# is labelled and named after this run and removed at the end.

REG_RUNS=${BENCH_REG_RUNS:-50}
REG_RSS_CONTAINERS=${BENCH_REG_RSS_CONTAINERS:-100}
REG_IDLE_SECS=${BENCH_REG_IDLE_SECS:-10}
TARGET_REG_P99_MS=100
PROBE=$ROOT/target/$TARGET/release/examples/probe

reg_cleanup() {
	local ids
	ids=$(docker ps -aq --filter "label=tug-bench-run=$$" 2>/dev/null || true)
	# shellcheck disable=SC2086
	[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
	docker rmi -f "$REG_IMAGE" >/dev/null 2>&1 || true
}

bench_registrator() {
	log "section: registrator"
	command -v docker >/dev/null && docker info >/dev/null 2>&1 || die "the registrator section needs a Docker engine"
	[ -x "$PROBE" ] || (cd "$ROOT" && make probe) || die "make probe failed"
	REG_IMAGE=registry.local:5000/tug-bench-$$/redis:7
	local dir=$WORK/reg-image
	mkdir -p "$dir"
	cp "$PROBE" "$dir/probe"
	printf 'FROM scratch\nLABEL tug-bench-run=%s\nCOPY probe /\nEXPOSE 6379\nENTRYPOINT ["/probe"]\nCMD ["signals"]\n' $$ >"$dir/Dockerfile"
	docker build -q -t "$REG_IMAGE" "$dir" >/dev/null 2>&1 || die "docker build of the bench image failed"
	start_emulator emu-reg
	local api=${EMU_API[emu-reg]} admin=${EMU_ADMIN[emu-reg]}
	TUG_SOCKET=$WORK/reg.sock "$TUG" registrator -ip 127.0.0.1 -node bench "consul://$api" \
		</dev/null >"$WORK/reg.out" 2>"$WORK/reg.err" &
	local tug_pid=$!
	BG_PIDS[$tug_pid]=1
	wait_for_line "$WORK/reg.err" 'following events' "$tug_pid" 10 >/dev/null ||
		die "tug registrator did not start: $(tail -c 600 "$WORK/reg.err")"

	python3 - "$REG_IMAGE" "$admin" "$REG_RUNS" "$REG_RSS_CONTAINERS" "$$" "$WORK/reg.lat" <<'EOF'
import http.client, json, socket, subprocess, sys, threading, time
image, admin, runs, total, run, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
started, lock = {}, threading.Lock()

class Unix(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect("/var/run/docker.sock")

def follow():
    c = Unix("localhost")
    c.request("GET", '/events?filters={"type":["container"],"event":["start"]}'.replace('"', "%22").replace("{", "%7B").replace("}", "%7D").replace("[", "%5B").replace("]", "%5D"))
    r = c.getresponse()
    while True:
        line = r.readline()
        if not line:
            return
        t = time.monotonic()
        ev = json.loads(line)
        with lock:
            started.setdefault(ev["Actor"]["Attributes"].get("name", ""), t)

threading.Thread(target=follow, daemon=True).start()
time.sleep(0.5)  # the subscription is up before the first container

def wait(query):
    h, p = admin.rsplit(":", 1)
    c = http.client.HTTPConnection(h, int(p), timeout=60)
    c.request("GET", "/_emulator/wait?" + query + "&timeout=30s")
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("emulator wait %s: %d" % (query, r.status))
    return time.monotonic()

def start(i):
    name = "tug-bench-%s-reg-%d" % (run, i)
    subprocess.run(["docker", "run", "-d", "--name", name, "--label", "tug-bench-run=" + run, "-p", "6379",
                    "-e", "SERVICE_NAME=benchsvc", image], check=True, stdout=subprocess.DEVNULL)
    return name

from_event, from_run = [], []
for i in range(runs):
    t0 = time.monotonic()
    name = start(i)
    t1 = wait("service=bench:%s:6379&present=1" % name)
    with lock:
        ts = started.get(name, t0)
    from_event.append((t1 - ts) * 1000)
    from_run.append((t1 - t0) * 1000)
for i in range(runs, total):
    start(i)
wait("name=benchsvc&instances=%d" % total)

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

with open(out, "w") as f:
    f.write("%.1f %.1f %.1f %.1f %.1f\n" % (pct(from_event, 50), pct(from_event, 99), max(from_event),
                                           pct(from_run, 50), pct(from_run, 99)))
EOF
	local lat rss c0 c1
	lat=$(cat "$WORK/reg.lat") || die "the registrator latency run failed"
	rss=$(status_field "$tug_pid" VmRSS)
	# Quiet: no container changes from here on (others' containers on a
	# shared engine would show up as events).
	c0=$(ctxt_switches "$tug_pid")
	nap "$REG_IDLE_SECS"
	c1=$(ctxt_switches "$tug_pid")
	local ev50 ev99 evmax run50 run99
	read -r ev50 ev99 evmax run50 run99 <<<"$lat"
	local met=0
	awk -v a="$ev99" -v b="$TARGET_REG_P99_MS" 'BEGIN { exit !(a < b) }' && met=1
	kill -TERM "$tug_pid" 2>/dev/null || true
	wait "$tug_pid" 2>/dev/null || true
	reg_cleanup

	md "## Registrator mode: Docker containers into Consul" ""
	md "How measured: \`tug registrator -ip 127.0.0.1 -node bench consul://…\` (tug \`${INIT_VER[tug]:-$("$TUG" --version)}\`)" \
		"on this machine's Docker engine ($(docker version --format '{{.Server.Version}}, API {{.Server.APIVersion}}')) and" \
		"the Consul emulator (\`tests/consul/emulator.py\`). $REG_RUNS containers (a FROM scratch image of the probe," \
		"one published port, \`SERVICE_NAME=benchsvc\`) are started one after another with \`docker run -d\`;" \
		"for each, the time from the engine's \`start\` event (on the bench's own \`/events\` subscription) and from" \
		"the \`docker run\` call until the service is in the catalog (the emulator's blocking wait returns the moment" \
		"its state has it). Then more containers up to $REG_RSS_CONTAINERS, all registered: tug's \`VmRSS\`." \
		"**Idle wake-ups**: tug's context switches over ${REG_IDLE_SECS} s with nothing changing." ""
	md "| measure | value | goal |" "| --- | ---: | --- |"
	md "| start event → in the catalog, p50 / p99 / max (ms) | $ev50 / $ev99 / $evmax | p99 < $TARGET_REG_P99_MS ms: $(verdict $met) |"
	md "| \`docker run\` → in the catalog, p50 / p99 (ms) | $run50 / $run99 | (the CLI's create + start included) |"
	md "| RSS with $REG_RSS_CONTAINERS containers registered (kB) | $rss | |"
	md "| wake-ups in ${REG_IDLE_SECS} s idle | $((c1 - c0)) | 0: $(verdict $([ $((c1 - c0)) = 0 ] && echo 1 || echo 0)) |"
	md "" "gliderlabs/registrator cannot be had here (no image can be pulled and no Go toolchain is installed to build it), so it is not measured." \
		"Its design floor is the same as tug's: on each \`start\` event it inspects the container" \
		"(\`GET /containers/{id}/json\`) and then registers each port (\`PUT /v1/agent/service/register\`), two" \
		"round trips after the event; tug adds nothing to that path (one loop turn per answer, no polling)." \
		"Unlike it, tug keeps the events in order and never drops one, and resyncs after the stream ends." ""
}
