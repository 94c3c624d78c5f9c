//! tug's command line as a user meets it: help per command on stdout with
//! exit 0, one-line usage errors that say what was wrong and where help is,
//! and `tug check --strict`.

mod common;

use common::{fresh_dir, output, tug_cmd};
use std::path::PathBuf;

fn tug(args: &[&str]) -> (i32, String, String) {
    output({
        let mut c = tug_cmd(args);
        c.env_remove("TUG_CONFIG").env_remove("CONTAINERPILOT");
        c
    })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn config(tag: &str, text: &str) -> PathBuf {
    let path = fresh_dir(tag).join("app.json5");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_command_has_its_own_help_on_stdout() {
    for (args, first) in [
        (
            &["--help"][..],
            "Usage: tug [OPTIONS] [--] PROGRAM [ARGS] | --version",
        ),
        (
            &["-h"],
            "Usage: tug [OPTIONS] [--] PROGRAM [ARGS] | --version",
        ),
        (
            &["help"],
            "Usage: tug [OPTIONS] [--] PROGRAM [ARGS] | --version",
        ),
        (
            &["check", "--help"],
            "Usage: tug check [--strict] [--config] FILE",
        ),
        (
            &["check", "-h"],
            "Usage: tug check [--strict] [--config] FILE",
        ),
        (
            &["help", "check"],
            "Usage: tug check [--strict] [--config] FILE",
        ),
        (
            &["render", "--help"],
            "Usage: tug render [--config] FILE [--out FILE]",
        ),
        (
            &["help", "render"],
            "Usage: tug render [--config] FILE [--out FILE]",
        ),
    ] {
        let (code, out, err) = tug(args);
        assert_eq!((code, first_line(&out)), (0, first), "tug {args:?}: {err}");
        assert!(err.is_empty(), "tug {args:?}: {err}");
    }
    // `tug help ctl` is ctl's own usage.
    let (code, out, _) = tug(&["help", "ctl"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("usage: tug ctl"), "{out}");
    let (code, out, _) = tug(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("tug help [COMMAND]"), "{out}");
    assert!(out.contains("check [--strict]"), "{out}");
}

#[test]
fn usage_errors_are_one_line_and_a_pointer_to_help() {
    for (args, line) in [
        (
            &["--confg", "a.json5"][..],
            "tug: unknown option: --confg (did you mean --config?)",
        ),
        (&["--bogus", "x"], "tug: unknown option: --bogus"),
        (&["-x", "true"], "tug: unknown option: -x"),
        (&[], "tug: no command given"),
        (
            &["help", "chek"],
            "tug: unknown command: chek (did you mean check?)",
        ),
    ] {
        let (code, out, err) = tug(args);
        assert_eq!(code, 2, "tug {args:?}: {err}");
        assert!(out.is_empty(), "{out}");
        assert_eq!(
            err.lines().collect::<Vec<_>>(),
            [line, "Run 'tug --help' for usage."],
            "tug {args:?}"
        );
    }
    for (args, line) in [
        (
            &["check", "--confg", "a.json5"][..],
            "tug check: unknown option: --confg (did you mean --config?)",
        ),
        (
            &["check", "--stirct", "a.json5"],
            "tug check: unknown option: --stirct (did you mean --strict?)",
        ),
        (&["check"], "tug check: no config given (--config FILE)"),
    ] {
        let (code, _, err) = tug(args);
        assert_eq!(code, 2, "tug {args:?}: {err}");
        assert_eq!(
            err.lines().collect::<Vec<_>>(),
            [line, "Run 'tug check --help' for usage."],
            "tug {args:?}"
        );
    }
    let (code, _, err) = tug(&["render", "a", "--otu", "b"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "tug render: unknown option: --otu (did you mean --out?)\n\
         Run 'tug render --help' for usage.\n"
    );
}

#[test]
fn single_dash_long_options_say_which_option_was_meant() {
    for (word, long) in [
        ("-config", "--config"),
        ("-config=a.json5", "--config"),
        ("-socket", "--socket"),
        ("-grace", "--grace"),
        ("-help", "--help"),
        ("-version", "--version"),
        ("-confg", "--config"),
    ] {
        let (code, _, err) = tug(&[word, "a.json5"]);
        let shown = word.split('=').next().unwrap();
        assert_eq!(code, 2, "{word}: {err}");
        assert_eq!(
            first_line(&err),
            format!("tug: unknown option: {shown} (did you mean {long}?)"),
        );
    }
}

#[test]
fn a_mistyped_command_run_as_a_program_gets_a_hint() {
    let (code, _, err) = tug(&["chek", "a.json5"]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("exec chek failed"), "{err}");
    assert!(
        err.ends_with("tug: did you mean 'tug check'? (chek was run as a program)\n"),
        "{err}"
    );
    // No hint for a program that is nothing like a command.
    let (code, _, err) = tug(&["no-such-program-here"]);
    assert_eq!(code, 127);
    assert!(!err.contains("did you mean"), "{err}");
}

#[test]
fn check_strict_passes_a_clean_config() {
    let path = config(
        "cli-strict-clean",
        r#"{ jobs: [ { name: "a", exec: "true" } ] }"#,
    );
    let p = path.to_str().unwrap();
    for args in [&["check", "--strict", p][..], &["check", p, "--strict"]] {
        let (code, out, err) = tug(args);
        assert_eq!(code, 0, "{err}");
        assert_eq!(first_line(&out), format!("{p}: OK"));
        assert!(err.is_empty(), "{err}");
    }
}

/// Needs a loader that fills `Config.warnings` (a duplicate key warns).
#[test]
fn check_prints_warnings_and_strict_makes_them_errors() {
    let path = config(
        "cli-strict-warn",
        r#"{ jobs: [ { name: "a", exec: "true", exec: "false" } ] }"#,
    );
    let p = path.to_str().unwrap();
    let (code, out, err) = tug(&["check", p]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(first_line(&out), format!("{p}: OK"));
    assert!(
        err.starts_with(&format!("tug: {p}:")) && err.contains(": warning: "),
        "{err}"
    );
    let (code, out, strict_err) = tug(&["check", "--strict", p]);
    assert_eq!(code, 1, "{strict_err}");
    assert!(out.is_empty(), "{out}");
    // The same warnings, then the verdict.
    let n = err.lines().count();
    let s = if n == 1 { "" } else { "s" };
    assert_eq!(
        strict_err,
        format!("{err}tug: {p}: {n} warning{s} (--strict makes warnings errors)\n")
    );
}

/// The supervisor logs each warning once at start, at warning level (shown
/// by default), in the log format the config asks for.
#[test]
fn the_supervisor_logs_the_warnings_once_at_start() {
    let path = config(
        "cli-supervise-warn",
        r#"{ jobs: [ { name: "a", exec: "true", exec: "true" } ] }"#,
    );
    let p = path.to_str().unwrap();
    let (_, _, check_err) = tug(&["check", p]);
    let sock = path.with_file_name("tug.sock");
    let sock = sock.to_str().unwrap();
    let (code, _, err) = tug(&["--config", p, "--socket", sock, "--", "true"]);
    assert_eq!(code, 0, "{err}");
    let logged: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("level=warning msg=\"") && l.contains(": warning: "))
        .collect();
    assert_eq!(logged.len(), check_err.lines().count(), "{err}");
    assert!(logged[0].contains(&format!("msg=\"{p}:")), "{err}");
}
