#!/usr/bin/env python3
"""The client side of the discovery and telemetry benchmarks (scripts/bench.sh).

Python 3 standard library only. Every subcommand prints `key=value` lines
on stdout for bench.sh to read; errors go to stderr with exit code 1.

  changes --backend consul|etcd --target HOST:PORT --stamps FILE --pid PID
          [--mode quiet|churn] [--count 200] [--gap-ms 300] [--timeout 5]
          [--first-port N] [--emulator ADMIN]
      Makes COUNT catalog changes and times each from just before its
      request is sent to the exec of the first onChange run that saw it.
      The onChange job (scripts/stamp.c with TUG_WATCH_BACKEND) appends
      CLOCK_MONOTONIC ns and the instances it was started with to FILE.
      Change i moves the one instance to port FIRST_PORT + i. consul:
      TARGET is the emulator's admin listener and each change re-registers
      another node's instance; etcd: TARGET is the client URL's host:port
      and each change is a put under /services/backend/.
      quiet: change i+1 is made only after the onChange job for i has
      exec'd and been reaped (tug has no child left), then GAP ms later,
      so changes never coalesce. churn: the changes follow a fixed
      schedule, GAP ms apart whatever tug does (a rolling deploy); they may
      coalesce, and a change counts as seen by the first run whose port is
      at least its own. Prints the latency percentiles in ms, the runs,
      the runs that saw an older set than the run before (stale_runs), and
      with --emulator the Consul API requests made meanwhile (queries) and
      their rate (queries_per_s).
  wait-passing --target ADMIN --names a,b,... [--timeout 30]
      Blocks until every named service has one passing instance in the
      emulator's catalog.
  emulator-requests --target ADMIN
      The number of Consul API requests the emulator has served so far.
  scrape --url http://HOST:PORT/metrics [--count 200]
      Times GET requests, each on a new connection and then all on one
      keep-alive connection; prints percentiles in ms, the body size and
      the number of series.
  metric --url http://HOST:PORT/metrics --name NAME
      The value of one series (the first whose name and labels start so).
  control --socket PATH [--count 200]
      Times GET /v3/ping and GET /v3/status on the control socket, each on
      a new connection (what one `tug ctl` call does, without the process
      start-up); prints percentiles in ms.

  echo-load --target HOST:PORT [--clients 50] [--secs 10] [--max-conns 20000]
            [--raw FILE]
      CLIENTS connections at once to an echo server (inetd style: one
      process per connection), each opened anew as soon as the previous
      one has its answer: connect, send one line, wait for the first byte
      back, close. Runs until SECS pass or MAX-CONNS connections are made.
      Prints the connections that got their answer (conns), their rate
      (conns_per_s), the connect-to-first-byte percentiles in ms, refused
      connections and other errors (a connection with no answer within 10 s
      is one), and the client's own CPU time (client_cpu_s: user + system)
      so a reader can tell whether the client, not the server, set the
      rate. With --raw, every connect-to-first-byte time (ns) is also
      appended to FILE, one per line, for percentiles over several runs.

Clocks: the stamps and the change times are both CLOCK_MONOTONIC
(time.monotonic_ns), so wall-clock steps cannot skew a latency.
"""

import argparse
import base64
import http.client
import json
import math
import socket
import sys
import time
import urllib.parse


def die(msg):
    sys.stderr.write("bench_client: error: %s\n" % msg)
    sys.exit(1)


def split_hostport(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        die("%r is not HOST:PORT" % text)
    return host.strip("[]"), int(port)


def percentile(sorted_values, p):
    """Nearest rank: the smallest value with at least p% of them at or below it."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def print_stats(prefix, values_ns):
    v = sorted(values_ns)
    out = {"n": len(v)}
    if v:
        out.update({
            "min_ms": v[0] / 1e6, "p50_ms": percentile(v, 50) / 1e6, "p90_ms": percentile(v, 90) / 1e6,
            "p99_ms": percentile(v, 99) / 1e6, "max_ms": v[-1] / 1e6, "mean_ms": sum(v) / len(v) / 1e6,
        })
    for k, x in out.items():
        print("%s%s=%s" % (prefix, k, ("%.3f" % x) if isinstance(x, float) else x))


class Keepalive:
    """One HTTP/1.1 connection, reopened only when the server closed it."""

    def __init__(self, hostport, timeout=10):
        self.host, self.port = split_hostport(hostport)
        self.timeout = timeout
        self.conn = None

    def call(self, method, path, body=None, headers=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            resp = self.conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = None
            die("%s %s to %s:%d: %s" % (method, path, self.host, self.port, e))
        if resp.will_close:
            self.conn.close()
            self.conn = None
        if resp.status // 100 != 2:
            die("%s %s: HTTP %d: %s" % (method, path, resp.status, data[:300].decode("utf-8", "replace")))
        return data


# ---------------------------------------------------------------- changes

def consul_change(api, port):
    body = json.dumps({"ID": "backend-1", "Name": "backend", "Port": port,
                       "Check": {"CheckID": "backend-1-ttl", "TTL": "1h", "Status": "passing"}})
    return lambda: api.call("POST", "/_emulator/register?node=bench-node2&address=10.0.0.7", body.encode())


def etcd_change(api, port):
    key = b"/services/backend/b1"
    value = json.dumps({"id": "b1", "name": "backend", "address": "10.0.0.7", "port": port,
                        "tags": [], "meta": {}}).encode()
    body = json.dumps({"key": base64.b64encode(key).decode(), "value": base64.b64encode(value).decode()})
    return lambda: api.call("POST", "/v3/kv/put", body.encode(), {"Content-Type": "application/json"})


def stamps_in(path):
    """The complete lines of FILE as (ns, port seen or None)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    # A line is complete once its newline is there (the stamp writes it whole).
    out = []
    for line in data.split(b"\n")[:-1]:
        ns, _, seen = line.partition(b" ")
        port = None
        if seen:
            # TUG_WATCH_BACKEND: ip:port,... (one instance here).
            port = int(seen.split(b",")[0].rpartition(b":")[2])
        out.append((int(ns), port))
    return out


def has_children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return bool(f.read().strip())
    except OSError:
        die("tug (pid %d) is gone" % pid)


def wait_for(cond, timeout, poll=0.0005):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def emulator_seq(admin):
    if admin is None:
        return None
    return json.loads(admin.call("GET", "/_emulator/state?since=%d" % (1 << 62)))["next_seq"]


def cmd_changes(a):
    api = Keepalive(a.target)
    admin = Keepalive(a.emulator) if a.emulator else None
    make = consul_change if a.backend == "consul" else etcd_change
    # The watch's first result (nothing there yet) runs onChange once.
    if not wait_for(lambda: len(stamps_in(a.stamps)) >= 1, 15):
        die("the onChange job never ran for the watch's first result (no line in %s)" % a.stamps)
    if not wait_for(lambda: not has_children(a.pid), a.timeout):
        die("the first onChange job never exited")
    time.sleep(a.gap_ms / 1000.0)
    before = len(stamps_in(a.stamps))
    seq0 = emulator_seq(admin)
    ports = [a.first_port + i for i in range(a.count)]
    made, missed = [], 0
    t_start = time.monotonic_ns()
    for i, port in enumerate(ports):
        if a.mode == "churn":
            # The schedule is fixed: late is late, never skipped or slid.
            left = t_start + i * a.gap_ms * 1e6 - time.monotonic_ns()
            if left > 0:
                time.sleep(left / 1e9)
        seen = len(stamps_in(a.stamps))
        change = make(api, port)
        made.append(time.monotonic_ns())
        change()
        if a.mode == "churn":
            continue
        if not wait_for(lambda: any(p is not None and p >= port for _, p in stamps_in(a.stamps)[seen:]),
                        a.timeout):
            # A late run would be taken for the next change's: let it land
            # first (it is then counted in extra_runs).
            missed += 1
            time.sleep(1)
            continue
        if not wait_for(lambda: not has_children(a.pid), a.timeout):
            die("change %d: the onChange job did not exit within %s s" % (i, a.timeout))
        time.sleep(a.gap_ms / 1000.0)
    if a.mode == "churn":
        if not wait_for(lambda: any(p == ports[-1] for _, p in stamps_in(a.stamps)), a.timeout):
            die("the last change never reached an onChange run within %s s" % a.timeout)
        wait_for(lambda: not has_children(a.pid), a.timeout)
    t_end = time.monotonic_ns()
    runs = stamps_in(a.stamps)[before:]
    latencies = []
    for port, t0 in zip(ports, made):
        first = next((ns for ns, p in runs if p is not None and p >= port), None)
        if first is not None:
            latencies.append(first - t0)
    stale = sum(1 for x, y in zip(runs, runs[1:]) if (y[1] or 0) < (x[1] or 0))
    if missed > a.count // 10:
        die("%d of %d changes never ran onChange within %s s" % (missed, a.count, a.timeout))
    print_stats("", latencies)
    print("missed=%d" % (a.count - len(latencies)))
    print("timeouts=%d" % missed)
    print("runs=%d" % len(runs))
    print("extra_runs=%d" % max(0, len(runs) - a.count) if a.mode == "quiet" else "extra_runs=0")
    print("stale_runs=%d" % stale)
    print("window_s=%.3f" % ((t_end - t_start) / 1e9))
    if admin is not None:
        queries = emulator_seq(admin) - seq0
        print("queries=%d" % queries)
        print("queries_per_s=%.2f" % (queries / ((t_end - t_start) / 1e9)))


# ---------------------------------------------------------------- emulator

def cmd_wait_passing(a):
    host, port = split_hostport(a.target)
    deadline = time.monotonic() + a.timeout
    names = a.names.split(",")
    for name in names:
        left = max(1, int(deadline - time.monotonic()))
        q = urllib.parse.urlencode({"name": name, "passing": "1", "instances": "1", "timeout": "%ds" % left})
        c = http.client.HTTPConnection(host, port, timeout=left + 5)
        c.request("GET", "/_emulator/wait?" + q)
        resp = c.getresponse()
        data = resp.read()
        c.close()
        if resp.status != 200:
            die("service %s has no passing instance after %d s: HTTP %d %s" % (
                name, a.timeout, resp.status, data[:300].decode("utf-8", "replace")))
    print("passing=%d" % len(names))


def cmd_emulator_requests(a):
    state = json.loads(Keepalive(a.target).call("GET", "/_emulator/state?since=%d" % (1 << 62)))
    print("requests=%d" % (state["next_seq"] - 1))
    print("services=%d" % len(state["services"]))


# ---------------------------------------------------------------- telemetry

def timed_gets(connect, path, count, where):
    """`count` GETs of `path`, each on a fresh connection from `connect()`:
    their times in ns and the last body; anything but 200 is fatal."""
    times, body = [], b""
    for _ in range(count):
        t0 = time.monotonic_ns()
        c = connect()
        c.request("GET", path, headers={"Connection": "close"})
        r = c.getresponse()
        body = r.read()
        times.append(time.monotonic_ns() - t0)
        c.close()
        if r.status != 200:
            die("GET %s: HTTP %d: %s" % (where, r.status, body[:300]))
    return times, body


def cmd_scrape(a):
    u = urllib.parse.urlsplit(a.url)
    path = u.path or "/"
    fresh, body = timed_gets(lambda: http.client.HTTPConnection(u.hostname, u.port, timeout=10),
                             path, a.count, a.url)
    kept = []
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    reconnects = 0
    for _ in range(a.count):
        t0 = time.monotonic_ns()
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        kept.append(time.monotonic_ns() - t0)
        if r.will_close:
            reconnects += 1
            c.close()
    c.close()
    print_stats("fresh_", fresh)
    print_stats("keepalive_", kept)
    print("keepalive_closed_by_server=%d" % reconnects)
    print("bytes=%d" % len(body))
    print("series=%d" % sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#")))


def cmd_metric(a):
    u = urllib.parse.urlsplit(a.url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("GET", u.path, headers={"Connection": "close"})
    r = c.getresponse()
    body = r.read().decode("utf-8", "replace")
    for line in body.splitlines():
        if line.startswith(a.name) and not line.startswith("#"):
            print("value=%s" % line.rsplit(" ", 1)[1])
            return
    die("no series %s in %s" % (a.name, a.url))


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def cmd_control(a):
    for name, path in (("ping", "/v3/ping"), ("status", "/v3/status")):
        times, body = timed_gets(lambda: UnixHTTPConnection(a.socket), path, a.count,
                                 "%s on %s" % (path, a.socket))
        print_stats(name + "_", times)
        print("%s_bytes=%d" % (name, len(body)))


def cmd_echo_load(a):
    import resource
    import selectors
    host, port = split_hostport(a.target)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sel = selectors.DefaultSelector()
    line = b"ping\n"
    times, refused, errors, started = [], 0, 0, 0
    t0 = time.monotonic()
    deadline = t0 + a.secs

    def open_one():
        nonlocal started, refused, errors
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setblocking(False)
        started += 1
        t = time.monotonic_ns()
        err = s.connect_ex((host, port))
        if err not in (0, 115):  # EINPROGRESS
            s.close()
            if err == 111:
                refused += 1
            else:
                errors += 1
            return
        sel.register(s, selectors.EVENT_WRITE, [t, "connect"])

    for _ in range(a.clients):
        open_one()
    while sel.get_map():
        now = time.monotonic()
        for key, ev in sel.select(timeout=1.0):
            s, st = key.fileobj, key.data
            if st[1] == "connect":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    sel.unregister(s)
                    s.close()
                    if err == 111:
                        refused += 1
                    else:
                        errors += 1
                else:
                    s.send(line)
                    st[1] = "read"
                    sel.modify(s, selectors.EVENT_READ, st)
                    continue
            else:
                try:
                    got = s.recv(64)
                except OSError:
                    got = b""
                sel.unregister(s)
                s.close()
                if got:
                    times.append(time.monotonic_ns() - st[0])
                else:
                    errors += 1
            if time.monotonic() < deadline and started < a.max_conns:
                open_one()
        # A connection with no answer for 10 s counts as an error.
        limit = time.monotonic_ns() - 10 * 10**9
        for key in list(sel.get_map().values()):
            if key.data[0] < limit:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                errors += 1
        if now > deadline + 15:
            break
    elapsed = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    if a.raw:
        with open(a.raw, "a") as f:
            f.write("".join("%d\n" % t for t in times))
    print("conns=%d" % len(times))
    print("secs=%.3f" % elapsed)
    print("conns_per_s=%.1f" % (len(times) / elapsed))
    print("refused=%d" % refused)
    print("errors=%d" % errors)
    print("client_cpu_s=%.3f" % (ru.ru_utime + ru.ru_stime))
    print_stats("ttfb_", times)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("changes")
    c.add_argument("--backend", choices=("consul", "etcd"), required=True)
    c.add_argument("--target", required=True)
    c.add_argument("--stamps", required=True)
    c.add_argument("--pid", type=int, required=True)
    c.add_argument("--mode", choices=("quiet", "churn"), default="quiet")
    c.add_argument("--count", type=int, default=200)
    c.add_argument("--gap-ms", type=float, default=300)
    c.add_argument("--timeout", type=float, default=5)
    c.add_argument("--first-port", type=int, default=10000)
    c.add_argument("--emulator", help="the Consul emulator's admin HOST:PORT: count the API requests")
    w = sub.add_parser("wait-passing")
    w.add_argument("--target", required=True)
    w.add_argument("--names", required=True)
    w.add_argument("--timeout", type=int, default=30)
    e = sub.add_parser("emulator-requests")
    e.add_argument("--target", required=True)
    s = sub.add_parser("scrape")
    s.add_argument("--url", required=True)
    s.add_argument("--count", type=int, default=200)
    m = sub.add_parser("metric")
    m.add_argument("--url", required=True)
    m.add_argument("--name", required=True)
    u = sub.add_parser("control")
    u.add_argument("--socket", required=True)
    u.add_argument("--count", type=int, default=200)
    x = sub.add_parser("echo-load")
    x.add_argument("--target", required=True)
    x.add_argument("--clients", type=int, default=50)
    x.add_argument("--secs", type=float, default=10)
    x.add_argument("--max-conns", type=int, default=20000)
    x.add_argument("--raw", help="append every connect-to-first-byte time (ns) to this file")
    a = p.parse_args()
    {"changes": cmd_changes, "wait-passing": cmd_wait_passing, "emulator-requests": cmd_emulator_requests,
     "scrape": cmd_scrape, "metric": cmd_metric, "control": cmd_control,
     "echo-load": cmd_echo_load}[a.cmd](a)


if __name__ == "__main__":
    main()
