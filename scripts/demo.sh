#!/usr/bin/env bash
# `make run`: tug supervising a small shell "service", to watch it forward
# signals, reap an orphan and return the child's exit code. No Consul or
# Docker needed.
set -euo pipefail
tug=${1:-target/x86_64-unknown-linux-musl/release/tug}

# The service: traps USR1 and TERM, leaves an orphan behind for tug to reap,
# and exits 3 on SIGTERM. `wait` lets the traps run while sleep runs.
service='
  trap "echo \"  service: got SIGUSR1\"" USR1
  trap "echo \"  service: got SIGTERM, cleaning up, exit 3\"; exit 3" TERM
  sh -c "sleep 0.2 &" # its child is orphaned: tug adopts and reaps it
  echo "  service: ready (pid $$)"
  while :; do sleep 1 & wait $!; done
'

echo "== tug -w -- sh -c SERVICE   (-w: log every zombie tug reaps)"
fifo=$(mktemp -u); mkfifo "$fifo"
trap 'rm -f "$fifo"' EXIT
"$tug" -w -- sh -c "$service" >"$fifo" 2>&1 &
tug_pid=$!
exec 3<"$fifo"
read -r line <&3; echo "$line"            # wait for "ready" instead of sleeping
while read -r -t 1 line <&3; do echo "$line"; done   # the reaped orphan, if already gone
echo "== kill -USR1 $tug_pid   (tug forwards it)"
kill -USR1 "$tug_pid"
read -r line <&3; echo "$line"
echo "== kill -TERM $tug_pid   (tug forwards it, then waits for every descendant)"
kill -TERM "$tug_pid"
while read -r line <&3; do echo "$line"; done
set +e; wait "$tug_pid"; code=$?; set -e
echo "== tug exited with $code (the service's own exit code)"
echo
echo "== tug -- /nonexistent   (127, like a shell)"
set +e; "$tug" -- /nonexistent; echo "== exit code $?"; set -e

echo
echo "== tug check scripts/demo.json5   (the job graph)"
"$tug" check "$(dirname "$0")/demo.json5"
echo
echo "== tug --config scripts/demo.json5 -- sleep 6   (supervisor; the main job is sleep 6)"
sock=$(mktemp -u /tmp/tug-demo.XXXXXX.sock)
set +e; TUG_BIN=$(realpath "$tug") TUG_SOCKET=$sock "$tug" --config "$(dirname "$0")/demo.json5" -- sleep 6 2>&1 | sed 's/^time="[^"]*" //'; code=${PIPESTATUS[0]}; set -e
echo "== tug exited with $code (sleep's exit code)"
