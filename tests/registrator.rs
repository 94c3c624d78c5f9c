//! `tug registrator` against the real Docker engine, with the Consul
//! emulator, a real etcd (Consul KV-style and SkyDNS2 layouts) as the
//! registry. Images are built FROM scratch from the probe (no image can be
//! pulled) and tagged `registry.local:5000/tug-RUN/redis:7`, so the service
//! name comes from registrator's rule (`redis`). Every container is named
//! after this run and removed on drop; the engine is shared, so each
//! assertion names this run's containers only (other tests' containers
//! register too, into their own tug's registry).
//!
//! Waits are the emulator's blocking `/_emulator/wait` and etcd watches,
//! never sleeps; tug's readiness is its "following events" line.

mod common;

use common::consul::Emulator;
use common::docker::{label, run_id};
use common::etcd::Etcd;
use common::json;
use common::*;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const NODE: &str = "tnode";
const ENGINE: &str = "/var/run/docker.sock";

fn docker(args: &[&str]) -> (i32, String, String) {
    let o = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).trim().to_string(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn docker_ok(args: &[&str]) -> String {
    let (c, out, err) = docker(args);
    assert_eq!(c, 0, "docker {args:?} failed: {err}");
    out
}

struct Images {
    /// EXPOSE 6379, healthy (its HEALTHCHECK passes).
    redis: String,
    /// EXPOSE 80, its HEALTHCHECK always fails.
    sick: String,
}

fn tag(name: &str, version: &str) -> String {
    format!("registry.local:5000/tug-{}/{name}:{version}", run_id())
}

/// The images (built once per test process), or None to skip.
fn images() -> Option<&'static Images> {
    static IMAGES: OnceLock<Result<Images, String>> = OnceLock::new();
    let built = IMAGES.get_or_init(|| {
        match Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => return Err(format!("`docker info` failed: {}", String::from_utf8_lossy(&o.stderr).trim())),
            Err(e) => return Err(format!("cannot run docker: {e}")),
        }
        extern "C" fn remove_images() {
            for t in [tag("redis", "7"), tag("sick", "1")] {
                let _ = Command::new("docker").args(["rmi", "-f", &t]).output();
            }
        }
        // SAFETY: registering a plain extern "C" function.
        unsafe { libc::atexit(remove_images) };
        let dir = std::env::temp_dir().join(format!("tug-test-reg-{}", run_id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(probe(), dir.join("probe")).unwrap();
        let build = |name: &str, version: &str, body: &str| {
            let file = dir.join(format!("Dockerfile.{name}"));
            std::fs::write(
                &file,
                format!("FROM scratch\nLABEL {}\nCOPY probe /\n{body}ENTRYPOINT [\"/probe\"]\nCMD [\"signals\"]\n", label()),
            )
            .unwrap();
            let t = tag(name, version);
            let f = file.to_str().unwrap();
            docker_ok(&["build", "-q", "--force-rm", "-t", &t, "-f", f, dir.to_str().unwrap()]);
            t
        };
        let images = Images {
            redis: build(
                "redis",
                "7",
                "EXPOSE 6379\nHEALTHCHECK --interval=1s --timeout=2s CMD [\"/probe\", \"exit\", \"0\"]\n",
            ),
            sick: build(
                "sick",
                "1",
                "EXPOSE 80\nHEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD [\"/probe\", \"exit\", \"1\"]\n",
            ),
        };
        let _ = std::fs::remove_dir_all(&dir);
        Ok(images)
    });
    match built {
        Ok(i) => Some(i),
        Err(why) => {
            require(false, &format!("no Docker engine ({why})"));
            None
        }
    }
}

/// A container of this run, force-removed on drop.
struct Ctr(String);

impl Ctr {
    fn name(test: &str) -> String {
        format!("tug-reg-{}-{test}", run_id())
    }

    /// `docker run -d --name NAME ARGS... IMAGE`.
    fn run(test: &str, args: &[&str], image: &str) -> Ctr {
        let c = Ctr(Ctr::name(test));
        let label = label();
        let mut all = vec!["run", "-d", "--name", &c.0, "--label", &label];
        all.extend_from_slice(args);
        all.push(image);
        docker_ok(&all);
        c
    }

    /// The default service ID of its `port` (`NODE:NAME:PORT`).
    fn id(&self, port: &str) -> String {
        format!("{NODE}:{}:{port}", self.0)
    }

    fn remove(self) {
        docker_ok(&["rm", "-f", &self.0]);
        std::mem::forget(self);
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

/// `tug registrator ARGS` with its log on stdout, its control socket in a
/// temp dir; started once the event stream is followed.
struct Reg {
    run: Option<Running>,
    dir: PathBuf,
}

impl Reg {
    fn start(args: &[&str]) -> Reg {
        Reg::start_env(args, &[])
    }

    fn start_env(args: &[&str], env: &[(&str, &str)]) -> Reg {
        // One dir per instance: tests run in parallel in this process.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = fresh_dir(&format!("reg{n}"));
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("exec \"$0\" registrator \"$@\" 2>&1")
            .arg(tug())
            .args(args);
        cmd.env("TUG_SOCKET", dir.join("ctl.sock"));
        cmd.env_remove("DOCKER_HOST");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut run = Running::start(cmd);
        run.expect_line("docker: following events");
        Reg {
            run: Some(run),
            dir,
        }
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("ctl.sock")
    }

    fn expect_line(&mut self, needle: &str) -> String {
        self.run.as_mut().unwrap().expect_line(needle)
    }

    /// SIGTERM; the exit status and the whole log.
    fn stop(mut self) -> (i32, String) {
        let run = self.run.take().unwrap();
        send(run.pid(), libc::SIGTERM);
        let (status, lines, _) = run.finish();
        (status.code().unwrap_or(-1), lines.join("\n"))
    }
}

impl Drop for Reg {
    fn drop(&mut self) {
        if let Some(mut r) = self.run.take() {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn consul_uri(e: &Emulator) -> String {
    format!("consul://{}", e.addr())
}

/// The emulator's condition, waiting up to 20 s.
fn expect(e: &Emulator, q: &str) -> json::Node {
    e.expect(&format!("{q}&timeout=20s"))
}

fn present(e: &Emulator, id: &str) -> json::Node {
    expect(e, &format!("service={}&present=1", http_enc(id)))
}

fn absent(e: &Emulator, id: &str) {
    expect(e, &format!("service={}&present=0", http_enc(id)));
}

fn http_enc(s: &str) -> String {
    common::http::encode(s, false)
}

/// The agent's services whose ID holds `part`: (ID, Service, Port, Tags).
fn services_with(e: &Emulator, part: &str) -> Vec<(String, String, u64, Vec<String>)> {
    let r = e.api("GET", "/v1/agent/services", "");
    let doc = r.json();
    let mut out = Vec::new();
    for id in json::keys(&doc) {
        if !id.contains(part) {
            continue;
        }
        let s = json::at(&doc, &[id]).unwrap();
        let tags = json::at(s, &["Tags"]).map(json::items).unwrap_or_default();
        out.push((
            id.to_string(),
            json::str_at(s, &["Service"]).unwrap_or("").to_string(),
            json::u64_at(s, &["Port"]).unwrap_or(0),
            tags.iter()
                .map(|t| json::str_at(t, &[]).unwrap_or("").to_string())
                .collect(),
        ));
    }
    out.sort();
    out
}

fn service(e: &Emulator, id: &str) -> (String, u64, Vec<String>, String) {
    let r = e.api("GET", &format!("/v1/agent/service/{}", http_enc(id)), "");
    assert_eq!(r.status, 200, "service {id}: {}", r.text());
    let s = r.json();
    let tags = json::at(&s, &["Tags"]).map(json::items).unwrap_or_default();
    let meta = json::at(&s, &["Meta"])
        .map(|m| format!("{m:?}"))
        .unwrap_or_default();
    (
        json::str_at(&s, &["Service"]).unwrap().to_string(),
        json::u64_at(&s, &["Port"]).unwrap(),
        tags.iter()
            .map(|t| json::str_at(t, &[]).unwrap().to_string())
            .collect(),
        meta,
    )
}

fn free() -> String {
    free_port().to_string()
}

#[test]
fn readme_examples_before_and_after_start_env_and_labels() {
    let Some(img) = images() else { return };
    let e = Emulator::start();
    // Running before tug starts: `-p 10000:6379 progrium/redis`.
    let p1 = free();
    let pre = Ctr::run("readme-pre", &["-p", &format!("{p1}:6379")], &img.redis);
    let _reg = Reg::start(&["-ip", "127.0.0.1", "-node", NODE, &consul_uri(&e)]);
    present(&e, &pre.id("6379"));
    let (name, port, tags, _) = service(&e, &pre.id("6379"));
    assert_eq!(
        (name.as_str(), port.to_string(), tags.len()),
        ("redis", p1.clone(), 0)
    );
    expect(
        &e,
        &format!("service={}&address=127.0.0.1", http_enc(&pre.id("6379"))),
    );

    // SERVICE_NAME=db, SERVICE_TAGS=master,backups, SERVICE_REGION=us2:
    // from env, and from labels (labels win over env).
    let p2 = free();
    let env = Ctr::run(
        "readme-env",
        &[
            "-p",
            &format!("{p2}:6379"),
            "-e",
            "SERVICE_NAME=db",
            "-e",
            "SERVICE_TAGS=master,backups",
            "-e",
            "SERVICE_REGION=us2",
        ],
        &img.redis,
    );
    let p3 = free();
    let lab = Ctr::run(
        "readme-label",
        &[
            "-p",
            &format!("{p3}:6379"),
            "-e",
            "SERVICE_NAME=ignored",
            "--label",
            "SERVICE_NAME=db",
            "--label",
            "SERVICE_TAGS=master,backups",
            "--label",
            "SERVICE_REGION=us2",
        ],
        &img.redis,
    );
    for (c, p) in [(&env, &p2), (&lab, &p3)] {
        let id = c.id("6379");
        present(&e, &id);
        let (name, port, tags, meta) = service(&e, &id);
        assert_eq!(name, "db");
        assert_eq!(port.to_string(), *p);
        assert_eq!(tags, ["master", "backups"]);
        assert!(meta.contains("region") && meta.contains("us2"), "{meta}");
    }

    // `-p 4443:443 -p 8000:80 progrium/nginx`: a group, named NAME-PORT.
    let (a, b) = (free(), free());
    let grp = Ctr::run(
        "readme-grp",
        &["-p", &format!("{a}:443"), "-p", &format!("{b}:80")],
        &img.redis,
    );
    present(&e, &grp.id("443"));
    present(&e, &grp.id("80"));
    assert_eq!(service(&e, &grp.id("443")).0, "redis-443");
    assert_eq!(service(&e, &grp.id("80")).0, "redis-80");
    // The unpublished 6379 makes no service.
    assert!(services_with(&e, &grp.id("6379")).is_empty());

    // With the port-specific keys of the README.
    let (a, b) = (free(), free());
    let https = format!("https.{}", run_id());
    let ps = Ctr::run(
        "readme-ports",
        &[
            "-p",
            &format!("{a}:443"),
            "-p",
            &format!("{b}:80"),
            "-e",
            "SERVICE_443_NAME=https",
            "-e",
            &format!("SERVICE_443_ID={https}"),
            "-e",
            "SERVICE_443_SNI=enabled",
            "-e",
            "SERVICE_80_NAME=http",
            "-e",
            "SERVICE_TAGS=www",
        ],
        &img.redis,
    );
    present(&e, &https);
    let (name, port, tags, meta) = service(&e, &https);
    assert_eq!(
        (name.as_str(), port.to_string(), tags.clone()),
        ("https", a, vec!["www".to_string()])
    );
    assert!(meta.contains("sni") && meta.contains("enabled"), "{meta}");
    present(&e, &ps.id("80"));
    let (name, port, tags, meta) = service(&e, &ps.id("80"));
    assert_eq!(
        (name.as_str(), port.to_string(), tags),
        ("http", b, vec!["www".to_string()])
    );
    assert!(!meta.contains("sni"), "{meta}");

    // Removal deregisters each.
    let ids = [pre.id("6379"), env.id("6379"), grp.id("80"), ps.id("80")];
    for c in [pre, env, lab, grp, ps] {
        c.remove();
    }
    for id in ids.iter().map(String::as_str).chain([https.as_str()]) {
        absent(&e, id);
    }
}

#[test]
fn udp_tags_ignore_and_explicit() {
    let Some(img) = images() else { return };
    let e = Emulator::start();
    let _reg = Reg::start(&[
        "-ip",
        "127.0.0.1",
        "-node",
        NODE,
        "-tags",
        "t1,t2",
        "-explicit",
        &consul_uri(&e),
    ]);
    // -explicit: only ports with a name.
    let p = free();
    let udp = Ctr::run(
        "udp",
        &[
            "-p",
            &format!("{p}:53/udp"),
            "-e",
            "SERVICE_NAME=dns",
            "-e",
            "SERVICE_TAGS=a",
        ],
        &img.redis,
    );
    let id = udp.id("53:udp");
    present(&e, &id);
    let (name, port, tags, _) = service(&e, &id);
    assert_eq!((name.as_str(), port.to_string()), ("dns", p));
    assert_eq!(tags, ["a", "t1", "t2", "udp"]);

    let (a, b) = (free(), free());
    let ign = Ctr::run(
        "ignore-port",
        &[
            "-p",
            &format!("{a}:80"),
            "-p",
            &format!("{b}:443"),
            "-e",
            "SERVICE_NAME=web",
            "-e",
            "SERVICE_80_IGNORE=1",
        ],
        &img.redis,
    );
    present(&e, &ign.id("443"));
    assert_eq!(service(&e, &ign.id("443")).0, "web-443");
    let whole = Ctr::run(
        "ignore-all",
        &[
            "-p",
            &format!("{}:6379", free()),
            "-e",
            "SERVICE_NAME=x",
            "-e",
            "SERVICE_IGNORE=1",
        ],
        &img.redis,
    );
    let unnamed = Ctr::run("unnamed", &["-p", &format!("{}:6379", free())], &img.redis);
    // A later container registered proves the earlier ones were seen.
    let last = Ctr::run(
        "last",
        &[
            "-p",
            &format!("{}:6379", free()),
            "-e",
            "SERVICE_6379_NAME=last",
        ],
        &img.redis,
    );
    present(&e, &last.id("6379"));
    assert!(services_with(&e, &ign.id("80")).is_empty());
    assert!(services_with(&e, &whole.0).is_empty());
    assert!(services_with(&e, &unnamed.0).is_empty());
}

#[test]
fn internal_uses_the_container_address_and_exposed_port() {
    let Some(img) = images() else { return };
    let e = Emulator::start();
    let _reg = Reg::start(&["-internal", "-node", NODE, &consul_uri(&e)]);
    let c = Ctr::run("internal", &[], &img.redis);
    let ip = docker_ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", &c.0]);
    assert!(!ip.is_empty());
    present(&e, &c.id("6379"));
    expect(
        &e,
        &format!("service={}&address={ip}&port=6379", http_enc(&c.id("6379"))),
    );
}

#[test]
fn checks_ttl_heartbeat_while_healthy_critical_when_unhealthy() {
    let Some(img) = images() else { return };
    let e = Emulator::start();
    let _reg = Reg::start(&["-ip", "127.0.0.1", "-node", NODE, &consul_uri(&e)]);
    let ok = Ctr::run(
        "ttl-ok",
        &[
            "-p",
            &format!("{}:6379", free()),
            "-e",
            "SERVICE_CHECK_TTL=4s",
        ],
        &img.redis,
    );
    let check = format!("service:{}", ok.id("6379"));
    expect(&e, &format!("check={}&status=passing", http_enc(&check)));
    // Still passing two TTLs later: it is heartbeated.
    e.expect(&format!(
        "check={}&status=passing&hold=8s",
        http_enc(&check)
    ));

    let sick = Ctr::run(
        "ttl-sick",
        &[
            "-p",
            &format!("{}:80", free()),
            "-e",
            "SERVICE_CHECK_TTL=60s",
            "-e",
            "SERVICE_CHECK_INITIAL_STATUS=passing",
        ],
        &img.sick,
    );
    let check = format!("service:{}", sick.id("80"));
    expect(&e, &format!("check={}&present=1", http_enc(&check)));
    expect(&e, &format!("check={}&status=critical", http_enc(&check)));

    // An HTTP check as registrator sends it.
    let p = free();
    let web = Ctr::run(
        "http-check",
        &[
            "-p",
            &format!("{p}:6379"),
            "-e",
            "SERVICE_CHECK_HTTP=/health",
            "-e",
            "SERVICE_CHECK_INTERVAL=15s",
        ],
        &img.redis,
    );
    present(&e, &web.id("6379"));
    let body = format!("\"HTTP\":\"http://127.0.0.1:{p}/health\"");
    expect(
        &e,
        &format!(
            "request=/v1/agent/service/register&body={}",
            http_enc(&body)
        ),
    );
    expect(
        &e,
        &format!(
            "check={}&present=1",
            http_enc(&format!("service:{}", web.id("6379")))
        ),
    );
}

#[test]
fn thirty_containers_started_and_removed_concurrently() {
    let Some(img) = images() else { return };
    let e = Emulator::start();
    let _reg = Reg::start(&["-ip", "127.0.0.1", "-node", NODE, &consul_uri(&e)]);
    let name = format!("bulk-{}", run_id());
    let tag = format!("tug-reg-{}-bulk-", run_id());
    let start = |range: std::ops::Range<usize>| -> Vec<Ctr> {
        let out = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = range
            .map(|i| {
                let (out, image, name) = (out.clone(), img.redis.clone(), name.clone());
                std::thread::spawn(move || {
                    let env = format!("SERVICE_NAME={name}");
                    let c = Ctr::run(&format!("bulk-{i}"), &["-p", "6379", "-e", &env], &image);
                    out.lock().unwrap().push(c);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        std::mem::take(&mut *out.lock().unwrap())
    };
    let remove = |cs: Vec<Ctr>| {
        let threads: Vec<_> = cs
            .into_iter()
            .map(|c| std::thread::spawn(move || c.remove()))
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    };
    let first = start(0..30);
    expect(&e, &format!("name={name}&instances=30"));
    // Half removed while 15 more start, all at once.
    let mut first = first;
    let gone: Vec<Ctr> = first.drain(..15).collect();
    let r = std::thread::spawn(move || remove(gone));
    let more = start(30..45);
    r.join().unwrap();
    expect(&e, &format!("name={name}&instances=30"));
    let want: Vec<String> = first.iter().chain(&more).map(|c| c.id("6379")).collect();
    let mut want = want;
    want.sort();
    let have: Vec<String> = services_with(&e, &tag).into_iter().map(|s| s.0).collect();
    assert_eq!(have, want, "0 stale, 0 missing");
    remove(first);
    remove(more);
    expect(&e, &format!("name={name}&instances=0"));
    assert!(services_with(&e, &tag).is_empty());
}

/// A proxy of the engine socket that the test stops (listener gone, open
/// connections cut) and starts again.
struct Proxy {
    path: PathBuf,
    conns: Arc<Mutex<Vec<UnixStream>>>,
    accept: Option<std::thread::JoinHandle<()>>,
    stopping: Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    fn start(path: PathBuf) -> Proxy {
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let conns: Arc<Mutex<Vec<UnixStream>>> = Arc::default();
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (c, s) = (conns.clone(), stopping.clone());
        let accept = std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(engine) = UnixStream::connect(ENGINE) else {
                    continue;
                };
                let mut list = c.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(engine.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), engine.try_clone().unwrap()),
                    (engine, client),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy {
            path,
            conns,
            accept: Some(accept),
            stopping,
        }
    }

    fn stop(mut self) -> PathBuf {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = UnixStream::connect(&self.path);
        self.accept.take().unwrap().join().unwrap();
        let _ = std::fs::remove_file(&self.path);
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        self.path.clone()
    }
}

#[test]
fn event_stream_cut_mid_run_is_reconciled_after() {
    let Some(img) = images() else { return };
    let e = Emulator::start();
    let dir = fresh_dir("reg-proxy");
    let proxy = Proxy::start(dir.join("docker.sock"));
    let host = format!("unix://{}", proxy.path.display());
    let mut reg = Reg::start_env(
        &["-ip", "127.0.0.1", "-node", NODE, &consul_uri(&e)],
        &[("DOCKER_HOST", &host)],
    );
    let a = Ctr::run("cut-a", &["-p", &format!("{}:6379", free())], &img.redis);
    present(&e, &a.id("6379"));
    let path = proxy.stop();
    reg.expect_line("event stream failed");
    // Meanwhile: one container goes, another comes.
    let a_id = a.id("6379");
    a.remove();
    let b = Ctr::run("cut-b", &["-p", &format!("{}:6379", free())], &img.redis);
    let _proxy = Proxy::start(path);
    present(&e, &b.id("6379"));
    absent(&e, &a_id);
    reg.expect_line("event stream succeeded after");
    // And it follows events again.
    let b_id = b.id("6379");
    b.remove();
    absent(&e, &b_id);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn resync_sends_registrations_the_registry_lost_again() {
    let Some(img) = images() else { return };
    let e = Emulator::start();
    let _reg = Reg::start(&[
        "-ip",
        "127.0.0.1",
        "-node",
        NODE,
        "-resync",
        "1",
        &consul_uri(&e),
    ]);
    let c = Ctr::run("resync", &["-p", &format!("{}:6379", free())], &img.redis);
    let id = c.id("6379");
    present(&e, &id);
    // Gone behind tug's back (an agent that lost its state).
    let r = e.api(
        "PUT",
        &format!("/v1/agent/service/deregister/{}", http_enc(&id)),
        "",
    );
    assert_eq!(r.status, 200);
    let since = e.request_seq();
    expect(
        &e,
        &format!("request=/v1/agent/service/register&since={since}"),
    );
    present(&e, &id);
}

#[test]
fn registry_down_during_a_start_registers_when_back() {
    let Some(img) = images() else { return };
    let e = Emulator::start();
    let _reg = Reg::start(&["-ip", "127.0.0.1", "-node", NODE, &consul_uri(&e)]);
    e.fault("refuse");
    let c = Ctr::run("down", &["-p", &format!("{}:6379", free())], &img.redis);
    let gone = Ctr::run(
        "down-gone",
        &["-p", &format!("{}:6379", free())],
        &img.redis,
    );
    let gone_id = gone.id("6379");
    gone.remove();
    e.clear_fault();
    present(&e, &c.id("6379"));
    // The container that came and went while it was down left nothing.
    let later = Ctr::run(
        "down-later",
        &["-p", &format!("{}:6379", free())],
        &img.redis,
    );
    present(&e, &later.id("6379"));
    assert!(services_with(&e, &gone_id).is_empty());
}

#[test]
fn cleanup_removes_this_nodes_leftovers_only() {
    let Some(img) = images() else { return };
    let e = Emulator::start();
    let stale = format!("{NODE}:tug-reg-{}-stale:80", run_id());
    let other = format!("othernode:tug-reg-{}-stale:80", run_id());
    for id in [&stale, &other] {
        let body = format!(
            "{{\"ID\":{},\"Name\":\"stale\",\"Port\":80}}",
            json::quote(id)
        );
        let r = e.api("PUT", "/v1/agent/service/register", &body);
        assert_eq!(r.status, 200);
    }
    let c = Ctr::run("keep", &["-p", &format!("{}:6379", free())], &img.redis);
    let _reg = Reg::start(&[
        "-ip",
        "127.0.0.1",
        "-node",
        NODE,
        "-cleanup",
        &consul_uri(&e),
    ]);
    present(&e, &c.id("6379"));
    absent(&e, &stale);
    present(&e, &other);
    present(&e, &c.id("6379"));
}

#[test]
fn sigterm_deregisters_and_ctl_status_lists_services() {
    let Some(img) = images() else { return };
    let e = Emulator::start();
    let reg = Reg::start(&["-ip", "127.0.0.1", "-node", NODE, &consul_uri(&e)]);
    let c = Ctr::run("term", &["-p", &format!("{}:6379", free())], &img.redis);
    present(&e, &c.id("6379"));
    let mut ctl = tug_cmd(&["ctl", "status"]);
    ctl.env("TUG_SOCKET", reg.socket());
    let (code, out, err) = output(ctl);
    assert_eq!(code, 0, "tug ctl status: {err}\n{out}");
    let line = out
        .lines()
        .find(|l| l.contains(&c.id("6379")) && l.contains("container"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("redis 127.0.0.1:") && line.contains(&c.0),
        "{line}"
    );
    let (code, log) = reg.stop();
    assert_eq!(code, 0, "{log}");
    absent(&e, &c.id("6379"));
}

#[test]
fn sigterm_with_on_success_leaves_registrations_and_stop_removes() {
    let Some(img) = images() else { return };
    let e = Emulator::start();
    let args = [
        "-ip",
        "127.0.0.1",
        "-node",
        NODE,
        "-deregister",
        "on-success",
    ];
    let uri = consul_uri(&e);
    let reg = Reg::start(&[&args[..], &[uri.as_str()]].concat());
    let stopped = Ctr::run(
        "on-success-stop",
        &["-p", &format!("{}:6379", free())],
        &img.redis,
    );
    let kept = Ctr::run(
        "on-success-kept",
        &["-p", &format!("{}:6379", free())],
        &img.redis,
    );
    present(&e, &stopped.id("6379"));
    present(&e, &kept.id("6379"));
    // `docker stop`: the probe exits 0 on SIGTERM, a success: removed.
    docker_ok(&["stop", "-t", "10", &stopped.0]);
    absent(&e, &stopped.id("6379"));
    let (code, log) = reg.stop();
    assert_eq!(code, 0, "{log}");
    // tug's own exit leaves the running container's service in place.
    e.expect(&format!(
        "service={}&present=1&hold=1s",
        http_enc(&kept.id("6379"))
    ));
}

#[test]
fn sigterm_with_the_registry_down_exits_within_the_deadline() {
    let Some(img) = images() else { return };
    let e = Emulator::start();
    let reg = Reg::start(&["-ip", "127.0.0.1", "-node", NODE, &consul_uri(&e)]);
    let c = Ctr::run(
        "term-down",
        &["-p", &format!("{}:6379", free())],
        &img.redis,
    );
    present(&e, &c.id("6379"));
    e.fault("refuse");
    let t = std::time::Instant::now();
    let (code, log) = reg.stop();
    assert_eq!(code, 0, "{log}");
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "{:?}\n{log}",
        t.elapsed()
    );
    assert!(log.contains("not deregistered"), "{log}");
}

/// `DOCKER_HOST=tcp://…`: the engine reached over TCP (socat relays a
/// loopback port to the engine's socket), events and inspects alike.
#[test]
fn docker_host_over_tcp() {
    let Some(img) = images() else { return };
    let Some(socat) = common::peers::need("socat") else {
        return;
    };
    let port = free();
    let mut relay = Command::new(socat)
        .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr"))
        .arg(format!("UNIX-CONNECT:{ENGINE}"))
        .spawn()
        .expect("run socat");
    let e = Emulator::start();
    let host = format!("tcp://127.0.0.1:{port}");
    let reg = Reg::start_env(
        &["-ip", "127.0.0.1", "-node", NODE, &consul_uri(&e)],
        &[("DOCKER_HOST", &host)],
    );
    let c = Ctr::run("tcp-host", &["-p", &format!("{}:6379", free())], &img.redis);
    present(&e, &c.id("6379"));
    let id = c.id("6379");
    c.remove();
    absent(&e, &id);
    drop(reg);
    let _ = relay.kill();
    let _ = relay.wait();
}

#[test]
fn node_identity_is_the_engines_name() {
    let Some(img) = images() else { return };
    let e = Emulator::start();
    let _reg = Reg::start(&["-ip", "127.0.0.1", &consul_uri(&e)]);
    let name = docker_ok(&["info", "--format", "{{.Name}}"]);
    let c = Ctr::run(
        "engine-name",
        &["-p", &format!("{}:6379", free())],
        &img.redis,
    );
    present(&e, &format!("{name}:{}:6379", c.0));
}

#[test]
fn etcd_keys_with_leases_and_the_skydns2_layout() {
    let Some(img) = images() else { return };
    let Some(etcd) = Etcd::start() else { return };
    let p = free();
    let c = Ctr::run("etcd", &["-p", &format!("{p}:6379")], &img.redis);
    let key = format!("/services/redis/{}", c.id("6379"));
    let _reg = Reg::start(&[
        "-ip",
        "127.0.0.1",
        "-node",
        NODE,
        "-ttl",
        "20",
        "-ttl-refresh",
        "5",
        &format!("etcd://{}/services", etcd.addr()),
    ]);
    assert!(
        etcd.wait_key(
            &key,
            Some(&format!("127.0.0.1:{p}")),
            Duration::from_secs(20)
        ),
        "{key}"
    );
    let ttl = etcd.lease_ttl(&key).expect("a lease");
    assert!(ttl > 0 && ttl <= 20, "lease TTL {ttl}");
    let q = free();
    let d = Ctr::run(
        "sky2",
        &["-p", &format!("{q}:6379"), "-e", "SERVICE_ID=dns1"],
        &img.redis,
    );
    let _sky = Reg::start(&[
        "-ip",
        "127.0.0.1",
        "-node",
        NODE,
        &format!("skydns2://{}/skydns.local", etcd.addr()),
    ]);
    let sky_key = "/skydns/local/skydns/redis/dns1";
    let value = format!("{{\"host\":\"127.0.0.1\",\"port\":{q}}}");
    assert!(
        etcd.wait_key(sky_key, Some(&value), Duration::from_secs(20)),
        "{sky_key}"
    );
    assert!(
        etcd.lease_of(sky_key).is_none_or(|l| l == "0"),
        "no -ttl, no lease"
    );
    d.remove();
    assert!(etcd.wait_key(sky_key, None, Duration::from_secs(20)));
    c.remove();
    assert!(etcd.wait_key(&key, None, Duration::from_secs(20)));
}

#[test]
fn consulkv_layout() {
    let Some(img) = images() else { return };
    let e = Emulator::start();
    let p = free();
    let c = Ctr::run("kv", &["-p", &format!("{p}:6379")], &img.redis);
    // Leftovers: this node's (an earlier run's) go with -cleanup, another
    // node's stay.
    let stale = format!("svc/redis/{NODE}:tug-reg-{}-gone:6379", run_id());
    let other = format!("svc/redis/othernode:tug-reg-{}-gone:6379", run_id());
    e.kv_put(&stale, "192.0.2.9:1");
    e.kv_put(&other, "192.0.2.9:2");
    let kv = format!("consulkv://{}/svc", e.addr());
    let _reg = Reg::start(&["-ip", "127.0.0.1", "-node", NODE, "-cleanup", &kv]);
    let key = format!("svc/redis/{}", c.id("6379"));
    expect(&e, &format!("kv={}&value=127.0.0.1:{p}", http_enc(&key)));
    expect(&e, &format!("kv={}&present=0", http_enc(&stale)));
    assert_eq!(e.kv_get(&other).as_deref(), Some("192.0.2.9:2"));
    c.remove();
    expect(&e, &format!("kv={}&present=0", http_enc(&key)));
}

#[test]
fn command_line_errors_and_help() {
    let (code, out, _) = output(tug_cmd(&["registrator", "--help"]));
    assert_eq!(code, 0);
    assert!(out.contains("usage: tug registrator"), "{out}");
    let (code, _, err) = output(tug_cmd(&["registrator", "consul://x", "-ip", "1.2.3.4"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("tug registrator:"), "{err}");
    // The registry unreachable at start: fatal after -retry-attempts + 1
    // tries, -retry-interval apart.
    let port = free_port();
    let uri = format!("consul://127.0.0.1:{port}");
    let mut cmd = tug_cmd(&[
        "registrator",
        "-retry-attempts",
        "2",
        "-retry-interval",
        "50",
        &uri,
    ]);
    cmd.env(
        "TUG_SOCKET",
        std::env::temp_dir().join(format!("tug-reg-{}.sock", run_id())),
    );
    let (code, _, err) = output(cmd);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.matches("cannot reach the registry").count(), 3, "{err}");
    // Installed as `registrator`.
    let dir = fresh_dir("reg-argv0");
    let link = dir.join("registrator");
    std::os::unix::fs::symlink(tug(), &link).unwrap();
    let (code, _, err) = output(Command::new(&link));
    assert_eq!(code, 2);
    assert!(err.starts_with("registrator: "), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
