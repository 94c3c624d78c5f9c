//! Discovery driven by a real EventLoop and HTTP client: against a real
//! etcd (started on free loopback ports in a temp dir, skipped with the
//! reason when /usr/bin/etcd is missing, except in CI), and against a
//! Consul address nobody listens on.

use super::*;
use crate::event_loop::Event;
use crate::net::http::ResponseParser;
use crate::sys::signal::SigSet;
use alloc::string::ToString;
use alloc::vec;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BASE: u64 = 1 << 56;
/// A timer key outside Discovery's range: bounds each wait.
const WAKE: u64 = 7;
const ETCD: &str = "/usr/bin/etcd";

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// One blocking request from a second client: (status, body).
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let mut p = ResponseParser::new(1 << 20);
    if !p.feed(&raw).unwrap() {
        p.eof().unwrap();
    }
    (
        p.head.as_ref().unwrap().status,
        core::mem::take(&mut p.body),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Etcd {
    child: Child,
    dir: std::path::PathBuf,
    port: u16,
}

impl Etcd {
    fn start() -> Etcd {
        let dir =
            std::env::temp_dir().join(format!("tug-etcd-{}-{}", std::process::id(), free_port()));
        let (client, peer) = (free_port(), free_port());
        let curl = format!("http://127.0.0.1:{client}");
        let purl = format!("http://127.0.0.1:{peer}");
        let mut child = Command::new(ETCD)
            .args(["--name", "t1", "--data-dir"])
            .arg(&dir)
            .args([
                "--listen-client-urls",
                &curl,
                "--advertise-client-urls",
                &curl,
            ])
            .args([
                "--listen-peer-urls",
                &purl,
                "--initial-advertise-peer-urls",
                &purl,
            ])
            .args([
                "--initial-cluster",
                &format!("t1={purl}"),
                "--initial-cluster-state",
                "new",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start etcd");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Keeps draining stderr after readiness, or etcd would block on it.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("ready to serve client requests") {
                    let _ = tx.send(());
                }
            }
        });
        let etcd = Etcd {
            child,
            dir,
            port: client,
        };
        rx.recv_timeout(Duration::from_secs(30))
            .expect("etcd did not become ready");
        etcd
    }

    fn signal(&self, sig: i32) {
        crate::sys::signal::kill(self.child.id() as i32, sig).unwrap();
    }

    /// One blocking JSON call from a second client.
    fn post(&self, path: &str, body: &str) -> crate::json5::Node {
        let (_, body) = http(&format!("127.0.0.1:{}", self.port), "POST", path, body);
        json::parse(&body).unwrap()
    }

    fn put(&self, key: &str, value: &str) {
        let body = format!(
            r#"{{"key":"{}","value":"{}"}}"#,
            base64::encode(key.as_bytes()),
            base64::encode(value.as_bytes())
        );
        self.post("/v3/kv/put", &body);
    }

    /// The key's lease, None when the key is absent.
    fn lease_of(&self, key: &str) -> Option<u64> {
        let doc = self.post(
            "/v3/kv/range",
            &format!(r#"{{"key":"{}"}}"#, base64::encode(key.as_bytes())),
        );
        let kvs = json::get(&doc, "kvs").and_then(json::as_array)?;
        Some(
            json::get(&kvs[0], "lease")
                .and_then(json::as_u64)
                .unwrap_or(0),
        )
    }

    fn lease_ttl(&self, lease: u64) -> i64 {
        let doc = self.post("/v3/lease/timetolive", &format!(r#"{{"ID":"{lease}"}}"#));
        let ttl = json::get(&doc, "TTL").unwrap();
        match &ttl.value {
            crate::json5::Value::String(s) => s.parse().unwrap(),
            crate::json5::Value::Number(n) => *n as i64,
            _ => 0,
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

use crate::base64;
use crate::json;

struct Harness {
    lp: EventLoop,
    d: Discovery,
    notices: Vec<Notice>,
}

impl Harness {
    fn new(cfg: BackendConfig) -> Harness {
        let lp = EventLoop::new(&SigSet::empty()).unwrap();
        Harness {
            lp,
            d: Discovery::new(&cfg, BASE).unwrap(),
            notices: Vec::new(),
        }
    }

    /// Runs the loop until `cond` holds (true) or `max` passes (false).
    fn run_until(&mut self, max: Duration, mut cond: impl FnMut(&mut Harness) -> bool) -> bool {
        let deadline = self.lp.now() + max.as_nanos() as u64;
        let wake = self.lp.add_timer(deadline, WAKE);
        loop {
            if cond(self) {
                self.lp.cancel_timer(wake);
                return true;
            }
            if self.lp.now() >= deadline {
                return false;
            }
            let mut evs = Vec::new();
            self.lp.turn(&mut evs).unwrap();
            for e in evs {
                match e {
                    Event::Timer(k) if self.d.owns(k) => {
                        self.d.on_timer(&mut self.lp, k, &mut self.notices)
                    }
                    Event::Io(r) if self.d.owns(r.token) => {
                        self.d.on_ready(&mut self.lp, r.token, &mut self.notices)
                    }
                    _ => {}
                }
            }
        }
    }

    fn state(&self, id: &str) -> String {
        self.d.service_state(id)
    }
}

fn service(id: &str, name: &str, ttl_s: u64) -> Service {
    Service {
        id: id.to_string(),
        name: name.to_string(),
        address: "127.0.0.1".to_string(),
        port: 8080,
        tags: vec!["v1".to_string()],
        meta: vec![("version".to_string(), "1".to_string())],
        ttl_ns: ttl_s * 1_000_000_000,
        enable_tag_override: false,
        deregister_after: None,
        initial_status: None,
    }
}

/// A watch on the service "db".
fn db_watch() -> WatchSpec {
    WatchSpec {
        name: "db".to_string(),
        kind: WatchKind::Service {
            service: "db".to_string(),
            tag: None,
            dc: None,
        },
    }
}

fn etcd_available() -> bool {
    if std::path::Path::new(ETCD).exists() {
        return true;
    }
    assert!(
        !in_ci(),
        "CI must be able to run this test, but {ETCD} is missing"
    );
    std::eprintln!("SKIPPED (not in CI): {ETCD} is missing");
    false
}

#[test]
fn real_etcd_registration_watch_and_lease_recovery() {
    if !etcd_available() {
        return;
    }
    let etcd = Etcd::start();
    let mut h = Harness::new(BackendConfig::Etcd {
        // The first endpoint refuses: calls fail over to the live one.
        endpoints: vec![
            format!("127.0.0.1:{}", free_port()),
            format!("http://127.0.0.1:{}", etcd.port),
        ],
        prefix: "/services".to_string(),
    });
    let key = "/services/web/web-1";
    let lp = &mut h.lp;
    h.d.add_service(lp, service("web-1", "web", 2));
    h.d.set_health(lp, "web-1", Health::Passing, "ok");
    assert!(
        h.run_until(Duration::from_secs(10), |h| h.state("web-1") == "passing"),
        "{}",
        h.state("web-1")
    );
    let lease = etcd.lease_of(key).expect("key registered");
    assert_ne!(lease, 0, "the key is on a lease");
    assert!(etcd.lease_ttl(lease) > 0);

    // Unhealthy: the key goes at once, the lease is revoked.
    h.d.set_health(&mut h.lp, "web-1", Health::Critical, "down");
    assert!(h.run_until(Duration::from_secs(5), |h| h.d.in_flight() == 0));
    assert_eq!(etcd.lease_of(key), None);
    assert_eq!(etcd.lease_ttl(lease), -1);
    assert_eq!(h.state("web-1"), "critical");
    h.d.set_health(&mut h.lp, "web-1", Health::Passing, "ok");
    assert!(h.run_until(Duration::from_secs(5), |h| h.state("web-1") == "passing"));
    let lease = etcd.lease_of(key).unwrap();

    // Watches: the first result at once, then a put by someone else.
    let db = h.d.add_watch(&mut h.lp, db_watch());
    let cfg = h.d.add_watch(
        &mut h.lp,
        WatchSpec {
            name: "cfg".to_string(),
            kind: WatchKind::Key("config/app".to_string()),
        },
    );
    assert!(h.run_until(Duration::from_secs(5), |h| h.notices.len() == 2));
    for n in h.notices.drain(..) {
        let Notice::WatchChanged {
            watch,
            healthy,
            instances,
        } = n;
        assert!([db, cfg].contains(&watch) && !healthy && instances.is_empty());
    }
    // No need to wait for the streams: they start at the revision after
    // the one the first result was read at, so nothing falls in between.
    let mut record = service("db-1", "db", 10);
    record.address = "10.0.0.9".to_string();
    etcd.put("/services/db/db-1", &service_value(&record));
    let put_at = Instant::now();
    assert!(h.run_until(Duration::from_secs(5), |h| !h.notices.is_empty()));
    let latency = put_at.elapsed();
    assert!(
        latency < Duration::from_millis(500),
        "watch latency {latency:?}"
    );
    let Notice::WatchChanged {
        watch,
        healthy,
        instances,
    } = h.notices.remove(0);
    assert_eq!((watch, healthy), (db, true));
    assert_eq!(
        (instances[0].id.as_str(), instances[0].address.as_str()),
        ("db-1", "10.0.0.9")
    );
    etcd.put("config/app", "v=2");
    assert!(h.run_until(Duration::from_secs(5), |h| !h.notices.is_empty()));
    let Notice::WatchChanged {
        watch,
        healthy,
        instances,
    } = h.notices.remove(0);
    assert_eq!((watch, healthy), (cfg, true));
    assert_eq!(
        instances[0].meta,
        vec![("value".to_string(), "v=2".to_string())]
    );

    // A partition longer than the TTL: the lease expires inside etcd.
    etcd.signal(libc::SIGSTOP);
    // Time must pass here: the partition has to outlive the 2 s lease.
    h.run_until(Duration::from_secs(4), |_| false);
    assert!(
        h.state("web-1").starts_with("error: "),
        "{}",
        h.state("web-1")
    );
    etcd.signal(libc::SIGCONT);
    assert!(
        h.run_until(Duration::from_secs(15), |h| h.state("web-1") == "passing"
            && etcd.lease_of(key).is_some_and(|l| l != lease)),
        "not re-registered: {}",
        h.state("web-1")
    );
    let lease = etcd.lease_of(key).unwrap();
    // The watch stream survived the stop and still sees changes.
    etcd.put("config/app", "v=3");
    assert!(h.run_until(Duration::from_secs(5), |h| !h.notices.is_empty()));

    // Shutdown: nothing left behind.
    h.d.shutdown(&mut h.lp);
    assert!(h.run_until(Duration::from_secs(6), |h| h.d.settled()));
    assert_eq!(etcd.lease_of(key), None);
    assert_eq!(etcd.lease_ttl(lease), -1);
    assert_eq!(h.d.in_flight(), 0);
}

#[test]
fn unreachable_consul_backs_off_without_spinning() {
    let mut h = Harness::new(BackendConfig::Consul {
        address: format!("127.0.0.1:{}", free_port()),
        token: None,
    });
    h.d.add_service(&mut h.lp, service("web-1", "web", 10));
    h.d.set_health(&mut h.lp, "web-1", Health::Passing, "ok");
    h.d.add_watch(&mut h.lp, db_watch());
    let before = h.lp.wakeups();
    h.run_until(Duration::from_secs(2), |_| false);
    // Retries at ~0.2, 0.5, 1, 2 s for two tasks, plus connection events.
    let turns = h.lp.wakeups() - before;
    assert!(turns < 40, "{turns} wake-ups in 2 s");
    assert!(
        h.state("web-1").starts_with("error: "),
        "{}",
        h.state("web-1")
    );
    assert!(h.notices.is_empty(), "errors emit no notices");
    h.d.shutdown(&mut h.lp);
    assert!(h.run_until(Duration::from_secs(6), |h| h.d.settled()));
}

/// An address ContainerPilot loads but cannot use (`host:port:port`):
/// an agent that cannot be reached. Every request fails at once with the
/// reason, no socket is opened, the tasks back off, health results keep
/// coming, and shutdown does not wait for anything.
#[test]
fn an_unparseable_consul_address_is_an_unreachable_agent() {
    let mut h = Harness::new(BackendConfig::Consul {
        address: "localhost:8500:8500".to_string(),
        token: None,
    });
    h.d.add_service(&mut h.lp, service("web-1", "web", 10));
    h.d.set_health(&mut h.lp, "web-1", Health::Passing, "ok");
    h.d.add_watch(&mut h.lp, db_watch());
    let why = "localhost:8500:8500 is not a valid address: \
               too many colons; an IPv6 address goes in brackets: [::1]:8500";
    assert_eq!(h.state("web-1"), format!("error: {why}"));
    assert_eq!(h.d.in_flight(), 0, "nothing is ever in flight");
    let before = h.lp.wakeups();
    h.run_until(Duration::from_secs(2), |_| false);
    // Backoff from 125-250 ms doubling: a few retries per task, no spin
    // (and no connection events at all).
    let turns = h.lp.wakeups() - before;
    assert!((2..16).contains(&turns), "{turns} wake-ups in 2 s");
    h.d.set_health(&mut h.lp, "web-1", Health::Critical, "down");
    h.run_until(Duration::from_millis(300), |_| false);
    assert_eq!(h.state("web-1"), format!("error: {why}"));
    assert!(h.notices.is_empty(), "errors emit no notices");
    h.d.shutdown(&mut h.lp);
    assert!(h.run_until(Duration::from_millis(100), |h| h.d.settled()));
}

struct Emulator {
    child: Child,
    addr: String,
    admin: String,
}

impl Emulator {
    const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/consul/emulator.py");

    fn start() -> Option<Emulator> {
        let spawned = Command::new("python3")
            .args([Self::SCRIPT, "--port", "0", "--bind", "127.0.0.1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    !in_ci(),
                    "CI must be able to run this test, but python3: {e}"
                );
                std::eprintln!("SKIPPED (not in CI): python3: {e}");
                return None;
            }
        };
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut admin = String::new();
        let addr = loop {
            let line = lines.next().expect("emulator output").unwrap();
            if let Some(a) = line.strip_prefix("admin ") {
                admin = a.to_string();
            } else if let Some(a) = line.strip_prefix("listening ") {
                break a.to_string();
            }
        };
        Some(Emulator { child, addr, admin })
    }

    fn admin(&self, method: &str, path_and_query: &str, body: &str) -> u16 {
        http(&self.admin, method, path_and_query, body).0
    }

    /// Blocks until the emulator's condition holds.
    fn wait(&self, query: &str) {
        let status = self.admin("GET", &format!("/_emulator/wait?{query}&timeout=10s"), "");
        assert_eq!(status, 200, "condition never held: {query}");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn consul_emulator_registration_heartbeats_restart_and_watch() {
    let Some(emu) = Emulator::start() else { return };
    let mut h = Harness::new(BackendConfig::Consul {
        address: format!("http://{}", emu.addr),
        token: None,
    });
    h.d.add_service(&mut h.lp, service("web-1", "web", 10));
    h.d.set_health(&mut h.lp, "web-1", Health::Passing, "ok");
    assert!(h.run_until(Duration::from_secs(5), |h| h.state("web-1") == "passing"));
    emu.wait("service=web-1&status=passing&port=8080&tag=v1&meta=version:1");

    // Critical at once, not after the TTL.
    h.d.set_health(&mut h.lp, "web-1", Health::Critical, "HTTP 500");
    assert!(h.run_until(Duration::from_secs(5), |h| h.d.in_flight() == 0));
    emu.wait("check=service:web-1&status=critical&output=HTTP%20500");

    // The agent restarts without its data: the next check registers again.
    assert_eq!(emu.admin("POST", "/_emulator/restart", ""), 200);
    emu.wait("service=web-1&present=0");
    h.d.set_health(&mut h.lp, "web-1", Health::Passing, "ok");
    assert!(h.run_until(Duration::from_secs(5), |h| h.d.in_flight() == 0
        && h.state("web-1") == "passing"));
    emu.wait("service=web-1&status=passing");

    // A watch: the absent service first, then an instance on another node.
    let w = h.d.add_watch(&mut h.lp, db_watch());
    assert!(h.run_until(Duration::from_secs(5), |h| !h.notices.is_empty()));
    assert_eq!(
        h.notices.remove(0),
        Notice::WatchChanged {
            watch: w,
            healthy: false,
            instances: vec![]
        }
    );
    // Whether the blocking query is already held or not, the index moves.
    let def = r#"{"ID":"db-1","Name":"db","Address":"10.0.0.9","Port":5432,"Check":{"CheckID":"service:db-1","TTL":"30s","Status":"passing"}}"#;
    assert_eq!(
        emu.admin("POST", "/_emulator/register?node=n2&address=10.1.0.2", def),
        200
    );
    let at = Instant::now();
    assert!(h.run_until(Duration::from_secs(5), |h| !h.notices.is_empty()));
    assert!(
        at.elapsed() < Duration::from_millis(500),
        "watch latency {:?}",
        at.elapsed()
    );
    let Notice::WatchChanged {
        healthy, instances, ..
    } = h.notices.remove(0);
    assert!(healthy);
    assert_eq!(
        (
            instances[0].id.as_str(),
            instances[0].address.as_str(),
            instances[0].port
        ),
        ("db-1", "10.0.0.9", 5432)
    );

    // Shutdown deregisters.
    h.d.shutdown(&mut h.lp);
    assert!(h.run_until(Duration::from_secs(6), |h| h.d.settled()));
    emu.wait("service=web-1&present=0");
}

#[test]
fn a_new_watch_reads_on_the_next_turn_and_its_notice_comes_from_there() {
    // An agent answering the one read at once: 404, the key is absent.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let agent = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            assert_ne!(n, 0, "the request ended early");
            req.extend_from_slice(&buf[..n]);
        }
        s.write_all(b"HTTP/1.1 404 Not Found\r\nX-Consul-Index: 3\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
    });
    let mut h = Harness::new(BackendConfig::Consul {
        address: addr.to_string(),
        token: None,
    });
    let spec = WatchSpec {
        name: "db".to_string(),
        kind: WatchKind::Key("k".to_string()),
    };
    let w = h.d.add_watch(&mut h.lp, spec);
    // Nothing starts inside the API call, so nothing can answer there.
    assert_eq!(h.d.in_flight(), 0);
    assert!(h.notices.is_empty());
    assert!(h.run_until(Duration::from_secs(2), |h| !h.notices.is_empty()));
    assert!(
        matches!(h.notices[0], Notice::WatchChanged { watch, healthy: false, .. } if watch == w)
    );
    h.d.shutdown(&mut h.lp);
    agent.join().unwrap();
}
