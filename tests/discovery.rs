//! Discovery end to end: the real binary registering advertised jobs in the
//! Consul emulator (tests/consul/emulator.py) and in a real etcd, through
//! health changes, agent restarts, faults and shutdown, and watches that
//! run onChange jobs with the instances they saw.
//!
//! Consul assertions are single blocking waits on the emulator; etcd ones
//! read the store until a deadline. tug logs to stdout here (logging.output)
//! so its lines and its jobs' output can be waited for.

mod common;

use common::consul::Emulator;
use common::etcd::Etcd;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

fn temp_dir(name: &str) -> PathBuf {
    fresh_dir(&format!("disc-{name}"))
}

fn supervise(dir: &Path, body: &str) -> Command {
    let path = dir.join("config.json5");
    std::fs::write(&path, body).unwrap();
    let mut c = tug_cmd(&["--config", path.to_str().unwrap()]);
    c.env("TUG_SOCKET", dir.join("tug.sock"))
        .env_remove("CONSUL_HTTP_ADDR")
        .env_remove("ETCD_ENDPOINTS");
    c
}

/// An app whose http health check passes while `dir/www/healthy` exists:
/// python's http.server answers 200 for it and 404 once it is removed.
struct App {
    port: u16,
    www: PathBuf,
}

impl App {
    fn new(dir: &Path) -> App {
        let www = dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(www.join("healthy"), "ok").unwrap();
        App {
            port: free_port(),
            www,
        }
    }

    /// The job, advertised as `web` with a tag and meta.
    fn job(&self, ttl: &str) -> String {
        format!(
            r#"{{ name: "web",
                 exec: ["python3", "-m", "http.server", "--bind", "127.0.0.1", "{port}", "--directory", "{www}"],
                 port: {port}, interfaces: ["static:127.0.0.1"], tags: ["v1"], meta: {{ version: "1.2" }},
                 health: {{ http: "http://127.0.0.1:{port}/healthy", interval: "100ms", ttl: "{ttl}" }} }}"#,
            port = self.port,
            www = self.www.display()
        )
    }

    fn set_healthy(&self, on: bool) {
        let f = self.www.join("healthy");
        if on {
            std::fs::write(f, "ok").unwrap();
        } else {
            std::fs::remove_file(f).unwrap();
        }
    }
}

/// Stops tug with SIGTERM and returns its exit code and stderr.
fn stop(r: Running) -> (Option<i32>, String) {
    send(r.pid(), libc::SIGTERM);
    let (status, _, err) = r.finish();
    (status.code(), err)
}

#[test]
fn consul_registration_follows_health_restarts_and_shutdown() {
    let consul = Emulator::start();
    let dir = temp_dir("consul-reg");
    let app = App::new(&dir);
    let cfg = format!(
        r#"{{ consul: "{}", logging: {{ output: "stdout" }}, jobs: [ {} ] }}"#,
        consul.addr(),
        app.job("30s")
    );
    let r = Running::start(supervise(&dir, &cfg));
    let id = format!("web-{}", hostname());
    let check = format!("service:{id}");
    consul.expect(&format!(
        "service={id}&status=passing&address=127.0.0.1&port={}&tag=v1&meta=version:1.2&timeout=10s",
        app.port
    ));

    // A failing check is critical at once, long before the 30 s TTL lapses.
    let failed_at = Instant::now();
    app.set_healthy(false);
    consul.expect(&format!("check={check}&status=critical&timeout=5s"));
    assert!(failed_at.elapsed() < Duration::from_secs(5));
    app.set_healthy(true);
    consul.expect(&format!("check={check}&status=passing&timeout=5s"));

    // An agent that lost its data dir forgets the service: tug registers
    // it again within one TTL, on its next heartbeat.
    // (Not a wait for its absence: tug may register it again before such
    // a wait could look.)
    let seq = consul.request_seq();
    consul.restart(false);
    consul.expect(&format!(
        "request=/v1/agent/service/register&method=PUT&since={seq}&timeout=30s"
    ));
    consul.expect(&format!("service={id}&status=passing&timeout=30s"));

    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");
    consul.expect(&format!("service={id}&present=0&timeout=1s"));
    consul.expect(&format!("check={check}&present=0&timeout=1s"));
}

#[test]
fn consul_initial_status_registers_before_the_first_check() {
    let consul = Emulator::start();
    let dir = temp_dir("consul-initial");
    let cfg = format!(
        r#"{{ consul: "{}", jobs: [ {{ name: "slow", exec: ["{}", "sleep", "60000"],
             port: 7000, interfaces: ["static:127.0.0.1"], initial_status: "warning",
             health: {{ exec: "false", interval: "1h", ttl: "1h" }} }} ] }}"#,
        consul.addr(),
        probe_str()
    );
    let r = Running::start(supervise(&dir, &cfg));
    let id = format!("slow-{}", hostname());
    consul.expect(&format!("check=service:{id}&status=warning&timeout=10s"));
    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");
    consul.expect(&format!("service={id}&present=0&timeout=1s"));
}

#[test]
fn consul_watch_runs_onchange_with_the_new_instances() {
    let consul = Emulator::start();
    let dir = temp_dir("consul-watch");
    let cfg = format!(
        r#"{{ consul: "{}", logging: {{ output: "stdout" }},
             watches: [ {{ name: "backend", interval: 5 }} ],
             jobs: [
               {{ name: "onchange", exec: ["sh", "-c", "echo \"instances=[$TUG_WATCH_BACKEND]\""],
                  when: {{ source: "watch.backend", each: "changed" }} }},
               {{ name: "up", exec: "echo backend is up", when: {{ source: "watch.backend", each: "healthy" }} }},
               {{ name: "down", exec: "echo backend is down", when: {{ source: "watch.backend", each: "unhealthy" }} }}
             ] }}"#,
        consul.addr()
    );
    let mut r = Running::start(supervise(&dir, &cfg));
    // The first result counts: an absent service is unhealthy.
    r.expect_line("instances=[]");
    r.expect_line("backend is down");

    let started = Instant::now();
    consul.register_other_on(
        "node2",
        "10.0.0.7",
        r#"{"ID":"backend-1","Name":"backend","Port":9000,"Tags":["a"],
            "Check":{"CheckID":"b1","TTL":"1h","Status":"passing"}}"#,
    );
    r.expect_line("instances=[10.0.0.7:9000]");
    r.expect_line("backend is up");
    // Blocking queries: the change arrives in milliseconds, not after the
    // watch's 5 s interval.
    assert!(started.elapsed() < Duration::from_secs(3));

    // A change of tags alone is a change.
    consul.register_other_on(
        "node2",
        "10.0.0.7",
        r#"{"ID":"backend-1","Name":"backend","Port":9000,"Tags":["b"],
            "Check":{"CheckID":"b1","TTL":"1h","Status":"passing"}}"#,
    );
    r.expect_line("instances=[10.0.0.7:9000]");
    // A critical instance is not among the passing ones.
    consul.set_check_on(Some("node2"), "b1", "critical");
    r.expect_line("instances=[]");
    r.expect_line("backend is down");
    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");
}

/// tug watching service `backend` with an onChange job that prints the
/// instances it was started with; returns once the first (empty) result
/// ran it and the blocking query that follows is at the emulator.
fn start_watching(consul: &Emulator, dir: &Path) -> Running {
    let cfg = format!(
        r#"{{ consul: "{}", logging: {{ output: "stdout" }},
             watches: [ {{ name: "backend", interval: 1 }} ],
             jobs: [ {{ name: "onchange", exec: ["sh", "-c", "echo \"seen=[$TUG_WATCH_BACKEND]\""],
                        when: {{ source: "watch.backend", each: "changed" }} }} ] }}"#,
        consul.addr()
    );
    let mut r = Running::start(supervise(dir, &cfg));
    r.expect_line("seen=[]");
    consul.expect("request=/v1/health/service/backend?index=&timeout=10s");
    r
}

/// Makes one change per port (the instance `backend-1` on node2 moves to
/// it), `gap` apart, from a second thread, while this one reads the
/// onChange runs as they come. Returns when each change was made and
/// each run (when its line arrived, the port it saw), up to the run that
/// saw the last port.
fn change_series(
    consul: &Emulator,
    r: &mut Running,
    ports: &[u16],
    gap: Duration,
) -> (Vec<Instant>, Vec<(Instant, u16)>) {
    std::thread::scope(|s| {
        let changer = s.spawn(|| {
            let start = Instant::now();
            let mut made = Vec::new();
            for (k, port) in ports.iter().enumerate() {
                // Pacing the workload (a rolling deploy), not waiting for tug.
                let at = start + gap * k as u32;
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
                made.push(Instant::now());
                consul.register_other_on(
                    "node2",
                    "10.0.0.7",
                    &format!(
                        r#"{{"ID":"backend-1","Name":"backend","Port":{port},
                             "Check":{{"CheckID":"b1","TTL":"1h","Status":"passing"}}}}"#
                    ),
                );
            }
            made
        });
        let last = *ports.last().unwrap();
        let mut runs = Vec::new();
        loop {
            let line = r.expect_line("seen=[10.0.0.7:");
            let at = Instant::now();
            let port: u16 = line
                .split("seen=[10.0.0.7:")
                .nth(1)
                .and_then(|p| p.split(']').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("no port in {line:?}"));
            runs.push((at, port));
            if port == last {
                break;
            }
        }
        (changer.join().unwrap(), runs)
    })
}

/// Changes 250 ms apart: each comes after a quiet moment longer than the
/// watch's pacing (one query per 200 ms at most), so the blocking query is
/// already waiting at the agent and each change reaches its own onChange
/// run at once. Structure first: one run and one new query per change,
/// nothing coalesced (the old pacing, 2 queries a second after a burst of
/// 3, could answer at most 9 of these 12). The time bound is generous
/// (300 ms for what takes ~10 ms: the emulator's write, the answer, a
/// fork+exec of sh) so a loaded machine does not trip it.
#[test]
fn consul_watch_change_after_a_quiet_moment_reaches_onchange_at_once() {
    let consul = Emulator::start();
    let dir = temp_dir("consul-watch-quiet");
    let mut r = start_watching(&consul, &dir);
    let seq = consul.request_seq();
    let ports: Vec<u16> = (9000..9012).collect();
    let (made, runs) = change_series(&consul, &mut r, &ports, Duration::from_millis(250));
    let seen: Vec<u16> = runs.iter().map(|r| r.1).collect();
    assert_eq!(seen, ports, "one onChange run per change, in order");
    // Each change's answer was followed by exactly one new query.
    consul.expect(&format!(
        "request=/v1/health/service/backend&since={seq}&count=12&max=12&hold=500ms"
    ));
    for (k, ((at, _), made)) in runs.iter().zip(&made).enumerate() {
        let took = at.duration_since(*made);
        assert!(
            took < Duration::from_millis(300),
            "change {k}: onChange after {took:?}"
        );
    }
    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");
}

/// A rolling deploy: a change every 150 ms, faster than the pacing allows
/// queries. Changes coalesce, but every run sees a newer state than the
/// one before, the last run sees the last change, every change is seen
/// within 200 ms (+ 200 ms of margin for the exec and a loaded machine;
/// the old pacing held changes up to 500 ms), and more than 10 runs come
/// out of the 20 changes (the old pacing allowed at most 3 + 2 a second,
/// about 10 here; this one about 16).
#[test]
fn consul_watch_under_a_rolling_deploy_reflects_every_change_within_200ms() {
    let consul = Emulator::start();
    let dir = temp_dir("consul-watch-churn");
    let mut r = start_watching(&consul, &dir);
    let seq = consul.request_seq();
    let ports: Vec<u16> = (9100..9120).collect();
    let started = Instant::now();
    let (made, runs) = change_series(&consul, &mut r, &ports, Duration::from_millis(150));
    let window = started.elapsed();
    for w in runs.windows(2) {
        assert!(w[0].1 < w[1].1, "a run saw an older state: {runs:?}");
    }
    for (k, (made, port)) in made.iter().zip(&ports).enumerate() {
        let (at, _) = runs
            .iter()
            .find(|(_, p)| p >= port)
            .expect("every change is seen");
        let took = at.duration_since(*made);
        assert!(
            took < Duration::from_millis(400),
            "change {k} (port {port}) seen after {took:?}; runs {runs:?}"
        );
    }
    assert!(runs.len() > 10, "{} runs for 20 changes", runs.len());
    // The rate bound: 2 + 5 queries a second per watch.
    let state = consul.state_since(seq);
    let queries = common::json::items(common::json::at(&state, &["requests"]).unwrap()).len();
    let bound = 2 + (window.as_millis() as usize) / 200 + 1;
    assert!(queries <= bound, "{queries} queries in {window:?}");
    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn consul_kv_watch_fires_on_a_changed_value() {
    let consul = Emulator::start();
    let dir = temp_dir("consul-kv");
    let cfg = format!(
        r#"{{ consul: "{}", logging: {{ output: "stdout" }},
             watches: [ {{ name: "cfg", key: "config/app" }} ],
             jobs: [
               {{ name: "reconfigure", exec: "echo config changed", when: {{ source: "watch.cfg", each: "changed" }} }},
               {{ name: "present", exec: "echo config present", when: {{ source: "watch.cfg", each: "healthy" }} }}
             ] }}"#,
        consul.addr()
    );
    let mut r = Running::start(supervise(&dir, &cfg));
    r.expect_line("config changed"); // the first result: absent
    consul.kv_put("config/app", "v1");
    r.expect_line("config present");
    consul.kv_put("config/app", "v2");
    r.expect_line("config changed");
    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");
}

/// While the agent stalls, refuses, fails or talks garbage, tug's own
/// clock keeps time: a 100 ms periodic job keeps ticking, and once the
/// agent is healthy again the service is registered.
#[test]
fn consul_faults_never_block_the_loop() {
    let consul = Emulator::start();
    let dir = temp_dir("consul-faults");
    let app = App::new(&dir);
    let cfg = format!(
        r#"{{ consul: "{}", logging: {{ output: "stdout" }}, jobs: [ {},
             {{ name: "tick", exec: "echo tick", when: {{ interval: "100ms" }} }} ] }}"#,
        consul.addr(),
        app.job("5s")
    );
    let mut r = Running::start(supervise(&dir, &cfg));
    let id = format!("web-{}", hostname());
    consul.expect(&format!("service={id}&status=passing&timeout=10s"));
    for mode in ["stall", "500", "malformed", "drop_mid_body", "refuse"] {
        consul.fault(mode);
        let t = Instant::now();
        for _ in 0..10 {
            r.expect_line("msg=\"tick\"");
        }
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "{mode}: 10 ticks of 100 ms took {:?}",
            t.elapsed()
        );
        consul.clear_fault();
        // Gone from the agent meanwhile: it must come back.
        consul.restart(false);
        consul.expect(&format!("service={id}&status=passing&timeout=10s"));
    }
    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");
    consul.expect(&format!("service={id}&present=0&timeout=1s"));
}

#[test]
fn consul_maintenance_takes_services_out_and_back() {
    let consul = Emulator::start();
    let dir = temp_dir("consul-maint");
    let app = App::new(&dir);
    let cfg = format!(
        r#"{{ consul: "{}", logging: {{ output: "stdout" }}, jobs: [ {} ] }}"#,
        consul.addr(),
        app.job("10s")
    );
    let r = Running::start(supervise(&dir, &cfg));
    let id = format!("web-{}", hostname());
    consul.expect(&format!("service={id}&status=passing&timeout=10s"));
    let ctl = |what: &str| {
        let mut c = tug_cmd(&["ctl", "maintenance", what]);
        c.env("TUG_SOCKET", dir.join("tug.sock"));
        let (code, out, err) = output(c);
        assert_eq!(code, 0, "{out}{err}");
    };
    ctl("on");
    consul.expect(&format!("service={id}&present=0&timeout=5s"));
    ctl("off");
    consul.expect(&format!("service={id}&status=passing&timeout=10s"));
    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn consul_from_the_environment_with_a_token() {
    let consul = Emulator::start_with(&["--token", "s3cret"]);
    let dir = temp_dir("consul-env");
    let app = App::new(&dir);
    let cfg = format!(r#"{{ jobs: [ {} ] }}"#, app.job("10s"));
    let mut cmd = supervise(&dir, &cfg);
    cmd.env("CONSUL_HTTP_ADDR", format!("http://{}", consul.addr()))
        .env("CONSUL_HTTP_TOKEN", "s3cret");
    let r = Running::start(cmd);
    let id = format!("web-{}", hostname());
    consul.expect(&format!("service={id}&status=passing&timeout=10s"));
    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");
    consul.expect(&format!("service={id}&present=0&timeout=1s"));
}

/// An agent address ContainerPilot takes but cannot use (`host:port:port`,
/// here from CONSUL_HTTP_ADDR, which no config check sees): tug runs as
/// with an agent it cannot reach. One warning per task names the reason,
/// the jobs and their health checks keep running, the status shows the
/// error, and shutdown is prompt and clean.
#[test]
fn consul_unparseable_address_is_an_unreachable_agent() {
    let dir = temp_dir("consul-bad-addr");
    let app = App::new(&dir);
    let cfg = format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [ {},
             {{ name: "tick", exec: "echo tick", when: {{ interval: "100ms" }} }} ] }}"#,
        app.job("10s")
    );
    let mut cmd = supervise(&dir, &cfg);
    cmd.env("CONSUL_HTTP_ADDR", "localhost:8500:8500");
    let mut r = Running::start(cmd);
    let why = "localhost:8500:8500 is not a valid address: \
               too many colons; an IPv6 address goes in brackets: [::1]:8500";
    let id = format!("web-{}", hostname());
    let line = r.expect_line(&format!("consul: registration for service {id} failed: "));
    assert!(
        line.contains(why) && line.contains("level=warning"),
        "{line}"
    );
    // Health checks keep running (the app logs each one), and so do jobs.
    for _ in 0..20 {
        r.expect_line("GET /healthy");
        r.expect_line("msg=\"tick\"");
    }
    let mut c = tug_cmd(&["ctl", "status", "--json"]);
    c.env("TUG_SOCKET", dir.join("tug.sock"));
    let (code, out, err) = output(c);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("\"registration\":\"error: {why}\"")),
        "{out}"
    );
    let stopped = Instant::now();
    let (code, rest, err) = {
        send(r.pid(), libc::SIGTERM);
        r.finish()
    };
    assert_eq!(code.code(), Some(0), "{err}");
    assert!(stopped.elapsed() < Duration::from_secs(3));
    // Once per failure streak, not once per retry (several in 2 s).
    let warnings = rest
        .iter()
        .filter(|l| l.contains("registration for service") && l.contains(why))
        .count();
    assert_eq!(warnings, 1, "{rest:#?}");
}

// ---- etcd ----

/// Whether `key` is (or is not) in the store within `limit`, waited for on
/// an etcd watch rather than by polling.
fn key_becomes(etcd: &Etcd, key: &str, present: bool, limit: Duration) -> bool {
    etcd.wait_prefix(key, limit, |kvs| {
        kvs.iter().any(|(k, _)| k == key) == present
    })
}

fn await_key(etcd: &Etcd, key: &str, present: bool, what: &str) {
    assert!(
        key_becomes(etcd, key, present, Duration::from_secs(10)),
        "timed out waiting for {what}"
    );
}

fn etcd_config(etcd: &Etcd, rest: &str) -> String {
    format!(
        r#"{{ etcd: {{ endpoints: ["{}"], prefix: "/services" }}, logging: {{ output: "stdout" }}, {rest} }}"#,
        etcd.endpoint()
    )
}

#[test]
fn etcd_registration_uses_a_lease_and_follows_health() {
    let Some(mut etcd) = Etcd::start() else {
        return;
    };
    let dir = temp_dir("etcd-reg");
    let app = App::new(&dir);
    let cfg = etcd_config(&etcd, &format!("jobs: [ {} ]", app.job("3s")));
    let r = Running::start(supervise(&dir, &cfg));
    let key = format!("/services/web/web-{}", hostname());
    await_key(&etcd, &key, true, "the registration");
    let value = etcd.get(&key).unwrap();
    for part in [
        "\"name\":\"web\"",
        "\"address\":\"127.0.0.1\"",
        &format!("\"port\":{}", app.port),
        "\"v1\"",
        "\"version\":\"1.2\"",
    ] {
        assert!(value.contains(part), "{part} missing in {value}");
    }
    // Kept alive past several TTLs: no event removes it for 7 s.
    assert!(
        !key_becomes(&etcd, &key, false, Duration::from_secs(7)),
        "the lease lapsed while healthy"
    );
    // Unhealthy: the key goes at once; healthy: it comes back.
    app.set_healthy(false);
    await_key(&etcd, &key, false, "the key to go");
    app.set_healthy(true);
    await_key(&etcd, &key, true, "the key to come back");

    // etcd loses everything (a new cluster): the lease is gone, tug grants
    // a new one and puts the key again.
    etcd.kill_and_wipe();
    etcd.restart();
    await_key(&etcd, &key, true, "re-registration after data loss");

    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(etcd.get_prefix("/services/"), vec![], "left behind");
}

#[test]
fn etcd_partition_and_recovery() {
    let Some(mut etcd) = Etcd::start() else {
        return;
    };
    let dir = temp_dir("etcd-part");
    let app = App::new(&dir);
    let cfg = etcd_config(
        &etcd,
        &format!(
            r#"jobs: [ {}, {{ name: "tick", exec: "echo tick", when: {{ interval: "100ms" }} }} ]"#,
            app.job("2s")
        ),
    );
    let mut r = Running::start(supervise(&dir, &cfg));
    let key = format!("/services/web/web-{}", hostname());
    await_key(&etcd, &key, true, "the registration");
    // A partition: etcd stops answering. The loop keeps its time.
    etcd.pause();
    let t = Instant::now();
    for _ in 0..30 {
        r.expect_line("msg=\"tick\"");
    }
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    etcd.resume();
    await_key(&etcd, &key, true, "the registration after the partition");
    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(etcd.get_prefix("/services/"), vec![]);
}

#[test]
fn etcd_watch_runs_onchange_with_the_new_instances() {
    let Some(etcd) = Etcd::start() else {
        return;
    };
    let dir = temp_dir("etcd-watch");
    let cfg = etcd_config(
        &etcd,
        r#"watches: [ { name: "backend" }, { name: "flag", key: "/flags/on" } ],
           jobs: [
             { name: "onchange", exec: ["sh", "-c", "echo \"instances=[$TUG_WATCH_BACKEND]\""],
               when: { source: "watch.backend", each: "changed" } },
             { name: "flag", exec: "echo flag set", when: { source: "watch.flag", each: "healthy" } }
           ]"#,
    );
    let mut r = Running::start(supervise(&dir, &cfg));
    r.expect_line("instances=[]");
    etcd.put(
        "/services/backend/b1",
        r#"{"id":"b1","name":"backend","address":"10.1.2.3","port":8080,"tags":[],"meta":{}}"#,
    );
    r.expect_line("instances=[10.1.2.3:8080]");
    etcd.put(
        "/services/backend/b2",
        r#"{"id":"b2","name":"backend","address":"fd00::5","port":8081,"tags":[],"meta":{}}"#,
    );
    r.expect_line("instances=[10.1.2.3:8080,[fd00::5]:8081]");
    etcd.delete("/services/backend/b1");
    r.expect_line("instances=[[fd00::5]:8081]");
    etcd.put("/flags/on", "1");
    r.expect_line("flag set");
    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn consul_telemetry_registers_itself_as_containerpilot() {
    let consul = Emulator::start();
    let dir = temp_dir("consul-telemetry");
    let cfg = format!(
        r#"{{ consul: "{}", logging: {{ output: "stdout" }},
             telemetry: {{ port: 0, interfaces: ["static:127.0.0.1"], tags: ["metrics"] }},
             jobs: [ {{ name: "idle", exec: ["{}", "sleep", "60000"] }} ] }}"#,
        consul.addr(),
        probe_str()
    );
    let mut r = Running::start(supervise(&dir, &cfg));
    let line = r.expect_line("telemetry listening on 127.0.0.1:");
    let port: u16 = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    let id = format!("containerpilot-{}", hostname());
    consul.expect(&format!(
        "service={id}&status=passing&address=127.0.0.1&port={port}&tag=metrics&timeout=10s"
    ));
    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");
    consul.expect(&format!("service={id}&present=0&timeout=1s"));
}

/// A name, not an address: the agent's host is resolved inside the loop
/// (here from /etc/hosts: localhost), and a name that does not resolve is
/// retried like any other failure while the jobs run.
#[test]
fn consul_by_host_name() {
    let consul = Emulator::start();
    let dir = temp_dir("consul-name");
    let app = App::new(&dir);
    let cfg = format!(
        r#"{{ consul: "localhost:{}", jobs: [ {} ] }}"#,
        consul.port(),
        app.job("10s")
    );
    let r = Running::start(supervise(&dir, &cfg));
    let id = format!("web-{}", hostname());
    consul.expect(&format!("service={id}&status=passing&timeout=10s"));
    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");

    let cfg = format!(
        r#"{{ consul: "no-such-host.invalid:8500", logging: {{ output: "stdout" }}, jobs: [ {},
             {{ name: "tick", exec: "echo tick", when: {{ interval: "100ms" }} }} ] }}"#,
        app.job("10s")
    );
    let mut r = Running::start(supervise(&dir, &cfg));
    for _ in 0..5 {
        r.expect_line("msg=\"tick\"");
    }
    let (code, err) = stop(r);
    assert_eq!(code, Some(0), "{err}");
}
