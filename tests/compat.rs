//! Every real ContainerPilot config in tests/compat/containerpilot must
//! pass `tug check` with the job graph ContainerPilot builds, except
//! stopping.json5, whose two typos ContainerPilot rejects too; where
//! ContainerPilot 3.8 would reject one, a warning says so. The small
//! configs in tests/compat/cases hold one case each of the compatibility
//! policy (README, "Compatibility with ContainerPilot") and show the exact
//! lines `tug check` prints for it.

mod common;

use common::*;
use std::path::PathBuf;

fn corpus() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compat/containerpilot");
    assert!(
        dir.is_dir(),
        "{} is missing: the corpus is part of the repo",
        dir.display()
    );
    dir
}

fn check(file: &str) -> (i32, String, String) {
    let mut cmd = tug_cmd(&["check", corpus().join(file).to_str().unwrap()]);
    cmd.env("CONSUL", "consul.example:8500");
    output(cmd)
}

/// The corpus files ContainerPilot 3.8 itself rejects (NOTICE.md), with
/// the warnings that say so.
const CORPUS_WARNINGS: [(&str, &[&str]); 5] = [
    (
        "consul-agent.json5",
        &[
            "26:15: warning: jobs[0].health: no 'interval' or 'ttl': tug checks every 5s (ContainerPilot 3.8 rejects a health check without them)",
            "50:5: warning: missing comma before this element (ContainerPilot 3.8 rejects this)",
            "62:9: warning: missing comma before \"timeout\" (ContainerPilot 3.8 rejects this)",
            "68:9: warning: missing comma before \"timeout\" (ContainerPilot 3.8 rejects this)",
        ],
    ),
    (
        "nginx-upstreams.json5",
        &[
            "18:15: warning: jobs[0].health: no 'interval' or 'ttl': tug checks every 5s (ContainerPilot 3.8 rejects a health check without them)",
            "58:9: warning: missing comma before \"timeout\" (ContainerPilot 3.8 rejects this)",
            "64:9: warning: missing comma before \"timeout\" (ContainerPilot 3.8 rejects this)",
        ],
    ),
    (
        "periodic-tasks.json5",
        &["11:7: warning: missing comma before \"restarts\" (ContainerPilot 3.8 rejects this)"],
    ),
    (
        "database-config.json5",
        &[
            "22:15: warning: jobs[0].health: no 'interval' or 'ttl': tug checks every 5s (ContainerPilot 3.8 rejects a health check without them)",
        ],
    ),
    (
        "service-reg-only.json5",
        &[
            "19:15: warning: jobs[0].health: no 'interval' or 'ttl': tug checks every 5s (ContainerPilot 3.8 rejects a health check without them)",
        ],
    ),
];

/// stderr's lines, each `tug: FILE:` stripped to what follows.
fn lines_of(err: &str, file: &std::path::Path) -> Vec<String> {
    let prefix = format!("tug: {}:", file.display());
    err.lines()
        .map(|l| {
            l.strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{l:?} does not start with {prefix:?}"))
                .to_string()
        })
        .collect()
}

#[test]
fn every_corpus_file_is_checked() {
    let mut seen = 0;
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".json5") {
            continue;
        }
        seen += 1;
        let (code, out, err) = check(&name);
        let lines = lines_of(&err, &corpus().join(&name));
        if name == "stopping.json5" {
            assert_eq!(code, 1, "{out}");
            // Both typos, in order, and nothing that only repeats them.
            assert_eq!(
                lines,
                [
                    "16:9: jobs[0].health.tll: unknown key \"tll\" (did you mean \"ttl\"?)",
                    "30:7: jobs[1].restart: unknown key \"restart\" (did you mean \"restarts\"?)"
                ],
                "{err}"
            );
        } else {
            assert_eq!(code, 0, "{name}: {err}");
            assert!(out.contains(": OK"), "{out}");
            let want = CORPUS_WARNINGS
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(&[][..], |(_, w)| *w);
            assert_eq!(lines, want, "{name}");
        }
    }
    assert!(seen >= 7, "the corpus has 7 files, saw {seen}");
}

#[test]
fn corpus_job_graphs_match_containerpilot() {
    let (_, out, err) = check("config-testdata.json5");
    assert!(
        out.contains("9 jobs, 2 watches, stopTimeout 5s"),
        "{out}{err}"
    );
    for line in [
        "job serviceA: starts once preStart exitSuccess; restarts never",
        "health exec [\"/bin/to/healthcheck/for/service/A.sh\"] every 19s, timeout 19s, ttl 30s",
        "job serviceB: starts at startup; restarts never",
        "health exec [\"/bin/to/healthcheck/for/service/B.sh\", \"B\"] every 20s, timeout 2s, ttl 1m43s",
        "job coprocessC: starts at startup; restarts unlimited",
        "job periodicTaskD: starts at startup, then every 1s; restarts unlimited",
        "exec [\"/bin/to/preStart.sh\", \"arg1\", \"arg2\"]",
        "job preStop: starts once serviceA stopping; restarts never",
        "job postStop: starts once serviceA stopped; restarts never",
        "job onChange-upstreamA: starts each watch.upstreamA changed; restarts never",
        "watch upstreamA: every 11s, tag dev",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let (_, out, _) = check("consul-agent.json5");
    assert!(
        out.contains(
            "exec [\"consul\", \"agent\", \"-rejoin\", \"-retry-join\", \"consul.example:8500\""
        ),
        "template rendered: {out}"
    );
    assert!(
        out.contains(
            "job app: starts once preStart exitSuccess (gives up after 2m); restarts unlimited"
        ),
        "{out}"
    );
    let (_, out, _) = check("periodic-tasks.json5");
    assert!(
        out.contains("job task1: starts at startup, then every 1m; restarts unlimited"),
        "{out}"
    );
    assert!(
        out.contains("job alarm-task1: starts each task1 exitFailed; restarts never"),
        "{out}"
    );
}

fn case(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/compat/cases")
        .join(file)
}

/// `tug check` on a case: exit code, stdout, and stderr's lines without
/// the `tug: FILE:` prefix.
fn check_case(file: &str) -> (i32, String, Vec<String>) {
    let path = case(file);
    let (code, out, err) = output(tug_cmd(&["check", path.to_str().unwrap()]));
    (code, out, lines_of(&err, &path))
}

/// The policy, case by case: what ContainerPilot 3.8 loads (though it can
/// never work) loads, with a warning that says what will happen; what it
/// rejects is an error, or a leniency whose warning says it would reject.
#[test]
fn each_compatibility_case_prints_what_happens() {
    let never = "this job will never start";
    let empty = "empty (a template variable that is not set?)";
    let cases: [(&str, i32, Vec<String>); 12] = [
        (
            "unknown-source.json5",
            0,
            Vec::from([
                format!("5:50: warning: jobs[1].when.source: \"backend-confg\" names no job or watch: {never} (did you mean \"backend-config\"?)"),
                format!("6:53: warning: jobs[2].when.source: \"watch.bakend\" names no job or watch: {never} (did you mean \"watch.backend\"?)"),
                format!("7:52: warning: jobs[3].when.source: \"db-from-another-image\" names no job or watch: {never}"),
                format!("8:54: warning: jobs[4].when.source: \"backend\" names no job or watch: {never} (did you mean \"watch.backend\"?)"),
            ]),
        ),
        (
            "no-source.json5",
            0,
            Vec::from([
                format!("3:42: warning: jobs[0].when.source: missing: no event matches once \"startup\" without a source, so {never} (ContainerPilot's startup event comes from source \"global\"; without 'when' a job starts at startup)"),
                format!("4:44: warning: jobs[1].when.source: missing: no event matches once \"shutdown\" without a source, so {never} (add the source: a job, watch.NAME or \"global\")"),
                format!("5:42: warning: jobs[2].when.source: missing: no event matches each \"healthy\" without a source, so {never} (add the source: a job, watch.NAME or \"global\")"),
            ]),
        ),
        (
            "cycle.json5",
            0,
            Vec::from([
                format!("3:38: warning: jobs[0].when: waits on job \"b\", which never starts (the jobs wait on each other): {never} either"),
                format!("4:38: warning: jobs[1].when: waits on job \"a\", which never starts (the jobs wait on each other): {never} either"),
            ]),
        ),
        (
            "empty-values.json5",
            0,
            Vec::from([
                format!("2:11: warning: consul: {empty}: tug uses 127.0.0.1:8500, as ContainerPilot does"),
                format!("3:21: warning: logging.level: {empty}: using the default, INFO, as ContainerPilot does"),
                format!("3:33: warning: logging.format: {empty}: using the default, text, as ContainerPilot does"),
                format!("3:45: warning: logging.output: {empty}: using the default, stderr, as ContainerPilot does"),
            ]),
        ),
        (
            "agent-no-host.json5",
            0,
            Vec::from(["1:11: warning: consul: \":8500\" has no host: tug uses 127.0.0.1:8500, as ContainerPilot does".to_string()]),
        ),
        (
            "agent-bad-address.json5",
            0,
            Vec::from(["1:11: warning: consul: \"localhost:8500:8500\" is not a valid host:port (too many colons; an IPv6 address goes in brackets: [::1]:8500): every request to the agent will fail; tug keeps retrying with backoff".to_string()]),
        ),
        (
            "duplicate-key.json5",
            0,
            Vec::from(["7:7: warning: jobs[0].when: duplicate key: this value replaces the one at 6:7 (the last one wins, as in ContainerPilot)".to_string()]),
        ),
        (
            "initial-status.json5",
            0,
            Vec::from([
                "3:48: warning: jobs[0].initial_status: has no effect without 'port': the job is not registered".to_string(),
                "4:48: warning: jobs[1].initial_status: has no effect without 'port': the job is not registered (and \"bogus\" is not passing, warning or critical)".to_string(),
            ]),
        ),
        (
            "v2.json5",
            1,
            Vec::from(["3:3: preStart: this is a ContainerPilot v2 config; tug reads v3 configs, where services become jobs with port and health, backends become watches, preStart/preStop/postStop become jobs with when, tasks become jobs with when.interval and coprocesses become jobs with restarts".to_string()]),
        ),
        (
            "every-error.json5",
            1,
            Vec::from([
                "3:42: jobs[0].restarts: \"forever\": accepts a whole number, \"unlimited\" or \"never\"".to_string(),
                "3:66: jobs[0].stopTimeout: invalid duration \"soon\": expected a number, as in \"5s\" or \"1m30s\"".to_string(),
                "4:44: jobs[1].stopSignal: unknown signal \"SIGNOPE\"".to_string(),
                "4:69: jobs[1].restartDelay: invalid duration \"later\": expected a number, as in \"5s\" or \"1m30s\"".to_string(),
                "8:28: jobs[2].when.onse: unknown key \"onse\" (did you mean \"once\"?)".to_string(),
                "9:31: jobs[2].health.intreval: unknown key \"intreval\" (did you mean \"interval\"?)".to_string(),
                "9:44: jobs[2].health.tll: unknown key \"tll\" (did you mean \"ttl\"?)".to_string(),
            ]),
        ),
        (
            "negative-ttl.json5",
            1,
            Vec::from(["4:86: jobs[0].health.ttl: -1 is negative: expected a duration > 0 such as 30 or \"30s\"".to_string()]),
        ),
        (
            "template-brace.json5",
            1,
            Vec::from(["2:23: unclosed action: the \"{{\" at 2:12 ends with a single \"}\" (expected \"}}\")".to_string()]),
        ),
    ];
    for (file, want_code, want) in cases {
        let (code, out, lines) = check_case(file);
        assert_eq!(lines, want, "{file}");
        assert_eq!(code, want_code, "{file}: {out}");
        if code == 0 {
            assert!(out.contains(": OK"), "{file}: {out}");
        }
    }
    // What the warnings say happens is what `tug check` shows.
    let (_, out, _) = check_case("unknown-source.json5");
    for line in [
        "job app: starts never (no event can start it)",
        "job reload: starts never (no event can start it)",
        "job hup: starts each SIGHUP signal",
        "job glob: starts once global startup",
    ] {
        assert!(out.contains(line), "{line:?} in {out}");
    }
    let (_, out, _) = check_case("empty-values.json5");
    assert!(out.contains("discovery: consul at 127.0.0.1:8500"), "{out}");
    let (_, out, _) = check_case("agent-bad-address.json5");
    assert!(
        out.contains("discovery: consul at localhost:8500:8500"),
        "{out}"
    );
    let (_, out, _) = check_case("duplicate-key.json5");
    assert!(
        out.contains("job app: starts once setup exitSuccess"),
        "{out}"
    );
    let (_, out, _) = check_case("cycle.json5");
    assert!(
        out.contains("job pre-stop-a: starts once a stopping"),
        "{out}"
    );
}

/// A job whose `when` can never match really never runs, and does not
/// hold up shutdown either (not even one that waits for a stop event).
#[test]
fn jobs_that_never_start_never_run_and_shutdown_still_completes() {
    let path = case("never-starts.json5");
    let mut cmd = tug_cmd(&["--config", path.to_str().unwrap()]);
    cmd.env("TEST_DIR", fresh_dir("compat-never"));
    let mut r = Running::start(cmd);
    r.expect_line("app up");
    send(r.pid(), libc::SIGTERM);
    let (status, out, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    let ran: Vec<&str> = out
        .iter()
        .filter_map(|l| l.split_once("msg=\"ran: ")?.1.split_once('"'))
        .map(|(job, _)| job)
        .collect();
    // ring-a stops at shutdown without having run: what waits for that
    // runs then, as in ContainerPilot.
    assert_eq!(ran, ["after-ring"], "{out:?}");
}
