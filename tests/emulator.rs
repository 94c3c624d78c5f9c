//! The test doubles themselves: the Consul emulator's semantics pinned with
//! a raw HTTP client (so end-to-end tests of tug can trust it), and a
//! smoke test of the etcd harness. Conditions are awaited with the
//! emulator's blocking wait or etcd watches, never with sleeps.

mod common;

use common::consul::Emulator;
use common::etcd::Etcd;
use common::http;
use common::json::{self, at, str_at, u64_at};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn register(emu: &Emulator, body: &str) {
    let r = emu.api("PUT", "/v1/agent/service/register", body);
    assert_eq!(r.status, 200, "{r:?}");
}

fn web(emu: &Emulator, id: &str, ttl: &str, status: Option<&str>) {
    let status = status
        .map(|s| format!(",\"Status\":\"{s}\""))
        .unwrap_or_default();
    register(
        emu,
        &format!(
            "{{\"ID\":\"{id}\",\"Name\":\"web\",\"Tags\":[\"v1\",\"blue\"],\"Address\":\"10.0.0.5\",\"Port\":8080,\
             \"Meta\":{{\"container\":\"3f2a\"}},\"Check\":{{\"CheckID\":\"service:{id}\",\"TTL\":\"{ttl}\"{status}}}}}"
        ),
    );
}

fn index_of(r: &http::Response) -> u64 {
    r.header("X-Consul-Index")
        .unwrap_or_else(|| panic!("no X-Consul-Index: {r:?}"))
        .parse()
        .unwrap()
}

#[test]
fn ttl_check_goes_critical_when_the_ttl_lapses() {
    let emu = Emulator::start();
    let t0 = Instant::now();
    web(&emu, "web-1", "400ms", Some("passing"));
    emu.expect("check=service:web-1&status=passing&timeout=1s");
    let c = emu.expect("check=service:web-1&status=critical&timeout=5s");
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(str_at(&c, &["Output"]), Some("TTL expired"));

    // An update resets the clock; the expiry output carries the last one.
    let r = emu.api(
        "PUT",
        "/v1/agent/check/update/service:web-1",
        r#"{"Status":"passing","Output":"all good"}"#,
    );
    assert_eq!(r.status, 200, "{r:?}");
    emu.expect("check=service:web-1&status=passing&timeout=1s");
    let c = emu.expect("check=service:web-1&status=critical&timeout=5s");
    assert_eq!(
        str_at(&c, &["Output"]),
        Some("TTL expired (last output before timeout follows): all good")
    );
}

#[test]
fn registration_defaults_and_snapshot() {
    let emu = Emulator::start();
    // Status omitted: a new check starts critical; CheckID defaults.
    register(&emu, r#"{"name":"api","port":9000,"check":{"ttl":"30s"}}"#);
    let c = emu.expect("check=service:api&status=critical&timeout=1s");
    assert_eq!(str_at(&c, &["Name"]), Some("Service 'api' check"));
    let svcs = emu.api("GET", "/v1/agent/services", "").json();
    assert_eq!(str_at(&svcs, &["api", "Service"]), Some("api"));
    assert_eq!(u64_at(&svcs, &["api", "Port"]), Some(9000));

    // Several checks: service:<ID>:N.
    register(
        &emu,
        r#"{"ID":"db-1","Name":"db","Checks":[{"TTL":"30s","Status":"passing"},{"TTL":"30s","Status":"warning"}]}"#,
    );
    emu.expect("check=service:db-1:1&status=passing&timeout=1s");
    emu.expect("check=service:db-1:2&status=warning&timeout=1s");

    // Re-registering keeps an existing check's status (Consul's snapshot),
    // whatever Status the definition gives, and does not move the index.
    let r = emu.api("PUT", "/v1/agent/check/fail/service:api?note=down", "");
    assert_eq!(r.status, 200, "{r:?}");
    let before = emu.index();
    register(
        &emu,
        r#"{"Name":"api","Port":9000,"Check":{"TTL":"30s","Status":"passing"}}"#,
    );
    let c = emu.expect("check=service:api&status=critical&timeout=1s");
    assert_eq!(str_at(&c, &["Output"]), Some("down"));
    assert_eq!(emu.index(), before, "an identical registration is no write");

    // replace-existing-checks drops checks missing from the definition.
    register(
        &emu,
        r#"{"ID":"db-1","Name":"db","Check":{"CheckID":"service:db-1:1","TTL":"30s"}}"#,
    );
    emu.expect("check=service:db-1:2&present=1&timeout=1s");
    let r = emu.api(
        "PUT",
        "/v1/agent/service/register?replace-existing-checks",
        r#"{"ID":"db-1","Name":"db","Check":{"CheckID":"service:db-1:1","TTL":"30s"}}"#,
    );
    assert_eq!(r.status, 200, "{r:?}");
    emu.expect("check=service:db-1:2&present=0&timeout=1s");

    // Legacy pass/warn and the update body.
    for (path, status) in [("pass", "passing"), ("warn", "warning")] {
        let r = emu.api("PUT", &format!("/v1/agent/check/{path}/service:api"), "");
        assert_eq!(r.status, 200, "{r:?}");
        emu.expect(&format!("check=service:api&status={status}&timeout=1s"));
    }
    let r = emu.api(
        "PUT",
        "/v1/agent/check/update/service:api",
        r#"{"Status":"sick"}"#,
    );
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Invalid check status: 'sick'")
    );
}

#[test]
fn errors_are_text_with_the_right_status() {
    let emu = Emulator::start();
    let cases = [
        (
            "PUT",
            "/v1/agent/service/register",
            r#"{"ID":"x"}"#,
            400,
            "Missing service name",
        ),
        (
            "PUT",
            "/v1/agent/service/register",
            r#"{"Name":"x","Check":{"TTL":"15 s"}}"#,
            400,
            "Request decode failed: time: unknown unit \" s\" in duration \"15 s\"",
        ),
        (
            "PUT",
            "/v1/agent/service/register",
            r#"{"Name":"x","Check":{"TTL":"15"}}"#,
            400,
            "Request decode failed: time: missing unit in duration \"15\"",
        ),
        (
            "PUT",
            "/v1/agent/service/register",
            "",
            400,
            "Request decode failed: EOF",
        ),
        (
            "GET",
            "/v1/agent/service/register",
            "",
            405,
            "method GET not allowed",
        ),
        (
            "PUT",
            "/v1/health/service/web",
            "",
            405,
            "method PUT not allowed",
        ),
        (
            "PUT",
            "/v1/agent/check/update/nope",
            r#"{"Status":"passing"}"#,
            404,
            "Unknown check ID \"nope\". Ensure that the check ID is passed, not the check name.",
        ),
        (
            "PUT",
            "/v1/agent/check/pass/nope",
            "",
            404,
            "Unknown check ID \"nope\"",
        ),
        (
            "PUT",
            "/v1/agent/service/deregister/nope",
            "",
            404,
            "Unknown service ID \"nope\". Ensure that the service ID is passed, not the service name.",
        ),
        (
            "PUT",
            "/v1/agent/service/maintenance/nope?enable=true",
            "",
            404,
            "Unknown service ID",
        ),
        (
            "GET",
            "/v1/agent/bogus",
            "",
            404,
            "Invalid URL path: not a recognized HTTP API endpoint",
        ),
        (
            "GET",
            "/v1/health/service/web?index=x",
            "",
            400,
            "Invalid index",
        ),
        (
            "GET",
            "/v1/health/service/web?index=1&wait=soon",
            "",
            400,
            "Invalid wait time",
        ),
        (
            "GET",
            "/v1/health/service/web?dc=elsewhere",
            "",
            500,
            "No path to datacenter",
        ),
    ];
    for (method, path, body, status, text) in cases {
        let r = emu.api(method, path, body);
        assert_eq!(r.status, status, "{method} {path}: {r:?}");
        assert!(r.text().starts_with(text), "{method} {path}: {r:?}");
        assert!(
            r.header("Content-Type")
                .unwrap_or("")
                .starts_with("text/plain"),
            "{method} {path}: {r:?}"
        );
    }
    assert_eq!(
        emu.api("GET", "/v1/agent/service/register", "")
            .header("Allow"),
        Some("PUT")
    );

    // Go answers a request without Host with 400.
    let mut s = TcpStream::connect(emu.addr()).unwrap();
    s.write_all(b"GET /v1/agent/self HTTP/1.1\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
}

#[test]
fn agent_self_services_checks_and_leader() {
    let emu = Emulator::start();
    web(&emu, "web-1", "30s", Some("passing"));
    let me = emu.api("GET", "/v1/agent/self", "").json();
    assert_eq!(str_at(&me, &["Config", "Datacenter"]), Some("dc1"));
    assert_eq!(str_at(&me, &["Config", "NodeName"]), Some("emulator"));
    assert!(str_at(&me, &["Member", "Name"]).is_some());
    let checks = emu.api("GET", "/v1/agent/checks", "").json();
    assert_eq!(
        str_at(&checks, &["service:web-1", "ServiceID"]),
        Some("web-1")
    );
    assert_eq!(
        str_at(&checks, &["service:web-1", "Status"]),
        Some("passing")
    );
    assert!(
        at(&checks, &["serfHealth"]).is_none(),
        "node checks are not the agent's"
    );
    let leader = emu.api("GET", "/v1/status/leader", "");
    assert_eq!(leader.text(), "\"127.0.0.1:8300\"");
}

#[test]
fn health_entries_filters_and_catalog_shape() {
    let emu = Emulator::start();
    web(&emu, "web-1", "30s", Some("passing"));
    web(&emu, "web-2", "30s", None);
    register(
        &emu,
        r#"{"ID":"web-3","Name":"web","Tags":["v2"],"Port":8082,"Check":{"TTL":"30s","Status":"passing"}}"#,
    );

    let r = emu.api("GET", "/v1/health/service/web", "");
    assert_eq!(r.status, 200);
    let all = r.json();
    assert_eq!(json::items(&all).len(), 3);
    let e = &json::items(&all)[0];
    assert_eq!(str_at(e, &["Node", "Node"]), Some("emulator"));
    assert_eq!(str_at(e, &["Node", "Address"]), Some("127.0.0.1"));
    assert_eq!(str_at(e, &["Service", "ID"]), Some("web-1"));
    assert_eq!(str_at(e, &["Service", "Service"]), Some("web"));
    assert_eq!(str_at(e, &["Service", "Address"]), Some("10.0.0.5"));
    assert_eq!(u64_at(e, &["Service", "Port"]), Some(8080));
    assert_eq!(str_at(e, &["Service", "Meta", "container"]), Some("3f2a"));
    let check_ids: Vec<&str> = json::items(at(e, &["Checks"]).unwrap())
        .iter()
        .map(|c| str_at(c, &["CheckID"]).unwrap())
        .collect();
    assert_eq!(check_ids, ["serfHealth", "service:web-1"]);

    let passing = emu.api("GET", "/v1/health/service/web?passing", "").json();
    let ids: Vec<&str> = json::items(&passing)
        .iter()
        .map(|e| str_at(e, &["Service", "ID"]).unwrap())
        .collect();
    assert_eq!(ids, ["web-1", "web-3"]);
    let tagged = emu
        .api(
            "GET",
            "/v1/health/service/web?tag=v1&tag=blue&passing=true",
            "",
        )
        .json();
    assert_eq!(json::items(&tagged).len(), 1);
    let none = emu.api("GET", "/v1/health/service/web?tag=v1&tag=v2", "");
    assert_eq!((none.status, none.text().as_str()), (200, "[]"));
    index_of(&none);

    // An unknown service: an empty array, still with an index.
    let r = emu.api("GET", "/v1/health/service/nothing", "");
    assert_eq!((r.status, r.text().as_str()), (200, "[]"));
    assert!(index_of(&r) >= 1);

    let cat = emu.api("GET", "/v1/catalog/service/web?tag=v2", "").json();
    let c = &json::items(&cat)[0];
    assert_eq!(str_at(c, &["ServiceID"]), Some("web-3"));
    assert_eq!(str_at(c, &["ServiceAddress"]), Some(""));
    assert_eq!(str_at(c, &["Address"]), Some("127.0.0.1"));
    assert_eq!(u64_at(c, &["ServicePort"]), Some(8082));

    // Maintenance: a critical _service_maintenance:<id> check.
    let r = emu.api(
        "PUT",
        "/v1/agent/service/maintenance/web-1?enable=true&reason=deploy",
        "",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let c = emu.expect("check=_service_maintenance:web-1&status=critical&timeout=1s");
    assert_eq!(str_at(&c, &["Notes"]), Some("deploy"));
    emu.expect("name=web&passing=1&instances=1&timeout=1s");
    let r = emu.api(
        "PUT",
        "/v1/agent/service/maintenance/web-1?enable=false",
        "",
    );
    assert_eq!(r.status, 200, "{r:?}");
    emu.expect("check=_service_maintenance:web-1&present=0&timeout=1s");
    let r = emu.api("PUT", "/v1/agent/service/maintenance/web-1", "");
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Missing value for enable")
    );

    // A node check failing takes every instance on the node out.
    emu.set_check("serfHealth", "critical");
    emu.expect("name=web&passing=1&instances=0&timeout=1s");
}

#[test]
fn blocking_query_returns_on_change_and_holds_until_wait() {
    let emu = Emulator::start();
    web(&emu, "web-1", "30s", Some("passing"));
    let first = emu.api("GET", "/v1/health/service/web", "");
    let idx = index_of(&first);

    // Nothing changes: held for `wait` (plus at most wait/16 of jitter).
    let t0 = Instant::now();
    let r = emu.api(
        "GET",
        &format!("/v1/health/service/web?index={idx}&wait=600ms"),
        "",
    );
    let took = t0.elapsed();
    assert_eq!(index_of(&r), idx);
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < Duration::from_millis(600 + 38 + 700), "{took:?}");

    // A change: the held query returns at once with a higher index.
    let seq = emu.request_seq();
    let addr = emu.addr().to_string();
    let held = std::thread::spawn(move || {
        let r = http::call(
            &addr,
            "GET",
            &format!("/v1/health/service/web?index={idx}&wait=30s"),
            "",
        );
        (r, Instant::now())
    });
    emu.expect(&format!(
        "request=/v1/health/service/web&since={seq}&timeout=5s"
    ));
    let r = emu.api("PUT", "/v1/agent/check/fail/service:web-1", "");
    assert_eq!(r.status, 200);
    let changed_at = Instant::now();
    let (r, returned_at) = held.join().unwrap();
    let lag = returned_at.saturating_duration_since(changed_at);
    assert!(
        lag < Duration::from_millis(300),
        "returned {lag:?} after the change"
    );
    assert!(index_of(&r) > idx);
    let status = str_at(&r.json(), &["0", "Checks", "1", "Status"]).map(str::to_string);
    assert_eq!(status.as_deref(), Some("critical"));

    // A heartbeat that changes nothing is not a change.
    let idx = index_of(&emu.api("GET", "/v1/health/service/web", ""));
    let r = emu.api("PUT", "/v1/agent/check/fail/service:web-1", "");
    assert_eq!(r.status, 200);
    assert_eq!(index_of(&emu.api("GET", "/v1/health/service/web", "")), idx);

    // An index from the future is held until wait, as Consul does.
    let t0 = Instant::now();
    let r = emu.api(
        "GET",
        &format!("/v1/health/service/web?index={}&wait=300ms", idx + 100),
        "",
    );
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(index_of(&r), idx);
}

#[test]
fn output_only_updates_reach_the_catalog_later() {
    let emu = Emulator::start();
    web(&emu, "web-1", "30s", Some("passing"));
    let idx = index_of(&emu.api("GET", "/v1/health/service/web", ""));
    let r = emu.api(
        "PUT",
        "/v1/agent/check/update/service:web-1",
        r#"{"Status":"passing","Output":"new"}"#,
    );
    assert_eq!(r.status, 200);
    let agent = emu.api("GET", "/v1/agent/checks", "").json();
    assert_eq!(str_at(&agent, &["service:web-1", "Output"]), Some("new"));
    let h = emu.api("GET", "/v1/health/service/web", "");
    assert_eq!(index_of(&h), idx);
    assert_eq!(str_at(&h.json(), &["0", "Checks", "1", "Output"]), Some(""));

    let emu = Emulator::start_with(&["--check-update-interval", "0s"]);
    web(&emu, "web-1", "30s", Some("passing"));
    let idx = index_of(&emu.api("GET", "/v1/health/service/web", ""));
    emu.api(
        "PUT",
        "/v1/agent/check/update/service:web-1",
        r#"{"Status":"passing","Output":"new"}"#,
    );
    let h = emu.api("GET", "/v1/health/service/web", "");
    assert!(index_of(&h) > idx);
    assert_eq!(
        str_at(&h.json(), &["0", "Checks", "1", "Output"]),
        Some("new")
    );
}

#[test]
fn kv_semantics() {
    let emu = Emulator::start();
    let r = emu.api("GET", "/v1/kv/config/app", "");
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    let missing_idx = index_of(&r);

    let r = emu.api("PUT", "/v1/kv/config/app?flags=42", "hello");
    assert_eq!((r.status, r.text().as_str()), (200, "true"));
    let r = emu.api("GET", "/v1/kv/config/app", "");
    let e = r.json();
    let e = &json::items(&e)[0];
    assert_eq!(str_at(e, &["Key"]), Some("config/app"));
    assert_eq!(str_at(e, &["Value"]), Some("aGVsbG8="));
    assert_eq!(u64_at(e, &["Flags"]), Some(42));
    let modify = u64_at(e, &["ModifyIndex"]).unwrap();
    assert!(modify > missing_idx);
    assert_eq!(index_of(&r), modify);
    assert_eq!(emu.kv_get("config/app").as_deref(), Some("hello"));

    // cas: 0 creates only; N must match ModifyIndex.
    assert_eq!(
        emu.api("PUT", "/v1/kv/config/app?cas=0", "x").text(),
        "false"
    );
    assert_eq!(
        emu.api("PUT", "/v1/kv/config/app?cas=1", "x").text(),
        "false"
    );
    assert_eq!(
        emu.api("PUT", &format!("/v1/kv/config/app?cas={modify}"), "v2")
            .text(),
        "true"
    );
    emu.kv_put("config/db/host", "h");
    emu.kv_put("config/db/port", "5432");
    emu.kv_put("config/empty", "");

    let all = emu.api("GET", "/v1/kv/config/?recurse", "").json();
    assert_eq!(json::items(&all).len(), 4);
    let empty = json::items(&all)[3];
    assert!(
        json::is_null(at(empty, &["Value"]).unwrap()),
        "empty value is null"
    );
    let keys = emu.api("GET", "/v1/kv/config/?keys&separator=/", "").json();
    let keys: Vec<&str> = json::items(&keys)
        .iter()
        .map(|k| tug::json::as_str(k).unwrap())
        .collect();
    assert_eq!(keys, ["config/app", "config/db/", "config/empty"]);

    // Blocking on a prefix: returns when something under it changes.
    let r = emu.api("GET", "/v1/kv/config/db/?recurse", "");
    let idx = index_of(&r);
    let seq = emu.request_seq();
    let addr = emu.addr().to_string();
    let held = std::thread::spawn(move || {
        http::call(
            &addr,
            "GET",
            &format!("/v1/kv/config/db/?recurse&index={idx}&wait=30s"),
            "",
        )
    });
    emu.expect(&format!("request=/v1/kv/config/db/&since={seq}&timeout=5s"));
    emu.kv_put("config/other", "not under the prefix");
    emu.kv_put("config/db/port", "5433");
    let r = held.join().unwrap();
    assert!(index_of(&r) > idx);
    assert_eq!(
        str_at(&r.json(), &["1", "Value"])
            .map(common::base64::decode_str)
            .as_deref(),
        Some("5433")
    );

    // Deleting keeps the index from going back (tombstones) until reaped.
    let before = index_of(&emu.api("GET", "/v1/kv/config/db/?recurse", ""));
    let r = emu.api("DELETE", "/v1/kv/config/db/?recurse", "");
    assert_eq!(r.text(), "true");
    let r = emu.api("GET", "/v1/kv/config/db/?recurse", "");
    assert_eq!(r.status, 404);
    assert!(index_of(&r) > before);
    emu.reap_tombstones();
    assert!(index_of(&emu.api("GET", "/v1/kv/config/db/?recurse", "")) >= 1);
}

#[test]
fn restart_forgets_registrations_unless_the_data_dir_is_kept() {
    let emu = Emulator::start();
    web(&emu, "web-1", "30s", Some("passing"));
    emu.register_other(
        r#"{"ID":"db-1","Name":"db","Port":5432,"Check":{"TTL":"1h","Status":"passing"}}"#,
    );
    let node_id = str_at(&emu.state(), &["node_id"]).unwrap().to_string();

    emu.restart(true);
    emu.expect("service=web-1&present=1&timeout=1s");
    emu.expect("check=service:web-1&status=passing&timeout=1s");

    let idx = emu.index();
    emu.restart(false);
    emu.expect("service=web-1&present=0&timeout=1s");
    emu.expect("check=service:web-1&present=0&timeout=1s");
    let r = emu.api(
        "PUT",
        "/v1/agent/check/update/service:web-1",
        r#"{"Status":"passing"}"#,
    );
    assert_eq!(r.status, 404);
    let st = emu.state();
    assert!(
        u64_at(&st, &["index"]).unwrap() > idx,
        "the index stays monotonic"
    );
    assert_ne!(
        str_at(&st, &["node_id"]),
        Some(node_id.as_str()),
        "a new NodeID"
    );
    // Other agents' services are not this agent's to forget.
    emu.expect("name=db&passing=1&instances=1&timeout=1s");

    // A -dev agent restarting: the index goes backwards, KV is gone.
    emu.kv_put("k", "v");
    let idx = emu.index();
    emu.restart_reset();
    assert!(emu.index() < idx);
    assert_eq!(emu.kv_get("k"), None);
}

/// A blocking query held by the emulator dies when `agent_goes` runs.
fn held_query_dies_when(emu: &Emulator, agent_goes: impl FnOnce()) {
    let idx = index_of(&emu.api("GET", "/v1/health/service/web", ""));
    let held = held_query(emu, &format!("/v1/health/service/web?index={idx}&wait=30s"));
    agent_goes();
    let r = held.join().unwrap();
    assert!(r.is_err(), "a held query must die with the agent: {r:?}");
}

#[test]
fn restart_drops_open_connections() {
    let emu = Emulator::start();
    let t0 = Instant::now();
    held_query_dies_when(&emu, || emu.restart(false));
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[test]
fn fault_refuse_really_refuses_connections() {
    let emu = Emulator::start();
    // Open connections die with the agent too.
    held_query_dies_when(&emu, || emu.fault("refuse"));
    let e = TcpStream::connect(emu.addr()).expect_err("connect must be refused");
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    emu.clear_fault();
    assert_eq!(emu.api("GET", "/v1/status/leader", "").status, 200);

    // `for` clears it by itself, on the same port.
    emu.fault_with(r#"{"mode":"refuse","for":"300ms"}"#);
    let t0 = Instant::now();
    assert!(TcpStream::connect(emu.addr()).is_err());
    emu.expect("fault=none&timeout=5s");
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(emu.api("GET", "/v1/status/leader", "").status, 200);
}

/// A request sent on a thread, returned once the emulator has received it.
fn held_query(
    emu: &Emulator,
    path: &str,
) -> std::thread::JoinHandle<std::io::Result<http::Response>> {
    let seq = emu.request_seq();
    let (addr, p) = (emu.addr().to_string(), path.to_string());
    let t = std::thread::spawn(move || {
        http::request(&addr, "GET", &p, &[], b"", Duration::from_secs(20))
    });
    let prefix = path.split('?').next().unwrap();
    emu.expect(&format!("request={prefix}&since={seq}&timeout=5s"));
    t
}

#[test]
fn stalled_requests_are_answered_when_the_stall_ends() {
    let emu = Emulator::start();
    emu.fault("stall");
    let held = held_query(&emu, "/v1/status/leader");
    assert!(emu.wait("fault=stall&hold=200ms&timeout=1s"));
    emu.clear_fault();
    let r = held.join().unwrap().expect("answered after the stall");
    assert_eq!(r.status, 200);
}

#[test]
fn fault_stall_500_malformed_and_drop_mid_body() {
    let emu = Emulator::start();
    web(&emu, "web-1", "30s", Some("passing"));
    let short = Duration::from_millis(300);

    emu.fault("stall");
    let e = emu
        .try_api("GET", "/v1/health/service/web", "", short)
        .expect_err("a stalled request has no answer");
    assert!(
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{e}"
    );
    emu.clear_fault();
    assert_eq!(emu.api("GET", "/v1/health/service/web", "").status, 200);

    emu.fault("500");
    let r = emu.api("PUT", "/v1/agent/check/fail/service:web-1", "");
    assert_eq!((r.status, r.text().as_str()), (500, "No cluster leader"));
    emu.expect("check=service:web-1&status=passing&timeout=1s"); // not applied

    emu.fault("malformed");
    let r = emu.api("GET", "/v1/health/service/web", "");
    assert_eq!(r.status, 200);
    assert!(tug::json::parse(&r.body).is_err(), "{r:?}");

    emu.fault("drop_mid_body");
    let e = emu
        .try_api("GET", "/v1/health/service/web", "", Duration::from_secs(5))
        .expect_err("the body is cut");
    assert_eq!(e.kind(), ErrorKind::UnexpectedEof, "{e}");

    emu.clear_fault();
    assert_eq!(emu.api("GET", "/v1/health/service/web", "").status, 200);
}

#[test]
fn fault_count_and_paths() {
    let emu = Emulator::start();
    emu.fault_with(r#"{"mode":"500","paths":["/v1/kv/"],"count":2}"#);
    assert_eq!(emu.api("GET", "/v1/status/leader", "").status, 200);
    assert_eq!(emu.api("GET", "/v1/kv/a", "").status, 500);
    assert_eq!(emu.api("GET", "/v1/kv/a", "").status, 500);
    assert_eq!(emu.api("GET", "/v1/kv/a", "").status, 404);
    let st = emu.state();
    assert_eq!(str_at(&st, &["fault", "mode"]), Some("none"));
    let faulted = json::items(at(&st, &["requests"]).unwrap())
        .iter()
        .filter(|r| str_at(r, &["fault"]) == Some("500"))
        .count();
    assert_eq!(faulted, 2);
}

#[test]
fn deregister_critical_service_after() {
    let emu = Emulator::start_with(&["--deregister-min", "0s"]);
    let t0 = Instant::now();
    register(
        &emu,
        r#"{"ID":"w","Name":"w","Check":{"TTL":"200ms","Status":"passing","DeregisterCriticalServiceAfter":"300ms"}}"#,
    );
    emu.expect("check=service:w&status=critical&timeout=2s");
    emu.expect("service=w&present=0&timeout=3s");
    assert!(
        t0.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );

    // With Consul's floor (1m) it is still there after its own timeout.
    let emu = Emulator::start();
    register(
        &emu,
        r#"{"ID":"w","Name":"w","Check":{"TTL":"100ms","DeregisterCriticalServiceAfter":"100ms"}}"#,
    );
    assert!(emu.wait("service=w&present=1&hold=500ms&timeout=1s"));
}

#[test]
fn acl_token_is_enforced_when_configured() {
    let emu = Emulator::start_with(&["--token", "s3cret"]);
    let r = emu.api("GET", "/v1/agent/services", "");
    assert_eq!((r.status, r.text().as_str()), (403, "Permission denied"));
    let with = |header: &str, value: &str| {
        http::request(
            emu.addr(),
            "GET",
            "/v1/agent/services",
            &[(header, value)],
            b"",
            http::TIMEOUT,
        )
        .unwrap()
    };
    let r = with("X-Consul-Token", "wrong");
    assert_eq!((r.status, r.text().as_str()), (403, "ACL not found"));
    assert_eq!(with("X-Consul-Token", "s3cret").status, 200);
    assert_eq!(with("Authorization", "Bearer s3cret").status, 200);
    assert_eq!(emu.api("GET", "/v1/status/leader", "").status, 200);
    let st = emu.state();
    let last = json::items(at(&st, &["requests"]).unwrap())
        .into_iter()
        .nth(2)
        .unwrap();
    assert_eq!(str_at(last, &["token"]), Some("s3cret"));
}

#[test]
fn large_bodies_are_chunked() {
    let emu = Emulator::start();
    for i in 0..8 {
        web(&emu, &format!("web-{i}"), "30s", Some("passing"));
    }
    let r = emu.api("GET", "/v1/health/service/web", "");
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert!(r.body.len() > 4096);
    assert_eq!(json::items(&r.json()).len(), 8);
}

#[test]
fn wait_helper_counts_requests_and_holds() {
    let emu = Emulator::start();
    let seq = emu.request_seq();
    assert!(!emu.wait(&format!("request=/v1/kv/&since={seq}&timeout=200ms")));
    emu.kv_put("a", "1");
    emu.kv_put("b", "2");
    assert!(emu.wait(&format!(
        "request=/v1/kv/&method=PUT&since={seq}&count=2&timeout=1s"
    )));
    assert!(emu.wait(&format!(
        "request=/v1/kv/&since={seq}&body=2&count=1&timeout=1s"
    )));
    // "At most two in the next 300 ms": held, then broken by a third.
    let q = format!("request=/v1/kv/&since={seq}&max=2&hold=300ms&timeout=1s");
    assert_eq!(emu.wait_value(&q).0, 200);
    emu.kv_put("c", "3");
    assert_eq!(emu.wait_value(&q).0, 408);
    assert!(emu.wait("kv=c&value=3&timeout=1s"));
    assert!(emu.wait("kv=zzz&present=0&timeout=1s"));
}

#[test]
fn exits_when_stdin_closes() {
    let mut emu = Emulator::start();
    emu.close_stdin();
    let status = common::wait_timeout(emu.child(), Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
}

#[test]
fn etcd_harness_smoke() {
    let Some(mut etcd) = Etcd::start() else {
        return;
    };
    assert!(etcd.endpoint().starts_with("http://127.0.0.1:"));
    etcd.put("/services/web/a", "A");
    etcd.put("/services/web/b", "B");
    etcd.put("/services/webx", "not under web/");
    assert_eq!(etcd.get("/services/web/a").as_deref(), Some("A"));
    assert_eq!(etcd.get("/nothing"), None);
    assert_eq!(
        etcd.get_prefix("/services/web/"),
        [
            ("/services/web/a".to_string(), "A".to_string()),
            ("/services/web/b".into(), "B".into())
        ]
    );
    assert_eq!(etcd.delete("/services/web/b"), 1);

    // Leases: the TTL counts down; an expired lease takes its key along
    // (seen through a watch, not by polling).
    etcd.put_with_lease("/services/web/leased", "L", 2);
    let ttl = etcd.lease_ttl("/services/web/leased").unwrap();
    assert!((1..=2).contains(&ttl), "{ttl}");
    assert_eq!(etcd.lease_ttl("/services/web/a"), None);
    assert!(etcd.wait_key("/services/web/leased", None, Duration::from_secs(10)));

    // wait_key gives up at its deadline.
    let t0 = Instant::now();
    assert!(!etcd.wait_key("/services/web/a", Some("other"), Duration::from_millis(300)));
    assert!(t0.elapsed() >= Duration::from_millis(300));

    // A partition: requests hang while paused, work again after.
    etcd.pause();
    let r = http::request(
        &etcd.addr(),
        "POST",
        "/v3/kv/range",
        &[],
        b"{\"key\":\"YQ==\"}",
        Duration::from_millis(300),
    );
    assert!(r.is_err(), "a paused etcd answered: {r:?}");
    etcd.resume();
    assert_eq!(etcd.get("/services/web/a").as_deref(), Some("A"));

    let rev = etcd.revision();
    etcd.restart();
    assert_eq!(
        etcd.get("/services/web/a").as_deref(),
        Some("A"),
        "restart keeps data"
    );
    assert!(etcd.revision() >= rev);

    etcd.kill_and_wipe();
    assert_eq!(etcd.get("/services/web/a"), None, "wiped");
    etcd.put("/x", "y");
    assert_eq!(etcd.get("/x").as_deref(), Some("y"));
    etcd.stop();
    assert!(etcd.call("/v3/kv/range", "{}").is_err());
}
