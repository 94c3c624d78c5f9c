//! A throwaway etcd (Debian's etcd-server, 3.4) for tests: free loopback
//! ports, a fresh temp data dir, flags per apis.md B.8, ready when its log
//! says "ready to serve client requests". Tests stop it, SIGSTOP it (a
//! partition), restart it on the same ports and data, or wipe it. Killed
//! on Drop; PR_SET_PDEATHSIG kills it if the test thread that started it
//! dies without unwinding. Its log is printed when the test panics.
//!
//! The helpers talk to the JSON gateway (/v3) with plain blocking HTTP;
//! `wait_prefix` blocks on a watch stream, so tests never poll.

use super::base64;
use super::capture::drain;
use super::http::{self, Response};
use super::json::{self, Node};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

const READY: &str = "ready to serve client requests";

pub struct Etcd {
    bin: PathBuf,
    dir: PathBuf,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
    paused: bool,
    log: Arc<Mutex<String>>,
}

/// The etcd binary: ETCD_BIN, /usr/bin/etcd, or `etcd` on PATH.
pub fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ETCD_BIN") {
        return Some(PathBuf::from(p));
    }
    let usr = Path::new("/usr/bin/etcd");
    if usr.exists() {
        return Some(usr.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("etcd"))
        .find(|p| p.is_file())
}

/// A fresh data dir, named after this process so that dirs of test
/// processes that were killed (no Drop ran) are swept here.
fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("tug-etcd-")) else {
                continue;
            };
            let pid = rest.split('-').next().and_then(|p| p.parse::<i32>().ok());
            if pid.is_some_and(|p| !super::alive(p)) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "tug-etcd-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create the etcd temp dir");
    dir
}

/// The end of the range covering every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// Whether every thread of `pid` is in the stopped state (T).
fn all_tasks_stopped(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.filter_map(|t| t.ok()).all(|t| {
        std::fs::read_to_string(t.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
        })
    })
}

impl Etcd {
    /// A running etcd, or None when it is not installed (outside CI; in CI
    /// a missing etcd fails the test).
    pub fn start() -> Option<Etcd> {
        let bin = binary();
        if !super::require(
            bin.is_some(),
            "etcd is not installed (scripts/test-deps.sh installs Debian's etcd-server)",
        ) {
            return None;
        }
        let mut last_log = String::new();
        // A port picked free may be taken before etcd binds it: try again.
        for _ in 0..5 {
            let mut e = Etcd {
                bin: bin.clone().unwrap(),
                dir: temp_dir(),
                client_port: super::free_port(),
                peer_port: super::free_port(),
                child: None,
                paused: false,
                log: Arc::new(Mutex::new(String::new())),
            };
            if e.peer_port == e.client_port {
                continue;
            }
            match e.spawn() {
                Ok(()) => return Some(e),
                Err(log) if log.contains("address already in use") => last_log = log,
                Err(log) => panic!("etcd did not start:\n{log}"),
            }
        }
        panic!("etcd did not start (ports kept being taken):\n{last_log}");
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Starts the process on this instance's ports and data dir and waits
    /// for readiness; Err(log) if it exits or hangs first.
    fn spawn(&mut self) -> Result<(), String> {
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut cmd = Command::new(&self.bin);
        cmd.args(["--name", "t1", "--data-dir"])
            .arg(self.data_dir())
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args([
                "--initial-cluster",
                &format!("t1={peer}"),
                "--initial-cluster-state",
                "new",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: prctl is async-signal-safe and touches no memory of ours;
        // between fork and exec nothing else runs in the child.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.bin.display()))?;
        let start_at = self.log.lock().unwrap().len();
        let (tx, rx) = mpsc::channel();
        drain(child.stderr.take().unwrap(), self.log.clone(), Some(tx));
        drain(child.stdout.take().unwrap(), self.log.clone(), None);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains(READY) => break,
                Ok(_) => continue,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(self.log.lock().unwrap()[start_at..].to_string());
                }
            }
        }
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    /// `http://127.0.0.1:PORT`, for `etcd: { endpoints: [...] }`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    fn signal(&self, sig: i32) {
        if let Some(pid) = self.pid() {
            super::send(pid, sig);
        }
    }

    /// SIGTERM and wait (SIGKILL after 10 s); it stays stopped.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if self.paused {
            super::send(child.id() as i32, libc::SIGCONT);
            self.paused = false;
        }
        super::send(child.id() as i32, libc::SIGTERM);
        if super::wait_up_to(&mut child, Duration::from_secs(10)).is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.log.lock().unwrap().push_str("--- etcd stopped ---\n");
    }

    /// SIGSTOP: connections are accepted by the kernel but nothing is
    /// answered, leases are not renewed (a network partition).
    pub fn pause(&mut self) {
        let Some(pid) = self.pid() else { return };
        super::send(pid, libc::SIGSTOP);
        self.paused = true;
        // kill() returns before every thread has stopped: wait for the
        // group stop to reach each task, or a request could still be served.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !all_tasks_stopped(pid) {
            assert!(
                Instant::now() < deadline,
                "etcd {pid} did not stop on SIGSTOP"
            );
            std::thread::yield_now();
        }
    }

    /// SIGCONT after `pause`.
    pub fn resume(&mut self) {
        self.signal(libc::SIGCONT);
        self.paused = false;
    }

    /// Stops it (if running) and starts it again on the same ports with
    /// the same data: keys and unexpired leases survive.
    pub fn restart(&mut self) {
        self.stop();
        self.log
            .lock()
            .unwrap()
            .push_str("--- etcd restarting ---\n");
        if let Err(log) = self.spawn() {
            panic!("etcd did not restart:\n{log}");
        }
    }

    /// SIGKILL, the data dir deleted, and a new empty etcd (a new cluster)
    /// on the same ports: every key, lease and revision is lost.
    pub fn kill_and_wipe(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        std::fs::remove_dir_all(self.data_dir()).expect("wipe the etcd data dir");
        self.log
            .lock()
            .unwrap()
            .push_str("--- etcd killed and wiped ---\n");
        if let Err(log) = self.spawn() {
            panic!("etcd did not start again:\n{log}");
        }
    }

    /// One gateway call (POST `path` with a JSON body).
    pub fn call(&self, path: &str, body: &str) -> std::io::Result<Response> {
        http::request(
            &self.addr(),
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
            http::TIMEOUT,
        )
    }

    /// A call that must succeed with 200; returns the JSON answer.
    pub fn call_ok(&self, path: &str, body: &str) -> Node {
        let r = self
            .call(path, body)
            .unwrap_or_else(|e| panic!("etcd {path}: {e}"));
        assert_eq!(r.status, 200, "etcd {path} {body}: {r:?}");
        r.json()
    }

    fn range(&self, key: &[u8], end: Option<&[u8]>) -> (u64, Vec<(String, Node)>) {
        let mut body = format!("{{\"key\":\"{}\"", base64::encode(key));
        if let Some(end) = end {
            body.push_str(&format!(",\"range_end\":\"{}\"", base64::encode(end)));
        }
        body.push('}');
        let n = self.call_ok("/v3/kv/range", &body);
        let rev = json::u64_at(&n, &["header", "revision"]).unwrap_or(0);
        let kvs = json::at(&n, &["kvs"])
            .map(|a| {
                json::items(a)
                    .into_iter()
                    .map(|kv| {
                        let k = base64::decode_str(json::str_at(kv, &["key"]).unwrap_or(""));
                        (k, kv.clone())
                    })
                    .collect()
            })
            .unwrap_or_default();
        (rev, kvs)
    }

    fn value(kv: &Node) -> String {
        base64::decode_str(json::str_at(kv, &["value"]).unwrap_or(""))
    }

    pub fn get(&self, key: &str) -> Option<String> {
        let (_, kvs) = self.range(key.as_bytes(), None);
        kvs.first().map(|(_, kv)| Etcd::value(kv))
    }

    /// Every key under `prefix` with its value, sorted by key.
    pub fn get_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let (_, kvs) = self.range(prefix.as_bytes(), Some(&prefix_end(prefix.as_bytes())));
        kvs.iter()
            .map(|(k, kv)| (k.clone(), Etcd::value(kv)))
            .collect()
    }

    /// The store's current revision.
    pub fn revision(&self) -> u64 {
        self.range(b"\0", None).0
    }

    pub fn put(&self, key: &str, value: &str) {
        self.put_on_lease(key, value, "0");
    }

    /// A put attached to `lease` ("0": none, as etcd reads an absent one).
    fn put_on_lease(&self, key: &str, value: &str, lease: &str) {
        self.call_ok(
            "/v3/kv/put",
            &format!(
                "{{\"key\":\"{}\",\"value\":\"{}\",\"lease\":\"{lease}\"}}",
                base64::encode(key.as_bytes()),
                base64::encode(value.as_bytes())
            ),
        );
    }

    /// A lease of `ttl` seconds; returns its ID (decimal text).
    pub fn grant(&self, ttl: u64) -> String {
        let n = self.call_ok("/v3/lease/grant", &format!("{{\"TTL\":\"{ttl}\"}}"));
        json::str_at(&n, &["ID"]).expect("lease ID").to_string()
    }

    /// Puts `key` attached to a new lease of `ttl` seconds (what another
    /// registrant does); returns the lease ID.
    pub fn put_with_lease(&self, key: &str, value: &str, ttl: u64) -> String {
        let lease = self.grant(ttl);
        self.put_on_lease(key, value, &lease);
        lease
    }

    pub fn revoke(&self, lease: &str) {
        self.call_ok("/v3/lease/revoke", &format!("{{\"ID\":\"{lease}\"}}"));
    }

    /// Deletes `key`; returns how many keys went.
    pub fn delete(&self, key: &str) -> u64 {
        let n = self.call_ok(
            "/v3/kv/deleterange",
            &format!("{{\"key\":\"{}\"}}", base64::encode(key.as_bytes())),
        );
        json::u64_at(&n, &["deleted"]).unwrap_or(0)
    }

    /// The lease `key` is attached to: None if the key is absent or has no
    /// lease, else its ID.
    pub fn lease_of(&self, key: &str) -> Option<String> {
        let (_, kvs) = self.range(key.as_bytes(), None);
        let (_, kv) = kvs.first()?;
        json::str_at(kv, &["lease"]).map(str::to_string)
    }

    /// Remaining seconds of the lease `key` is attached to (None: no key
    /// or no lease; -1: the lease has expired).
    pub fn lease_ttl(&self, key: &str) -> Option<i64> {
        let lease = self.lease_of(key)?;
        let n = self.call_ok("/v3/lease/timetolive", &format!("{{\"ID\":\"{lease}\"}}"));
        json::i64_at(&n, &["TTL"])
    }

    /// Compacts history up to the current revision (watches from older
    /// revisions then get `compact_revision`).
    pub fn compact(&self) -> u64 {
        let rev = self.revision();
        self.call_ok(
            "/v3/kv/compaction",
            &format!("{{\"revision\":\"{rev}\",\"physical\":true}}"),
        );
        rev
    }

    /// Blocks until `pred` holds for the keys and values under `prefix`
    /// (re-read at each watch event), or `timeout` passes.
    pub fn wait_prefix(
        &self,
        prefix: &str,
        timeout: Duration,
        pred: impl Fn(&[(String, String)]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let end = prefix_end(prefix.as_bytes());
        loop {
            let (rev, kvs) = self.range(prefix.as_bytes(), Some(&end));
            let kvs: Vec<(String, String)> = kvs
                .iter()
                .map(|(k, kv)| (k.clone(), Etcd::value(kv)))
                .collect();
            if pred(&kvs) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let body = format!(
                "{{\"create_request\":{{\"key\":\"{}\",\"range_end\":\"{}\",\"start_revision\":\"{}\"}}}}",
                base64::encode(prefix.as_bytes()),
                base64::encode(&end),
                rev + 1
            );
            let stream = http::Stream::open(
                &self.addr(),
                "POST",
                "/v3/watch",
                &[],
                body.as_bytes(),
                left,
            );
            let Ok(mut stream) = stream else {
                // etcd is restarting: back off a little before trying again.
                std::thread::sleep(Duration::from_millis(50).min(left));
                continue;
            };
            // Read until an event (then re-read the range) or the deadline.
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || stream.set_timeout(left).is_err() {
                    return false;
                }
                match stream.next_line() {
                    Ok(Some(line)) if line.contains("\"events\"") => break,
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }

    /// Blocks until `key` has `value` (Some) or is absent (None).
    pub fn wait_key(&self, key: &str, value: Option<&str>, timeout: Duration) -> bool {
        self.wait_prefix(key, timeout, |kvs| {
            let v = kvs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
            v == value
        })
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- etcd log ---\n{}--- end ---", self.log());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
