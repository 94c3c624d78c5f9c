//! Every real ContainerPilot config in tests/compat/containerpilot must
//! pass `tug check` with the job graph ContainerPilot builds, except
//! stopping.json5, whose two typos ContainerPilot rejects too.

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
        if name == "stopping.json5" {
            assert_eq!(code, 1, "{out}");
            assert!(
                err.contains("jobs[0].health.tll: unknown key \"tll\" (did you mean \"ttl\"?)"),
                "{err}"
            );
            assert!(
                err.contains(
                    "jobs[1].restart: unknown key \"restart\" (did you mean \"restarts\"?)"
                ),
                "{err}"
            );
            assert!(
                err.contains("stopping.json5:16:9"),
                "file:line:col of tll: {err}"
            );
        } else {
            assert_eq!(code, 0, "{name}: {err}");
            assert!(out.contains(": OK"), "{out}");
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
