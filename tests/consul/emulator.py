#!/usr/bin/env python3
"""A Consul agent HTTP API emulator for tests (Python 3 standard library only).

It plays one Consul agent (a server, like `consul agent -dev`) and the
catalog behind it, faithful to Consul's documented semantics for the agent,
health, catalog, KV and status endpoints; see Consul's HTTP API documentation
section A. Nothing in it knows about any particular client.

Run:  python3 tests/consul/emulator.py --port 0 [--bind 127.0.0.1]
It prints `admin HOST:PORT` (the admin listener, never faulted) and then the
readiness line `listening HOST:PORT` on stdout, logs one line per request on
stderr, and exits when stdin reaches EOF (so a killed test never leaves it
behind; use --ignore-stdin by hand) or on SIGTERM.

Decisions (where the emulator has to pick one of Consul's behaviours):
- One global raft-like index. It moves only when a write changes something,
  as Consul's table indexes do: re-registering an identical service or a TTL
  refresh with the same status and output does not move it; every KV PUT
  does. A check update that only changes Output is shown by /v1/agent/checks
  at once but reaches the catalog (health, catalog, blocking queries) only
  after --check-update-interval (Consul's default 5m, staggered), as Consul
  defers output-only syncs; 0 syncs at once.
- Blocking queries follow Consul's blockingQuery: only with index > 0; the
  request is held while the result's index is <= the given one (so an index
  from the future blocks until `wait`); wait defaults to 5m, is capped at
  10m, and gets a random jitter of up to wait/16. health/catalog of a
  service use the per-service index; a service with no instances uses the
  last "extinction" index, else the catalog index. KV uses the key's
  ModifyIndex, or for a prefix the highest ModifyIndex/tombstone under it,
  else the KV table index. Tombstones are kept until POST /_emulator/kv/reap
  (Consul reaps them after tombstone_ttl), which can make a prefix index go
  backwards, as in Consul.
- Re-registering a service keeps the status and output of checks that
  already exist (Consul restores them from its snapshot) and restarts their
  TTL timers. Check IDs default to service:<ID> (service:<ID>:N with several).
- TTL checks go critical when the TTL lapses ("TTL expired", plus the last
  output as Consul adds it). DeregisterCriticalServiceAfter removes the
  service once a check has been critical that long, but never sooner than
  --deregister-min (Consul's check_deregister_interval_min, 1m); the emulator
  reaps at the deadline instead of Consul's 30s reaper ticks.
- HTTP and TCP checks are run every Interval (2xx passing, 429 warning).
- Every error is text/plain; unknown IDs answer 404 as agents >= 1.11 do.
  Bodies over 2 KiB are sent chunked (4 KiB chunks), as Go's net/http does
  for large writes; a request without Host gets Go's 400.
- Admin API under /_emulator/ (not Consul; never faulted, also served on
  the separate admin listener so it stays reachable while refusing):
    POST /_emulator/restart[?keep=1][&reset=1]  agent restart. Existing
         connections are dropped. Without keep (no data dir) the agent's own
         services and checks are forgotten and removed from the catalog, and
         it gets a new NodeID; keep=1 restores them. The index stays
         monotonic (it lives on the servers) unless reset=1, which models a
         -dev agent: KV is lost and the index starts again from 1.
    POST /_emulator/fault {"mode": "refuse"|"stall"|"500"|"malformed"|
         "drop_mid_body"|"none", "paths": "/v1/kv/" or [...] (prefix
         filter), "count": N (requests, then it clears itself), "for": "2s"
         (clears itself after)}. refuse closes the listening socket (and
         drops open connections: the agent is gone); clearing reopens the
         same port; count cannot apply to it. stall holds requests after
         reading them until the fault is set again (then they are answered
         normally, like a resumed process) or the client hangs up. 500 and
         malformed answer without touching the state; drop_mid_body
         processes the request and cuts the response body in half.
    GET  /_emulator/state[?since=SEQ]  JSON dump: index, services, checks
         (status, last update, TTL deadline), nodes, kv, fault, requests.
    GET  /_emulator/wait?SUBJECT&...&timeout=10s[&hold=DUR]  blocks until the
         condition holds: 200 {"met":true,"value":...}, 408 on timeout. With
         hold, the condition must then stay true for DUR (412 if it breaks).
         Subjects: check=ID [node=] [status=] [present=0|1] [output=substr];
         service=ID [node=] [present=] [status= (worst of its checks)]
         [port=] [address=] [tag=]... [meta=k:v]; name=NAME [passing=1]
         [tag=]... [instances=N] (what /v1/health/service/NAME shows);
         kv=KEY [value=] [present=]; request=PATH_PREFIX [method=] [since=SEQ]
         [body=substr] [count=N (at least, default 1)] [max=N (at most)];
         index=N (the index is above N); fault=MODE (the current fault).
    POST /_emulator/register?node=NAME[&address=IP]  body: a service
         definition, registered on another node (another agent): it is not
         forgotten by restart. POST /_emulator/deregister?id=ID[&node=NAME].
    POST /_emulator/check?id=ID&status=S[&output=][&node=]  sets any check,
         including serfHealth.   POST /_emulator/kv/reap  drops tombstones.
"""

import argparse
import base64
import http.client
import json
import os
import random
import select
import signal
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler

DEFAULT_WAIT = 300.0
MAX_WAIT = 600.0
JITTER_FRACTION = 16
CHECK_BUF_SIZE = 4096
KV_MAX_VALUE = 512 * 1024
CHUNKING_THRESHOLD = 2048
CHUNK_SIZE = 4096
REQUEST_LOG_MAX = 20000
STATUSES = ("passing", "warning", "critical")
FAULT_MODES = ("refuse", "stall", "500", "malformed", "drop_mid_body", "none")
MALFORMED_BODY = b'[{"Node":{"Node":"emulator","Address":}}]'
INVALID_PATH = "Invalid URL path: not a recognized HTTP API endpoint\n"

_log_lock = threading.Lock()


def log(msg):
    with _log_lock:
        sys.stderr.write("emulator: %s %s\n" % (time.strftime("%H:%M:%S"), msg))
        sys.stderr.flush()


# ---------------------------------------------------------------- helpers

UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3,
         "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text):
    """Go's time.ParseDuration, in seconds; ValueError with Go's message."""
    orig = text
    if not isinstance(text, str):
        raise ValueError("time: invalid duration %s" % json.dumps(text))
    quoted = json.dumps(orig, ensure_ascii=False)
    neg = False
    if text[:1] in ("+", "-"):
        neg = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0.0
    if text == "":
        raise ValueError("time: invalid duration " + quoted)
    total = 0.0
    while text:
        i = 0
        while i < len(text) and "0" <= text[i] <= "9":
            i += 1
        whole, text = text[:i], text[i:]
        frac = ""
        if text.startswith("."):
            text = text[1:]
            j = 0
            while j < len(text) and "0" <= text[j] <= "9":
                j += 1
            frac, text = text[:j], text[j:]
            if whole == "" and frac == "":
                raise ValueError("time: invalid duration " + quoted)
        elif whole == "":
            raise ValueError("time: invalid duration " + quoted)
        k = 0
        while k < len(text) and text[k] != "." and not ("0" <= text[k] <= "9"):
            k += 1
        unit, text = text[:k], text[k:]
        if unit == "":
            raise ValueError("time: missing unit in duration " + quoted)
        if unit not in UNITS:
            raise ValueError("time: unknown unit %s in duration %s" % (json.dumps(unit, ensure_ascii=False), quoted))
        total += float((whole or "0") + "." + (frac or "0")) * UNITS[unit]
    return -total if neg else total


def json_duration(value):
    """A duration field of a JSON body: Go text, or a number of nanoseconds."""
    if isinstance(value, bool):
        raise ValueError("json: cannot unmarshal bool into a duration")
    if isinstance(value, (int, float)):
        return value / 1e9
    return parse_duration(value)


def go_bool(text):
    """strconv.ParseBool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(text)


def param(query, name):
    """The last value of a query parameter ("" when absent), as Go's Query().Get."""
    return (query.get(name) or [""])[-1]


def decode_body(body):
    """A JSON request body, decoded as Consul's decodeBody: 400 on bad JSON,
    and on an empty body or `null` (Go's decoder reports EOF)."""
    try:
        raw = json.loads(body.decode("utf-8")) if body.strip() else None
    except (ValueError, UnicodeDecodeError) as e:
        raise HTTPError(400, "Request decode failed: %s" % e)
    if raw is None:
        raise HTTPError(400, "Request decode failed: EOF")
    return raw


def flag(query, name):
    """A Consul bool query parameter: present (any value but false) means true."""
    if name not in query:
        return False
    value = query[name][-1]
    if value == "":
        return True
    try:
        return go_bool(value)
    except ValueError:
        return True


def dumps(obj, pretty=False):
    if pretty:
        return (json.dumps(obj, indent=4) + "\n").encode()
    return json.dumps(obj, separators=(",", ":")).encode()


def worst(statuses):
    rank = {"passing": 0, "warning": 1, "critical": 2}
    best = "passing"
    for s in statuses:
        if rank.get(s, 2) > rank[best]:
            best = s if s in rank else "critical"
    return best


class HTTPError(Exception):
    def __init__(self, status, text, headers=()):
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = list(headers)


class Aborted(Exception):
    """The agent restarted (or died) while a request was in flight."""


def norm_key(k):
    return k.replace("_", "").replace("-", "").lower()


SERVICE_KEYS = {norm_key(k): k for k in (
    "ID", "Name", "Tags", "Address", "TaggedAddresses", "Meta", "Port", "SocketPath",
    "Check", "Checks", "Weights", "Token", "EnableTagOverride", "Kind", "Proxy",
    "Connect", "Namespace", "Partition", "Locality", "PeerName")}
CHECK_KEYS = {norm_key(k): k for k in (
    "CheckID", "Name", "Notes", "Status", "ServiceID", "TTL", "HTTP", "TCP", "UDP",
    "Interval", "Timeout", "DeregisterCriticalServiceAfter", "Method", "Header",
    "Body", "TLSSkipVerify", "TLSServerName", "SuccessBeforePassing",
    "FailuresBeforeCritical", "FailuresBeforeWarning", "OutputMaxSize", "Script",
    "Args", "ScriptArgs", "GRPC", "GRPCUseTLS", "DockerContainerID", "Shell", "H2PING",
    "H2PingUseTLS", "AliasNode", "AliasService", "OSService", "Type")}
CHECK_KEYS["id"] = "CheckID"


def canonical(obj, table, where):
    """Go's encoding/json matches field names case-insensitively and Consul
    translates snake_case; unknown fields are ignored, as Go does."""
    if not isinstance(obj, dict):
        raise HTTPError(400, "Request decode failed: json: cannot unmarshal %s into Go value of type %s"
                        % (json_type(obj), where))
    out = {}
    for k, v in obj.items():
        name = table.get(norm_key(k))
        if name is not None and name not in out:
            out[name] = v
    return out


def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def want(value, kind, field):
    ok = {
        "string": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "strings": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "map": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        "object": lambda v: isinstance(v, dict),
    }[kind](value)
    if value is not None and not ok:
        go = {"string": "string", "int": "int", "bool": "bool", "strings": "[]string",
              "map": "map[string]string", "object": "struct"}[kind]
        raise HTTPError(400, "Request decode failed: json: cannot unmarshal %s into Go struct field %s of type %s"
                        % (json_type(value), field, go))
    return value


# ---------------------------------------------------------------- the model

class Emulator:
    def __init__(self, args):
        self.args = args
        self.cond = threading.Condition()
        self.index = 0
        self.node = args.node
        self.dc = args.datacenter
        self.nodes = {}
        self.services = {}   # (node, service id) -> service
        self.checks = {}     # (node, check id) -> check
        self.svc_index = {}  # service name -> index of its last change
        self.extinction_index = 0
        self.catalog_index = 0
        self.kv = {}
        self.tombstones = {}
        self.kv_index = 0
        self.requests = []
        self.seq = 0
        self.fault = {"mode": "none"}
        self.fault_gen = 0
        self.generation = 0
        self.restarts = 0
        self.conns = {}      # socket -> is_admin
        self.main = None
        self.add_node(self.node, args.node_address)

    # -- index bookkeeping

    def bump(self):
        self.index += 1
        self.catalog_index = self.index
        return self.index

    def touch(self, name, idx):
        self.svc_index[name] = idx
        if not any(s["Service"] == name for s in self.services.values()):
            self.extinction_index = idx

    def touch_node(self, node, idx):
        for (n, _), s in self.services.items():
            if n == node:
                self.svc_index[s["Service"]] = idx
        self.nodes[node]["ModifyIndex"] = idx

    def service_index(self, name):
        if any(s["Service"] == name for s in self.services.values()):
            return self.svc_index.get(name, self.catalog_index)
        return self.extinction_index or self.catalog_index

    def changed(self):
        self.cond.notify_all()

    # -- nodes

    def add_node(self, name, address):
        idx = self.bump()
        self.nodes[name] = {
            "ID": str(uuid.uuid4()), "Node": name, "Address": address, "Datacenter": self.dc,
            "TaggedAddresses": {"lan": address, "lan_ipv4": address, "wan": address, "wan_ipv4": address},
            "Meta": {"consul-network-segment": ""}, "CreateIndex": idx, "ModifyIndex": idx,
        }
        self.checks[(name, "serfHealth")] = self.new_check(name, {
            "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing",
            "Output": "Agent alive and reachable"}, None, idx)

    def new_check(self, node, c, svc, idx):
        now = time.monotonic()
        status = c.get("Status") or "critical"
        return {
            "Node": node, "CheckID": c["CheckID"], "Name": c.get("Name", ""), "Status": status,
            "Notes": c.get("Notes", ""), "Output": c.get("Output", ""),
            "ServiceID": svc["ID"] if svc else "", "ServiceName": svc["Service"] if svc else "",
            "ServiceTags": list(svc["Tags"]) if svc else [], "Type": c.get("Type", ""),
            "Interval": c.get("IntervalText", ""), "Timeout": c.get("TimeoutText", ""),
            "ExposedPort": 0, "Definition": {}, "CreateIndex": idx, "ModifyIndex": idx,
            "_ttl": c.get("_ttl"), "_ttl_text": c.get("TTL"), "_dcsa": c.get("_dcsa"),
            "_dcsa_text": c.get("DeregisterCriticalServiceAfter"),
            "_expires": now + c["_ttl"] if c.get("_ttl") else None, "_expired": False,
            "_interval": c.get("_interval"), "_timeout": c.get("_timeout") or 10.0,
            "_http": c.get("HTTP"), "_tcp": c.get("TCP"), "_method": c.get("Method") or "GET",
            "_next_probe": now if c.get("_interval") else None, "_probing": False,
            "_last_output": "", "_last_update": time.time(),
            "_critical_since": now if status == "critical" else None,
            "_cat_output": c.get("Output", ""), "_defer_at": None,
        }

    # -- registration

    def parse_definition(self, body):
        raw = decode_body(body)
        d = canonical(raw, SERVICE_KEYS, "structs.ServiceDefinition")
        for f, kind in (("ID", "string"), ("Name", "string"), ("Address", "string"),
                        ("Port", "int"), ("EnableTagOverride", "bool"), ("Tags", "strings"),
                        ("Meta", "map"), ("Weights", "object"), ("TaggedAddresses", "object")):
            want(d.get(f), kind, "ServiceDefinition." + f)
        if not d.get("Name"):
            raise HTTPError(400, "Missing service name")
        if d.get("Address") in ("0.0.0.0", "::", "[::]"):
            raise HTTPError(400, "Invalid service address")
        meta = d.get("Meta") or {}
        if len(meta) > 64:
            raise HTTPError(400, "Invalid Service Meta: Node metadata cannot contain more than 64 key/value pairs")
        for k, v in meta.items():
            if not k or len(k) > 128 or len(v) > 512 or k.startswith("consul-"):
                raise HTTPError(400, "Invalid Service Meta: Couldn't load metadata pair ('%s', '%s')" % (k, v))
        defs = []
        if d.get("Check") is not None:
            c = canonical(d["Check"], CHECK_KEYS, "structs.CheckType")
            if c:
                defs.append(c)
        if d.get("Checks") is not None:
            if not isinstance(d["Checks"], list):
                raise HTTPError(400, "Request decode failed: json: cannot unmarshal %s into Go struct field "
                                     "ServiceDefinition.Checks of type structs.CheckTypes" % json_type(d["Checks"]))
            defs.extend(canonical(c, CHECK_KEYS, "structs.CheckType") for c in d["Checks"])
        checks = [self.parse_check(c) for c in defs]
        weights = d.get("Weights") or {}
        svc = {
            "ID": d.get("ID") or d["Name"], "Service": d["Name"], "Tags": list(d.get("Tags") or []),
            "Meta": dict(meta), "Port": d.get("Port") or 0, "Address": d.get("Address") or "",
            "Weights": {"Passing": weights.get("Passing", 1), "Warning": weights.get("Warning", 1)},
            "EnableTagOverride": bool(d.get("EnableTagOverride")),
        }
        if d.get("TaggedAddresses"):
            svc["TaggedAddresses"] = d["TaggedAddresses"]
        return svc, checks

    def parse_check(self, c):
        c = dict(c)
        try:
            for f in ("TTL", "Interval", "Timeout", "DeregisterCriticalServiceAfter"):
                if c.get(f) is not None:
                    c["_" + {"TTL": "ttl", "Interval": "interval", "Timeout": "timeout",
                             "DeregisterCriticalServiceAfter": "dcsa"}[f]] = json_duration(c[f])
        except ValueError as e:
            raise HTTPError(400, "Request decode failed: %s" % e)
        for f in ("CheckID", "Name", "Notes", "Status", "HTTP", "TCP", "Method"):
            want(c.get(f), "string", "CheckType." + f)
        if c.get("Status") and c["Status"] not in STATUSES:
            raise HTTPError(400, "Status for checks must 'passing', 'warning', 'critical'")
        ttl, interval = c.get("_ttl"), c.get("_interval")
        probe = c.get("HTTP") or c.get("TCP")
        other = any(c.get(k) for k in ("Script", "Args", "ScriptArgs", "GRPC", "DockerContainerID",
                                       "H2PING", "UDP", "AliasService", "AliasNode", "OSService"))
        if ttl is not None and (probe or other):
            raise HTTPError(400, "Invalid check: Interval and TTL cannot both be specified")
        if ttl is not None:
            if ttl <= 0:
                raise HTTPError(400, "Invalid check: TTL must be > 0 for TTL checks")
            c["Type"] = "ttl"
        elif probe:
            if not interval or interval <= 0:
                raise HTTPError(400, "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, or TCP checks")
            c["Type"] = "http" if c.get("HTTP") else "tcp"
            c["IntervalText"] = str(c["Interval"])
            c["TimeoutText"] = str(c.get("Timeout") or "")
        elif other:
            raise HTTPError(400, "emulator: only TTL, HTTP and TCP checks are implemented")
        else:
            raise HTTPError(400, "Invalid check: Must provide TTL or Script/DockerContainerID/HTTP/TCP and Interval")
        return c

    def register(self, node, svc, checkdefs, replace_checks):
        key = (node, svc["ID"])
        old = self.services.get(key)
        now = time.monotonic()
        pending = {}
        for i, c in enumerate(checkdefs):
            cid = c.get("CheckID") or ("service:%s" % svc["ID"] + (":%d" % (i + 1) if len(checkdefs) > 1 else ""))
            c = dict(c, CheckID=cid)
            c.setdefault("Name", "Service '%s' check" % svc["Service"])
            prev = self.checks.get((node, cid))
            if prev is not None:
                # Consul restores status and output from its snapshot.
                c["Status"], c["Output"] = prev["Status"], prev["Output"]
            pending[cid] = (c, prev)
        removed = []
        if replace_checks:
            removed = [k for k, ch in self.checks.items()
                       if k[0] == node and ch["ServiceID"] == svc["ID"] and k[1] not in pending
                       and not k[1].startswith("_service_maintenance:")]
        differs = old is None or any(old.get(f) != svc.get(f) for f in
                                     ("Service", "Tags", "Meta", "Port", "Address", "Weights",
                                      "EnableTagOverride", "TaggedAddresses"))
        for cid, (c, prev) in pending.items():
            if prev is None or prev["ServiceID"] != svc["ID"] or prev["Type"] != c["Type"] \
                    or prev["Name"] != c["Name"] or prev["Notes"] != c.get("Notes", "") \
                    or prev["ServiceName"] != svc["Service"] or prev["ServiceTags"] != svc["Tags"]:
                differs = True
        if removed:
            differs = True
        idx = self.bump() if differs else None
        if old is not None and old["Service"] != svc["Service"]:
            # An ID that moves to another name leaves the old name.
            del self.services[key]
            self.touch(old["Service"], idx)
        svc = dict(svc)
        svc["CreateIndex"] = old["CreateIndex"] if old else idx
        svc["ModifyIndex"] = idx if differs else old["ModifyIndex"]
        svc["Node"] = node
        self.services[key] = svc
        for k in removed:
            del self.checks[k]
        for cid, (c, prev) in pending.items():
            new = self.new_check(node, c, svc, idx if differs else prev["ModifyIndex"])
            if prev is not None:
                new["CreateIndex"] = prev["CreateIndex"]
                new["_critical_since"] = prev["_critical_since"]
                new["_cat_output"] = prev["_cat_output"]
                new["_last_output"] = prev["_last_output"]
                new["_last_update"] = prev["_last_update"]
            new["_expires"] = now + new["_ttl"] if new["_ttl"] else None
            self.checks[(node, cid)] = new
        # Maintenance checks follow the service's tags too.
        for (n, cid), ch in self.checks.items():
            if n == node and ch["ServiceID"] == svc["ID"]:
                ch["ServiceTags"] = list(svc["Tags"])
        if differs:
            self.touch(svc["Service"], idx)
            self.changed()

    def deregister(self, node, sid):
        svc = self.services.pop((node, sid), None)
        if svc is None:
            return False
        for k in [k for k, c in self.checks.items() if k[0] == node and c["ServiceID"] == sid]:
            del self.checks[k]
        self.touch(svc["Service"], self.bump())
        self.changed()
        return True

    def set_status(self, chk, status, output, now=None):
        """A check result; returns whether the catalog changed."""
        now = time.monotonic() if now is None else now
        if status == "critical":
            if chk["_critical_since"] is None:
                chk["_critical_since"] = now
        else:
            chk["_critical_since"] = None
        if chk["Status"] == status and chk["Output"] == output:
            return False
        if chk["Status"] == status and self.args.check_update_interval > 0:
            chk["Output"] = output
            if chk["_defer_at"] is None:
                d = self.args.check_update_interval
                chk["_defer_at"] = now + d / 2 + random.uniform(0, d)
                self.changed()
            return False
        chk["Status"], chk["Output"], chk["_cat_output"], chk["_defer_at"] = status, output, output, None
        idx = self.bump()
        chk["ModifyIndex"] = idx
        if chk["ServiceID"]:
            self.touch(chk["ServiceName"], idx)
        else:
            self.touch_node(chk["Node"], idx)
        self.changed()
        return True

    def update_ttl(self, cid, status, output):
        chk = self.checks.get((self.node, cid))
        if chk is None:
            raise HTTPError(404, 'Unknown check ID "%s". Ensure that the check ID is passed, not the check name.' % cid)
        if chk["Type"] != "ttl":
            raise HTTPError(500, 'CheckID "%s" does not have associated TTL' % cid)
        if len(output) > CHECK_BUF_SIZE:
            output = "%s ... (captured %d of %d bytes)" % (output[:CHECK_BUF_SIZE], CHECK_BUF_SIZE, len(output))
        now = time.monotonic()
        chk["_expires"] = now + chk["_ttl"]
        chk["_expired"] = False
        chk["_last_output"] = output
        chk["_last_update"] = time.time()
        self.set_status(chk, status, output, now)
        self.changed()  # the scheduler re-arms on the new deadline

    def maintenance(self, node, cid, svc, enable, reason):
        """Service maintenance with `svc`, else the node's."""
        key = (node, cid)
        if enable:
            if key in self.checks:
                return
            what = "service" if svc else "node"
            notes = reason or ("Maintenance mode is enabled for this %s, but no reason was provided. "
                               "This is a default message." % what)
            idx = self.bump()
            self.checks[key] = self.new_check(node, {
                "CheckID": cid, "Name": "%s Maintenance Mode" % what.capitalize(),
                "Notes": notes, "Status": "critical", "Type": "maintenance"}, svc, idx)
        else:
            if key not in self.checks:
                return
            del self.checks[key]
            idx = self.bump()
        if svc:
            self.touch(svc["Service"], idx)
        else:
            self.touch_node(node, idx)
        self.changed()

    # -- the agent restarting

    def restart(self, keep, reset, current):
        self.generation += 1
        self.restarts += 1
        self.drop_connections(current)
        if not keep:
            names = set()
            for k in [k for k in self.services if k[0] == self.node]:
                names.add(self.services.pop(k)["Service"])
            for k in [k for k, c in self.checks.items() if k[0] == self.node and c["CheckID"] != "serfHealth"]:
                del self.checks[k]
            idx = self.bump()
            for name in names:
                self.touch(name, idx)
            self.nodes[self.node]["ID"] = str(uuid.uuid4())
            self.nodes[self.node]["ModifyIndex"] = idx
        if reset:
            self.index = 0
            self.kv.clear()
            self.tombstones.clear()
            self.svc_index.clear()
            self.extinction_index = self.catalog_index = self.kv_index = 0
            # What the other agents sync back lands in one fresh write.
            idx = self.bump()
            for item in list(self.nodes.values()) + list(self.services.values()) + list(self.checks.values()):
                item["CreateIndex"] = item["ModifyIndex"] = idx
            for s in self.services.values():
                self.svc_index[s["Service"]] = idx
        self.changed()

    def drop_connections(self, current=None, admin_too=False):
        for s, is_admin in list(self.conns.items()):
            if s is current or (is_admin and not admin_too):
                continue
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- time-driven work: TTLs, reaping, deferred syncs, probes, faults

    def scheduler(self):
        with self.cond:
            while True:
                nxt = self.run_due(time.monotonic())
                self.cond.wait(None if nxt is None else max(0.0, nxt - time.monotonic()))

    def run_due(self, now):
        nxt = []
        for chk in list(self.checks.values()):
            if chk["_expires"] is not None and not chk["_expired"]:
                if chk["_expires"] <= now:
                    chk["_expired"] = True
                    out = "TTL expired"
                    if chk["_last_output"]:
                        out += " (last output before timeout follows): " + chk["_last_output"]
                    log("check %s: TTL expired" % chk["CheckID"])
                    self.set_status(chk, "critical", out, now)
                else:
                    nxt.append(chk["_expires"])
            if chk["_defer_at"] is not None:
                if chk["_defer_at"] <= now:
                    chk["_defer_at"] = None
                    chk["_cat_output"] = chk["Output"]
                    idx = self.bump()
                    chk["ModifyIndex"] = idx
                    if chk["ServiceName"]:
                        self.touch(chk["ServiceName"], idx)
                    self.changed()
                else:
                    nxt.append(chk["_defer_at"])
            if chk["_next_probe"] is not None and not chk["_probing"]:
                if chk["_next_probe"] <= now:
                    chk["_probing"] = True
                    chk["_next_probe"] = now + chk["_interval"]
                    threading.Thread(target=self.probe, args=(chk,), daemon=True).start()
                else:
                    nxt.append(chk["_next_probe"])
        for (node, sid), svc in list(self.services.items()):
            for chk in self.checks.values():
                if chk["Node"] != node or chk["ServiceID"] != sid or chk["_dcsa"] is None:
                    continue
                if chk["_critical_since"] is None:
                    continue
                at = chk["_critical_since"] + max(chk["_dcsa"], self.args.deregister_min)
                if at <= now:
                    log("service %s: critical for %s, deregistered" % (sid, chk["_dcsa_text"]))
                    self.deregister(node, sid)
                    break
                nxt.append(at)
        until = self.fault.get("_until")
        if until is not None:
            if until <= now:
                self.set_fault({"mode": "none"})
            else:
                nxt.append(until)
        return min(nxt) if nxt else None

    def probe(self, chk):
        if chk["_http"]:
            try:
                req = urllib.request.Request(chk["_http"], method=chk["_method"])
                with urllib.request.urlopen(req, timeout=chk["_timeout"]) as r:
                    code, text = r.status, r.read(CHECK_BUF_SIZE).decode("utf-8", "replace")
            except urllib.error.HTTPError as e:
                code, text = e.code, ""
            except Exception as e:
                code, text = 0, str(e)
            status = "passing" if 200 <= code < 300 else "warning" if code == 429 else "critical"
            output = "HTTP %s %s: %s Output: %s" % (chk["_method"], chk["_http"], code, text)
        else:
            host, _, port = chk["_tcp"].rpartition(":")
            try:
                socket.create_connection((host.strip("[]"), int(port)), timeout=chk["_timeout"]).close()
                status, output = "passing", "TCP connect %s: Success" % chk["_tcp"]
            except (OSError, ValueError) as e:
                status, output = "critical", "dial tcp %s: %s" % (chk["_tcp"], e)
        with self.cond:
            chk["_probing"] = False
            if self.checks.get((chk["Node"], chk["CheckID"])) is chk:
                chk["_last_update"] = time.time()
                self.set_status(chk, status, output)
            self.changed()

    # -- faults

    def set_fault(self, spec, current=None):
        mode = spec.get("mode", "none")
        if mode not in FAULT_MODES:
            raise HTTPError(400, "unknown fault mode %r (one of %s)" % (mode, ", ".join(FAULT_MODES)))
        paths = spec.get("paths")
        if isinstance(paths, str):
            paths = [paths]
        if paths is not None and not (isinstance(paths, list) and all(isinstance(p, str) for p in paths)):
            raise HTTPError(400, "paths: a prefix or a list of prefixes")
        count = spec.get("count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise HTTPError(400, "count: a positive number of requests")
        if mode == "refuse" and (count is not None or paths is not None):
            raise HTTPError(400, "refuse closes the listening socket: count and paths cannot apply (use for)")
        until = None
        if spec.get("for") is not None:
            try:
                until = time.monotonic() + parse_duration(spec["for"])
            except ValueError as e:
                raise HTTPError(400, "for: %s" % e)
        was = self.fault["mode"]
        self.fault = {"mode": mode, "paths": paths, "count": count, "_until": until}
        self.fault_gen += 1
        if mode == "refuse" and was != "refuse":
            self.main.close()
            self.drop_connections(current)
        elif mode != "refuse" and was == "refuse":
            self.main.open()
        log("fault: %s" % json.dumps({k: v for k, v in self.fault.items() if not k.startswith("_")}))
        self.changed()

    def take_fault(self, path):
        f = self.fault
        if f["mode"] in ("none", "refuse"):
            return None
        if f["paths"] is not None and not any(path.startswith(p) for p in f["paths"]):
            return None
        mode = f["mode"]
        if f["count"] is not None:
            f["count"] -= 1
            if f["count"] == 0:
                self.fault = {"mode": "none"}
                log("fault: count used up, cleared")
        return mode

    # -- views

    def health_entry(self, svc, catalog_view=True):
        node = self.nodes[svc["Node"]]
        checks = [c for c in self.checks.values() if c["Node"] == svc["Node"] and not c["ServiceID"]]
        checks += [c for c in self.checks.values() if c["Node"] == svc["Node"] and c["ServiceID"] == svc["ID"]]
        return {"Node": dict(node), "Service": public_service(svc),
                "Checks": [public_check(c, catalog_view) for c in sorted(checks, key=check_order)]}

    def instances(self, name, tags=(), node_meta=(), passing=False):
        out = []
        for key in sorted(self.services):
            svc = self.services[key]
            if svc["Service"] != name:
                continue
            lower = [t.lower() for t in svc["Tags"]]
            if any(t.lower() not in lower for t in tags):
                continue
            meta = self.nodes[svc["Node"]]["Meta"]
            if any(meta.get(k) != v for k, v in node_meta):
                continue
            entry = self.health_entry(svc)
            if passing and any(c["Status"] != "passing" for c in entry["Checks"]):
                continue
            out.append(entry)
        return out

    def kv_table_index(self):
        return max([self.kv_index] + list(self.tombstones.values()))

    def state(self, since):
        def svc_view(s):
            return dict(public_service(s), Node=s["Node"])

        def chk_view(c):
            now, wall = time.monotonic(), time.time()
            v = public_check(c, False)
            v.update({"TTL": c["_ttl_text"], "DeregisterCriticalServiceAfter": c["_dcsa_text"],
                      "last_update": c["_last_update"],
                      "expires": wall + (c["_expires"] - now) if c["_expires"] and not c["_expired"] else None,
                      "critical_since": wall - (now - c["_critical_since"]) if c["_critical_since"] else None,
                      "catalog_output": c["_cat_output"]})
            return v
        nodes = {}
        for name, n in self.nodes.items():
            nodes[name] = dict(n, services={sid: svc_view(s) for (nn, sid), s in self.services.items() if nn == name},
                               checks={cid: chk_view(c) for (nn, cid), c in self.checks.items() if nn == name})
        return {
            "index": self.index, "node": self.node, "node_id": self.nodes[self.node]["ID"],
            "datacenter": self.dc, "restarts": self.restarts, "next_seq": self.seq + 1,
            "fault": {k: v for k, v in self.fault.items() if not k.startswith("_")},
            "services": nodes[self.node]["services"],
            "checks": {cid: c for cid, c in nodes[self.node]["checks"].items() if cid != "serfHealth"},
            "nodes": nodes,
            "kv": {k: {"Value": e["Value"].decode("utf-8", "replace"), "Flags": e["Flags"],
                       "CreateIndex": e["CreateIndex"], "ModifyIndex": e["ModifyIndex"]}
                   for k, e in sorted(self.kv.items())},
            "requests": [r for r in self.requests if r["seq"] >= since],
        }

    # -- the admin wait helper

    def evaluate(self, q):
        """(met, value) for one wait subject; HTTPError when malformed."""
        def one(name, default=None):
            return q[name][-1] if name in q else default

        def present_ok(found):
            want_present = go_bool(one("present", "1"))
            return found == want_present
        node = one("node", self.node)
        if "check" in q:
            c = self.checks.get((node, one("check")))
            value = public_check(c, False) if c else None
            met = present_ok(c is not None) if "present" in q else c is not None
            if c is not None and "status" in q:
                met = met and c["Status"] == one("status")
            if c is not None and "output" in q:
                met = met and one("output") in c["Output"]
            return met, value
        if "service" in q:
            s = self.services.get((node, one("service")))
            value = self.health_entry(s) if s else None
            met = present_ok(s is not None) if "present" in q else s is not None
            if s is not None:
                if "status" in q:
                    met = met and worst(c["Status"] for c in value["Checks"]) == one("status")
                if "port" in q:
                    met = met and str(s["Port"]) == one("port")
                if "address" in q:
                    met = met and s["Address"] == one("address")
                for t in q.get("tag", []):
                    met = met and t in s["Tags"]
                for m in q.get("meta", []):
                    k, _, v = m.partition(":")
                    met = met and s["Meta"].get(k) == v
            return met, value
        if "name" in q:
            entries = self.instances(one("name"), q.get("tag", []), passing=flag(q, "passing"))
            n = int(one("instances", "1"))
            return len(entries) == n, entries
        if "kv" in q:
            e = self.kv.get(one("kv"))
            value = e["Value"].decode("utf-8", "replace") if e else None
            met = present_ok(e is not None) if "present" in q else e is not None
            if e is not None and "value" in q:
                met = met and value == one("value")
            return met, value
        if "request" in q:
            since = int(one("since", "0"))
            method = one("method")
            body = one("body")
            hits = [r for r in self.requests if r["seq"] >= since and r["path"].startswith(one("request"))
                    and (method is None or r["method"] == method) and (body is None or body in r["body"])]
            met = len(hits) >= int(one("count", "1"))
            if "max" in q:
                met = (len(hits) <= int(one("max"))) and ("count" not in q or met)
            return met, {"count": len(hits), "requests": hits[-20:]}
        if "index" in q:
            return self.index > int(one("index")), self.index
        if "fault" in q:
            return self.fault["mode"] == one("fault"), self.fault["mode"]
        raise HTTPError(400, "wait: give one of check=, service=, name=, kv=, request=, index=, fault=")

    def wait_for(self, q, current):
        def dur(name, default):
            try:
                return parse_duration(q[name][-1]) if name in q else default
            except ValueError as e:
                raise HTTPError(400, "%s: %s" % (name, e))
        timeout, hold = dur("timeout", 10.0), dur("hold", None)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                met, value = self.evaluate(q)
                left = deadline - time.monotonic()
                if met or left <= 0:
                    break
                self.cond.wait(left)
            if not met:
                return 408, {"met": False, "value": value}
            if hold is None:
                return 200, {"met": True, "value": value}
            end = time.monotonic() + hold
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    return 200, {"met": True, "value": value}
                self.cond.wait(left)
                met, value = self.evaluate(q)
                if not met:
                    return 412, {"met": False, "held": False, "value": value}


def check_order(c):
    return (c["ServiceID"] != "", c["CheckID"])


def public_service(s):
    out = {k: v for k, v in s.items() if k != "Node"}
    out.update({"Proxy": {"Mode": "", "MeshGateway": {}, "Expose": {}}, "Connect": {}, "PeerName": ""})
    return out


def public_check(c, catalog_view):
    out = {k: v for k, v in c.items() if not k.startswith("_")}
    if catalog_view:
        out["Output"] = c["_cat_output"]
    return out


# ---------------------------------------------------------------- HTTP

class Listener:
    def __init__(self, emu, host, port, is_admin):
        self.emu, self.host, self.port, self.is_admin = emu, host, port, is_admin
        self.sock = None
        self.open()

    def open(self):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(128)
        self.port = s.getsockname()[1]
        self.sock = s
        threading.Thread(target=self.accept_loop, args=(s,), daemon=True).start()

    def close(self):
        s, self.sock = self.sock, None
        if s is None:
            return
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def address(self):
        return ("[%s]:%d" if ":" in self.host else "%s:%d") % (self.host, self.port)

    def accept_loop(self, s):
        while True:
            try:
                conn, addr = s.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn, addr), daemon=True).start()

    def serve(self, conn, addr):
        with self.emu.cond:
            self.emu.conns[conn] = self.is_admin
        try:
            Handler(conn, addr, self)
        except Exception:
            pass
        finally:
            with self.emu.cond:
                self.emu.conns.pop(conn, None)
            try:
                conn.close()
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        log("%s" % (fmt % args))

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    @property
    def emu(self):
        return self.server.emu

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def dispatch(self):
        try:
            body = self.read_body()
        except ValueError:
            self.raw(400, b"400 Bad Request: bad body framing", "text/plain; charset=utf-8", close=True)
            return
        if self.request_version == "HTTP/1.1" and "Host" not in self.headers:
            self.raw(400, b"400 Bad Request: missing required Host header", "text/plain; charset=utf-8",
                     close=True, reason="Bad Request: missing required Host header")
            return
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        try:
            if path.startswith("/_emulator/"):
                self.admin(path, query, body)
            elif self.server.is_admin:
                raise HTTPError(404, "this is the emulator's admin listener: only /_emulator/ lives here\n")
            else:
                self.consul(path, query, body, url.path + ("?" + url.query if url.query else ""))
        except HTTPError as e:
            self.error(e)
        except Aborted:
            self.close_connection = True
        except Exception as e:
            log("internal error on %s %s: %r" % (self.command, self.path, e))
            self.raw(500, ("emulator internal error: %r" % e).encode(), "text/plain; charset=utf-8", close=True)

    def error(self, e):
        self.raw(e.status, e.text.encode(), "text/plain; charset=utf-8", e.headers)

    # -- responses

    def raw(self, status, body, ctype=None, headers=(), close=False, drop=False, reason=None):
        if close:
            self.close_connection = True
        lines = ["HTTP/1.1 %d %s" % (status, reason or http.client.responses.get(status, ""))]
        lines += ["%s: %s" % kv for kv in headers]
        if ctype:
            lines.append("Content-Type: " + ctype)
        lines.append("Date: " + formatdate(usegmt=True))
        if self.close_connection:
            lines.append("Connection: close")
        no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        chunked = not drop and not no_body and len(body) > CHUNKING_THRESHOLD and self.request_version == "HTTP/1.1"
        if drop:
            declared = max(len(body), 2)
            lines.append("Content-Length: %d" % declared)
            payload = body[:len(body) // 2]
        elif chunked:
            lines.append("Transfer-Encoding: chunked")
            payload = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + CHUNK_SIZE]), body[i:i + CHUNK_SIZE])
                               for i in range(0, len(body), CHUNK_SIZE)) + b"0\r\n\r\n"
        else:
            if not (100 <= status < 200 or status in (204, 304)):
                lines.append("Content-Length: %d" % len(body))
            payload = b"" if no_body else body
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.status_sent = status
        self.wfile.write(head + payload)
        self.wfile.flush()
        if drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def json_reply(self, status, obj, headers=(), pretty=False):
        self.raw(status, dumps(obj, pretty), "application/json", headers)

    # -- admin

    def admin(self, path, query, body):
        emu = self.emu
        one = lambda k, d=None: query[k][-1] if k in query else d  # noqa: E731
        routes = {"/_emulator/state": "GET", "/_emulator/wait": "GET", "/_emulator/restart": "POST",
                  "/_emulator/fault": "POST", "/_emulator/register": "POST", "/_emulator/deregister": "POST",
                  "/_emulator/check": "POST", "/_emulator/kv/reap": "POST"}
        if path not in routes:
            raise HTTPError(404, "unknown admin route %s (one of %s)\n" % (path, ", ".join(sorted(routes))))
        if self.command != routes[path]:
            raise HTTPError(405, "method %s not allowed" % self.command, [("Allow", routes[path])])
        if path == "/_emulator/wait":
            status, obj = emu.wait_for(query, self.connection)
            return self.json_reply(status, obj)
        with emu.cond:
            if path == "/_emulator/state":
                obj = emu.state(int(one("since", "0")))
            elif path == "/_emulator/restart":
                emu.restart(flag(query, "keep"), flag(query, "reset"), self.connection)
                log("restart (keep=%s reset=%s)" % (flag(query, "keep"), flag(query, "reset")))
                obj = {"index": emu.index, "node_id": emu.nodes[emu.node]["ID"]}
            elif path == "/_emulator/fault":
                try:
                    spec = json.loads(body.decode() or "{}")
                except ValueError as e:
                    raise HTTPError(400, "fault: bad JSON: %s" % e)
                if not isinstance(spec, dict):
                    raise HTTPError(400, "fault: a JSON object")
                emu.set_fault(spec, self.connection)
                obj = {k: v for k, v in emu.fault.items() if not k.startswith("_")}
            elif path == "/_emulator/register":
                node = one("node", "other-node")
                if node not in emu.nodes:
                    emu.add_node(node, one("address", "127.0.0.2"))
                svc, checks = emu.parse_definition(body)
                emu.register(node, svc, checks, True)
                obj = {"node": node, "id": svc["ID"], "index": emu.index}
            elif path == "/_emulator/deregister":
                if not emu.deregister(one("node", "other-node"), one("id", "")):
                    raise HTTPError(404, "no service %r on node %r" % (one("id"), one("node", "other-node")))
                obj = {"index": emu.index}
            elif path == "/_emulator/check":
                chk = emu.checks.get((one("node", emu.node), one("id", "")))
                if chk is None:
                    raise HTTPError(404, "no check %r on node %r" % (one("id"), one("node", emu.node)))
                if one("status") not in STATUSES:
                    raise HTTPError(400, "status: one of passing, warning, critical")
                chk["_last_update"] = time.time()
                emu.set_status(chk, one("status"), one("output", chk["Output"]))
                obj = public_check(chk, False)
            else:
                emu.tombstones.clear()
                emu.changed()
                obj = {"index": emu.index}
        self.json_reply(200, obj)

    # -- Consul

    ROUTES = [
        # (path, prefix?, methods, handler name)
        ("/v1/agent/self", False, ("GET",), "agent_self"),
        ("/v1/agent/services", False, ("GET",), "agent_services"),
        ("/v1/agent/checks", False, ("GET",), "agent_checks"),
        ("/v1/agent/service/register", False, ("PUT",), "service_register"),
        ("/v1/agent/service/deregister/", True, ("PUT",), "service_deregister"),
        ("/v1/agent/service/maintenance/", True, ("PUT",), "service_maintenance"),
        ("/v1/agent/service/", True, ("GET",), "agent_service"),
        ("/v1/agent/maintenance", False, ("PUT",), "node_maintenance"),
        ("/v1/agent/check/register", False, ("PUT",), "check_register"),
        ("/v1/agent/check/deregister/", True, ("PUT",), "check_deregister"),
        ("/v1/agent/check/update/", True, ("PUT",), "check_update"),
        ("/v1/agent/check/pass/", True, ("PUT",), "check_pass"),
        ("/v1/agent/check/warn/", True, ("PUT",), "check_warn"),
        ("/v1/agent/check/fail/", True, ("PUT",), "check_fail"),
        ("/v1/health/service/", True, ("GET",), "health_service"),
        ("/v1/catalog/service/", True, ("GET",), "catalog_service"),
        ("/v1/catalog/services", False, ("GET",), "catalog_services"),
        ("/v1/kv/", True, ("GET", "PUT", "DELETE"), "kv"),
        ("/v1/status/leader", False, ("GET",), "status_leader"),
        ("/v1/status/peers", False, ("GET",), "status_peers"),
    ]

    def route(self, path):
        for p, prefix, methods, name in self.ROUTES:
            if (prefix and path.startswith(p)) or (not prefix and path == p):
                return p, methods, name
        return None

    def consul(self, path, query, body, raw_path):
        emu = self.emu
        token = self.headers.get("X-Consul-Token") or ""
        auth = self.headers.get("Authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        token = token or param(query, "token")
        entry = {"method": self.command, "path": raw_path, "body": body[:65536].decode("utf-8", "replace"),
                 "token": token or None, "time": time.time(), "status": None, "fault": None}
        with emu.cond:
            emu.seq += 1
            entry["seq"] = emu.seq
            emu.requests.append(entry)
            del emu.requests[:-REQUEST_LOG_MAX]
            mode = emu.take_fault(path)
            entry["fault"] = mode
            gen, fault_gen = emu.generation, emu.fault_gen
            emu.changed()
        self.status_sent = None
        try:
            if mode == "stall":
                mode = self.stall(fault_gen, gen)
            if mode == "500":
                self.raw(500, b"No cluster leader", "text/plain; charset=utf-8")
            elif mode == "malformed":
                with emu.cond:
                    idx = emu.index
                self.raw(200, MALFORMED_BODY, "application/json", [("X-Consul-Index", str(idx))])
            else:
                try:
                    self.serve_consul(path, query, body, token, gen, drop=(mode == "drop_mid_body"))
                except HTTPError as e:
                    self.error(e)
        finally:
            with emu.cond:
                entry["status"] = self.status_sent
            log("%s %s -> %s%s" % (self.command, raw_path, self.status_sent,
                                   " (fault %s)" % mode if entry["fault"] else ""))

    def stall(self, fault_gen, gen):
        """Holds the request until the fault is set again or the client leaves."""
        emu = self.emu
        while True:
            with emu.cond:
                if emu.generation != gen:
                    raise Aborted()
                if emu.fault_gen != fault_gen:
                    return None
                emu.cond.wait(0.05)
            r, _, _ = select.select([self.connection], [], [], 0)
            if r:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        raise Aborted()
                except OSError:
                    raise Aborted()

    def serve_consul(self, path, query, body, token, gen, drop):
        emu = self.emu
        found = self.route(path)
        if found is None:
            raise HTTPError(404, INVALID_PATH)
        prefix, methods, name = found
        acl_headers = [("X-Consul-Default-Acl-Policy", "deny" if emu.args.token else "allow")]
        if self.command == "OPTIONS":
            return self.raw(200, b"", None, acl_headers + [("Allow", ",".join(methods + ("OPTIONS",)))])
        if self.command not in methods:
            raise HTTPError(405, "method %s not allowed" % self.command, [("Allow", ",".join(methods))])
        if emu.args.token and not path.startswith("/v1/status/"):
            if not token:
                raise HTTPError(403, "Permission denied", acl_headers)
            if token != emu.args.token:
                raise HTTPError(403, "ACL not found", acl_headers)
        if "filter" in query:
            raise HTTPError(400, "emulator: filter expressions are not implemented")
        dc = param(query, "dc")
        if dc and dc != emu.dc:
            raise HTTPError(500, "No path to datacenter")
        arg = path[len(prefix):]
        status, obj, headers, raw_body = getattr(self, name)(arg, query, body, gen)
        headers = acl_headers + headers
        if raw_body is not None:
            payload, ctype = raw_body
        elif obj is None:
            payload, ctype = b"", None
        else:
            payload, ctype = dumps(obj, flag(query, "pretty")), "application/json"
        self.raw(status, payload, ctype, headers, drop=drop)

    # blocking

    def blocking(self, query, gen, compute):
        """Consul's blockingQuery: compute() -> (index, payload) under the lock."""
        emu = self.emu
        try:
            min_index = int(query["index"][-1]) if "index" in query else 0
            if min_index < 0:
                raise ValueError
        except ValueError:
            raise HTTPError(400, "Invalid index")
        wait = DEFAULT_WAIT
        if "wait" in query:
            try:
                wait = parse_duration(query["wait"][-1])
            except ValueError:
                raise HTTPError(400, "Invalid wait time")
        if wait <= 0:
            wait = DEFAULT_WAIT
        wait = min(wait, MAX_WAIT)
        deadline = time.monotonic() + wait + random.uniform(0, wait / JITTER_FRACTION)
        with emu.cond:
            while True:
                if emu.generation != gen:
                    raise Aborted()
                index, payload = compute()
                index = max(index, 1)
                left = deadline - time.monotonic()
                if min_index == 0 or index > min_index or left <= 0:
                    return index, payload
                emu.cond.wait(left)

    @staticmethod
    def index_headers(index):
        return [("X-Consul-Effective-Consistency", "leader"), ("X-Consul-Index", str(index)),
                ("X-Consul-Knownleader", "true"), ("X-Consul-Lastcontact", "0")]

    # agent

    def agent_self(self, arg, query, body, gen):
        emu = self.emu
        with emu.cond:
            n = emu.nodes[emu.node]
            obj = {
                "Config": {"Datacenter": emu.dc, "PrimaryDatacenter": emu.dc, "NodeName": emu.node,
                           "NodeID": n["ID"], "Revision": "emulator", "Server": True,
                           "Version": emu.args.version, "BuildDate": "2024-01-01T00:00:00Z"},
                "DebugConfig": {}, "Coord": {"Vec": [0.0] * 8, "Error": 1.5, "Adjustment": 0.0, "Height": 1e-05},
                "Member": {"Name": emu.node, "Addr": n["Address"], "Port": 8301,
                           "Tags": {"dc": emu.dc, "id": n["ID"], "role": "consul", "port": "8300",
                                    "build": emu.args.version + ":emulator"}, "Status": 1,
                           "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2,
                           "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 4},
                "Meta": {"consul-network-segment": ""},
            }
        return 200, obj, [], None

    def agent_services(self, arg, query, body, gen):
        emu = self.emu
        with emu.cond:
            obj = {sid: dict(public_service(s), Datacenter=emu.dc)
                   for (n, sid), s in sorted(emu.services.items()) if n == emu.node}
        return 200, obj, [], None

    def agent_service(self, arg, query, body, gen):
        emu = self.emu
        with emu.cond:
            s = emu.services.get((emu.node, arg))
            if s is None:
                raise HTTPError(404, "unknown service ID: %s" % arg)
            obj = dict(public_service(s), Datacenter=emu.dc)
        return 200, obj, [("X-Consul-Contenthash", "%016x" % (hash(json.dumps(obj, sort_keys=True)) & (2**64 - 1)))], None

    def agent_checks(self, arg, query, body, gen):
        emu = self.emu
        with emu.cond:
            obj = {cid: public_check(c, False) for (n, cid), c in sorted(emu.checks.items())
                   if n == emu.node and cid != "serfHealth"}
        return 200, obj, [], None

    def service_register(self, arg, query, body, gen):
        emu = self.emu
        svc, checks = emu.parse_definition(body)
        with emu.cond:
            emu.register(emu.node, svc, checks, flag(query, "replace-existing-checks"))
        return 200, None, [], None

    def unknown_service(self, sid):
        return HTTPError(404, 'Unknown service ID "%s". Ensure that the service ID is passed, not the service name.' % sid)

    def service_deregister(self, arg, query, body, gen):
        emu = self.emu
        with emu.cond:
            if not emu.deregister(emu.node, arg):
                raise self.unknown_service(arg)
        return 200, None, [], None

    def enable_param(self, query):
        if "enable" not in query:
            raise HTTPError(400, "Missing value for enable")
        raw = query["enable"][-1]
        try:
            return go_bool(raw)
        except ValueError:
            raise HTTPError(400, "Invalid value for enable: %s" % json.dumps(raw))

    def service_maintenance(self, arg, query, body, gen):
        emu = self.emu
        if arg == "":
            raise HTTPError(400, "Missing service ID")
        enable = self.enable_param(query)
        with emu.cond:
            svc = emu.services.get((emu.node, arg))
            if svc is None:
                raise self.unknown_service(arg)
            emu.maintenance(emu.node, "_service_maintenance:" + arg, svc, enable, param(query, "reason"))
        return 200, None, [], None

    def node_maintenance(self, arg, query, body, gen):
        emu = self.emu
        enable = self.enable_param(query)
        with emu.cond:
            emu.maintenance(emu.node, "_node_maintenance", None, enable, param(query, "reason"))
        return 200, None, [], None

    def check_register(self, arg, query, body, gen):
        emu = self.emu
        raw = decode_body(body)
        c = canonical(raw, CHECK_KEYS, "structs.CheckDefinition")
        if not c.get("Name"):
            raise HTTPError(400, "Missing check name")
        c = emu.parse_check(c)
        if not c.get("CheckID"):
            c["CheckID"] = c["Name"]
        with emu.cond:
            svc = None
            if c.get("ServiceID"):
                svc = emu.services.get((emu.node, c["ServiceID"]))
                if svc is None:
                    raise HTTPError(400, 'ServiceID "%s" does not exist' % c["ServiceID"])
            prev = emu.checks.get((emu.node, c["CheckID"]))
            idx = emu.bump()
            chk = emu.new_check(emu.node, c, svc, idx)
            if prev is not None:
                chk["Status"], chk["Output"], chk["CreateIndex"] = prev["Status"], prev["Output"], prev["CreateIndex"]
            emu.checks[(emu.node, c["CheckID"])] = chk
            if svc:
                emu.touch(svc["Service"], idx)
            else:
                emu.touch_node(emu.node, idx)
            emu.changed()
        return 200, None, [], None

    def check_deregister(self, arg, query, body, gen):
        emu = self.emu
        with emu.cond:
            chk = emu.checks.pop((emu.node, arg), None)
            if chk is None or arg == "serfHealth":
                if chk is not None:
                    emu.checks[(emu.node, arg)] = chk
                raise HTTPError(404, 'Unknown check ID "%s". Ensure that the check ID is passed, not the check name.' % arg)
            idx = emu.bump()
            if chk["ServiceName"]:
                emu.touch(chk["ServiceName"], idx)
            else:
                emu.touch_node(emu.node, idx)
            emu.changed()
        return 200, None, [], None

    def check_update(self, arg, query, body, gen):
        emu = self.emu
        raw = decode_body(body)
        if not isinstance(raw, dict):
            raise HTTPError(400, "Request decode failed: json: cannot unmarshal %s into Go value of type "
                                 "agent.checkUpdate" % json_type(raw))
        upd = {norm_key(k): v for k, v in raw.items()}
        status, output = upd.get("status", ""), upd.get("output", "")
        if not isinstance(status, str) or not isinstance(output, str):
            raise HTTPError(400, "Request decode failed: json: cannot unmarshal into Go struct field "
                                 "checkUpdate of type string")
        if status not in STATUSES:
            raise HTTPError(400, "Invalid check status: '%s'" % status)
        with emu.cond:
            emu.update_ttl(arg, status, output)
        return 200, None, [], None

    def legacy_update(self, arg, query, status):
        with self.emu.cond:
            self.emu.update_ttl(arg, status, param(query, "note"))
        return 200, None, [], None

    def check_pass(self, arg, query, body, gen):
        return self.legacy_update(arg, query, "passing")

    def check_warn(self, arg, query, body, gen):
        return self.legacy_update(arg, query, "warning")

    def check_fail(self, arg, query, body, gen):
        return self.legacy_update(arg, query, "critical")

    # health and catalog

    def node_meta(self, query):
        out = []
        for nm in query.get("node-meta", []):
            k, sep, v = nm.partition(":")
            if not sep:
                raise HTTPError(400, "Invalid node-meta: %s" % nm)
            out.append((k, v))
        return out

    def health_service(self, name, query, body, gen):
        emu = self.emu
        tags, meta, passing = query.get("tag", []), self.node_meta(query), flag(query, "passing")
        index, entries = self.blocking(query, gen, lambda: (
            emu.service_index(name), emu.instances(name, tags, meta, passing)))
        return 200, entries, self.index_headers(index), None

    def catalog_service(self, name, query, body, gen):
        emu = self.emu
        tags, meta = query.get("tag", []), self.node_meta(query)

        def flat():
            out = []
            for e in emu.instances(name, tags, meta):
                n, s = e["Node"], e["Service"]
                out.append({
                    "ID": n["ID"], "Node": n["Node"], "Address": n["Address"], "Datacenter": n["Datacenter"],
                    "TaggedAddresses": n["TaggedAddresses"], "NodeMeta": n["Meta"], "ServiceKind": "",
                    "ServiceID": s["ID"], "ServiceName": s["Service"], "ServiceTags": s["Tags"],
                    "ServiceAddress": s["Address"], "ServiceTaggedAddresses": s.get("TaggedAddresses", {}),
                    "ServiceWeights": s["Weights"], "ServiceMeta": s["Meta"], "ServicePort": s["Port"],
                    "ServiceEnableTagOverride": s["EnableTagOverride"], "ServiceProxy": s["Proxy"],
                    "ServiceConnect": {}, "CreateIndex": s["CreateIndex"], "ModifyIndex": s["ModifyIndex"]})
            return emu.service_index(name), out
        index, out = self.blocking(query, gen, flat)
        return 200, out, self.index_headers(index), None

    def catalog_services(self, arg, query, body, gen):
        emu = self.emu

        def names():
            out = {}
            for s in emu.services.values():
                tags = out.setdefault(s["Service"], [])
                tags.extend(t for t in s["Tags"] if t not in tags)
            return emu.catalog_index, dict(sorted(out.items()))
        index, out = self.blocking(query, gen, names)
        return 200, out, self.index_headers(index), None

    # KV

    def kv(self, key, query, body, gen):
        emu = self.emu
        if self.command == "GET":
            return self.kv_get(key, query, gen)
        if "acquire" in query or "release" in query:
            raise HTTPError(400, "emulator: sessions (acquire/release) are not implemented")
        cas = None
        if "cas" in query:
            try:
                cas = int(query["cas"][-1])
                if cas < 0:
                    raise ValueError
            except ValueError:
                raise HTTPError(400, "Invalid cas index")
        if self.command == "PUT":
            if key == "":
                raise HTTPError(400, "Missing key name")
            if "\n" in key:
                raise HTTPError(400, "Invalid key name")
            flags = 0
            if "flags" in query:
                try:
                    flags = int(query["flags"][-1])
                    if not 0 <= flags < 2 ** 64:
                        raise ValueError
                except ValueError:
                    raise HTTPError(400, "Invalid flags")
            if len(body) > KV_MAX_VALUE:
                raise HTTPError(413, "Request body(%d bytes) too large, max size: %d bytes"
                                % (len(body), KV_MAX_VALUE))
            with emu.cond:
                old = emu.kv.get(key)
                if cas is not None and ((cas == 0 and old is not None) or
                                        (cas > 0 and (old is None or old["ModifyIndex"] != cas))):
                    return 200, False, [], None
                idx = emu.bump()
                emu.kv_index = idx
                emu.kv[key] = {"LockIndex": 0, "Key": key, "Flags": flags, "Value": body,
                               "CreateIndex": old["CreateIndex"] if old else idx, "ModifyIndex": idx}
                emu.tombstones.pop(key, None)
                emu.changed()
            return 200, True, [], None
        # DELETE
        if key == "" and not flag(query, "recurse"):
            raise HTTPError(400, "Missing key name")
        with emu.cond:
            if flag(query, "recurse"):
                doomed = [k for k in emu.kv if k.startswith(key)]
            else:
                old = emu.kv.get(key)
                if cas is not None and (old is None or old["ModifyIndex"] != cas):
                    return 200, old is None, [], None
                doomed = [key] if old is not None else []
            if doomed:
                idx = emu.bump()
                emu.kv_index = idx
                for k in doomed:
                    del emu.kv[k]
                    emu.tombstones[k] = idx
                emu.changed()
        return 200, True, [], None

    def kv_get(self, key, query, gen):
        emu = self.emu
        keys_only = flag(query, "keys")
        recurse = flag(query, "recurse") or keys_only
        sep = param(query, "separator")

        def lookup():
            if not recurse:
                e = emu.kv.get(key)
                return (e["ModifyIndex"] if e else emu.kv_table_index()), ([e] if e else [])
            entries = [emu.kv[k] for k in sorted(emu.kv) if k.startswith(key)]
            if key == "":
                idx = emu.kv_table_index()
            else:
                idx = max([e["ModifyIndex"] for e in entries] +
                          [i for k, i in emu.tombstones.items() if k.startswith(key)] + [0])
                idx = idx or emu.kv_table_index()
            return idx, entries
        index, entries = self.blocking(query, gen, lookup)
        headers = self.index_headers(index)
        if not entries:
            return 404, None, headers, (b"", None)
        if keys_only:
            out = []
            for e in entries:
                k = e["Key"]
                rest = k[len(key):]
                if sep and sep in rest:
                    k = key + rest[:rest.index(sep) + len(sep)]
                if not out or out[-1] != k:
                    out.append(k)
            return 200, out, headers, None
        if flag(query, "raw"):
            return 200, None, headers, (entries[0]["Value"], "application/octet-stream")
        return 200, [{"LockIndex": e["LockIndex"], "Key": e["Key"], "Flags": e["Flags"],
                      "Value": base64.b64encode(e["Value"]).decode() if e["Value"] else None,
                      "CreateIndex": e["CreateIndex"], "ModifyIndex": e["ModifyIndex"]}
                     for e in entries], headers, None

    # status

    def status_leader(self, arg, query, body, gen):
        return 200, "%s:8300" % self.emu.nodes[self.emu.node]["Address"], [], None

    def status_peers(self, arg, query, body, gen):
        return 200, ["%s:8300" % self.emu.nodes[self.emu.node]["Address"]], [], None


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description="Consul agent HTTP API emulator for tests")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8500)
    p.add_argument("--admin-port", type=int, default=0)
    p.add_argument("--node", default="emulator")
    p.add_argument("--node-address", default="127.0.0.1")
    p.add_argument("--datacenter", default="dc1")
    p.add_argument("--version", default="1.17.0", help="agent version reported by /v1/agent/self")
    p.add_argument("--token", default="", help="enforce this ACL token (default: ACLs off)")
    p.add_argument("--deregister-min", default="1m", help="floor of DeregisterCriticalServiceAfter (Consul: 1m)")
    p.add_argument("--check-update-interval", default="5m", help="deferral of output-only check syncs (Consul: 5m)")
    p.add_argument("--ignore-stdin", action="store_true", help="do not exit when stdin reaches EOF")
    args = p.parse_args()
    try:
        args.deregister_min = parse_duration(args.deregister_min)
        args.check_update_interval = parse_duration(args.check_update_interval)
    except ValueError as e:
        p.error(str(e))

    emu = Emulator(args)
    try:
        emu.main = Listener(emu, args.bind, args.port, False)
        admin = Listener(emu, args.bind, args.admin_port, True)
    except OSError as e:
        sys.stderr.write("emulator: cannot listen on %s: %s\n" % (args.bind, e))
        sys.exit(1)
    threading.Thread(target=emu.scheduler, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if not args.ignore_stdin:
        def watch_stdin():
            while sys.stdin.buffer.read(65536):
                pass
            os._exit(0)
        threading.Thread(target=watch_stdin, daemon=True).start()
    sys.stdout.write("admin %s\nlistening %s\n" % (admin.address(), emu.main.address()))
    sys.stdout.flush()
    log("agent %s (dc %s) listening on %s, admin on %s" % (args.node, args.datacenter, emu.main.address(),
                                                         admin.address()))
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
