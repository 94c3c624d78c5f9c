//! tug as an init outside a PID namespace (a child subreaper): exit codes,
//! signal forwarding, the signal state children get, zombie reaping,
//! graceful shutdown and tini's flags. The same duties as PID 1 are in
//! pid1.rs.

mod common;

use common::*;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::{Duration, Instant};

fn code(args: &[&str]) -> (i32, String, String) {
    output(tug_cmd(args))
}

#[test]
fn exit_codes_0_to_255_pass_through() {
    let p = probe_str();
    for n in 0..=255 {
        let (c, _, err) = code(&["--", &p, "exit", &n.to_string()]);
        assert_eq!(c, n, "exit {n}: stderr {err}");
    }
}

#[test]
fn death_by_signal_is_128_plus_n() {
    let p = probe_str();
    for sig in [1, 2, 3, 6, 9, 10, 11, 13, 14, 15, 24, 31, 35, 64] {
        let (c, _, err) = code(&["--", &p, "raise", &sig.to_string()]);
        assert_eq!(c, 128 + sig, "signal {sig}: {err}");
    }
}

#[test]
fn command_not_found_is_127_and_not_executable_is_126() {
    let (c, _, err) = code(&["--", "/nonexistent/cmd"]);
    assert_eq!(c, 127);
    assert!(
        err.contains("exec /nonexistent/cmd failed: No such file or directory"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");

    let (c, _, err) = code(&["no-such-command-anywhere"]);
    assert_eq!(c, 127, "{err}");

    let dir = tempdir();
    let file = dir.join("not-executable");
    std::fs::write(&file, "data").unwrap();
    let (c, _, err) = code(&["--", file.to_str().unwrap()]);
    assert_eq!(c, 126);
    assert!(err.contains("Permission denied"), "{err}");

    // A PATH entry that is not executable, then a real one: execvp's rule.
    let (c, _, _) = output({
        let mut cmd = tug_cmd(&["--", "probe", "exit", "7"]);
        let probe_dir = probe().parent().unwrap().to_str().unwrap().to_string();
        cmd.env("PATH", format!("{}:{probe_dir}", dir.display()));
        cmd
    });
    assert_eq!(c, 7, "found through PATH");
}

#[test]
fn usage_errors_exit_2_with_one_line_and_a_pointer_to_help() {
    for args in [
        &[][..],
        &["-x", "true"],
        &["--grace", "soon", "true"],
        &["-e", "300", "true"],
    ] {
        let (c, out, err) = code(args);
        assert_eq!(c, 2, "{args:?}");
        assert!(out.is_empty());
        assert!(err.starts_with("tug: "), "{err}");
        assert!(err.ends_with("\nRun 'tug --help' for usage.\n"), "{err}");
        assert_eq!(err.lines().count(), 2, "{err}");
    }
    let (c, out, _) = code(&["--version"]);
    assert_eq!((c, out.starts_with("tug ")), (0, true));
}

#[test]
fn installed_as_tini_or_docker_init_behaves_as_tini() {
    let dir = tempdir();
    for name in ["tini", "docker-init"] {
        let link = dir.join(name);
        std::os::unix::fs::symlink(tug(), &link).unwrap();
        let run = |args: &[&str]| {
            output({
                let mut c = Command::new(&link);
                c.args(args);
                c
            })
        };
        let (c, out, _) = run(&["--version"]);
        assert_eq!(c, 0);
        assert!(out.starts_with("tini version 0.19.0 - git."), "{out}");
        let (c, _, err) = run(&[]);
        assert_eq!(c, 1, "tini exits 1 on a bad command line");
        assert!(err.contains("Usage: tini"), "{err}");
        let (c, _, err) = run(&["--grace", "1s", "true"]);
        assert_eq!(c, 1, "tini has no --grace: {err}");
        let (c, _, _) = run(&["-s", "-e", "3", "--", &probe_str(), "exit", "3"]);
        assert_eq!(c, 0);
        let (c, out, _) = run(&["-l"]);
        assert!(c == 0 && out.contains("MIT"));
    }
}

#[test]
fn children_get_the_signal_state_tug_was_started_with() {
    // (blocked, ignored) given to tug by its parent -> what the child sees.
    let cases = [
        ("", "", 0u64, 0u64),
        ("10,12", "1,13", (1 << 9) | (1 << 11), 1 | (1 << 12)),
        ("15,2", "21,22", (1 << 14) | (1 << 1), (1 << 20) | (1 << 21)),
    ];
    for (blocked, ignored, blk, ign) in cases {
        let mut cmd = Command::new(probe());
        cmd.args(["with-sigstate", blocked, ignored, "--"])
            .arg(tug())
            .args(["--", "grep", "^Sig", "/proc/self/status"]);
        let (c, out, err) = output(cmd);
        assert_eq!(c, 0, "{err}");
        let field = |name: &str| {
            let line = out.lines().find(|l| l.starts_with(name)).unwrap();
            u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
        };
        assert_eq!(
            field("SigBlk:"),
            blk,
            "blocked for ({blocked}) ({ignored}):\n{out}"
        );
        assert_eq!(
            field("SigIgn:"),
            ign,
            "ignored for ({blocked}) ({ignored}):\n{out}"
        );
    }
}

#[test]
fn children_get_no_descriptors_above_2() {
    // The shell opens 5 and 9 and execs tug: tug must not pass them on.
    let script = format!(
        "exec 5</dev/null 9>/dev/null; exec {} -- {} fds",
        tug().display(),
        probe_str()
    );
    let (c, out, err) = output({
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", &script]);
        cmd
    });
    assert_eq!(c, 0, "{err}");
    assert_eq!(out.trim(), "fds above 2: []");
}

const FORWARDED: [i32; 12] = [
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
    libc::SIGALRM,
    libc::SIGURG,
    libc::SIGTSTP,
    libc::SIGINT,
    35,
    64,
];

#[test]
fn every_catchable_signal_reaches_the_child() {
    let mut r = Running::start(tug_cmd(&["--", &probe_str(), "signals"]));
    r.expect_line("main ready");
    for sig in FORWARDED {
        send(r.pid(), sig);
        r.expect_line(&format!("main got {sig}"));
    }
    send(r.pid(), libc::SIGTERM);
    r.expect_line("main got 15");
    let (status, _, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn dash_g_signals_the_whole_process_group() {
    let mut r = Running::start(tug_cmd(&["-g", "--", &probe_str(), "signals", "--fork"]));
    r.expect_line("main ready");
    r.expect_line("child ready");
    send(r.pid(), libc::SIGUSR1);
    r.expect_line("main got 10");
    r.expect_line("child got 10");
    send(r.pid(), libc::SIGTERM);
    let (status, lines, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(lines.iter().any(|l| l == "child got 15"), "{lines:?}");
}

#[test]
fn without_dash_g_only_the_main_child_gets_forwarded_signals() {
    let mut r = Running::start(tug_cmd(&["--", &probe_str(), "signals", "--fork"]));
    r.expect_line("main ready");
    r.expect_line("child ready");
    send(r.pid(), libc::SIGUSR1);
    r.expect_line("main got 10");
    // The child would have printed before main's TERM line if it got USR1.
    send(r.pid(), libc::SIGTERM);
    let (status, lines, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!lines.iter().any(|l| l == "child got 10"), "{lines:?}");
    // Shutdown still reaches it: every descendant gets SIGTERM.
    assert!(lines.iter().any(|l| l == "child got 15"), "{lines:?}");
}

#[test]
fn zombie_storm_of_1000_orphans_is_fully_reaped() {
    let (c, out, err) = code(&["-w", "--", &probe_str(), "orphans", "1000"]);
    assert_eq!(c, 0, "{out}\n{err}");
    assert!(out.contains("unreaped 0"), "{out}");
    let reaped = err
        .lines()
        .filter(|l| l.contains("Reaped zombie process with pid="))
        .count();
    assert_eq!(reaped, 1000, "-w warns once per reaped zombie");
}

#[test]
fn descendants_get_the_grace_period_and_no_more() {
    check_graceful_tree(tug_cmd, true);
}

#[test]
fn sigterm_stops_a_main_child_that_handles_it() {
    let mut r = Running::start(tug_cmd(&["--", &probe_str(), "term-after", "200"]));
    r.expect_line("ready");
    send(r.pid(), libc::SIGTERM);
    r.expect_line("term received");
    let (status, lines, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(lines.iter().any(|l| l == "finished cleanly"));
}

#[test]
fn a_main_child_ignoring_sigterm_is_killed_after_the_grace_period() {
    let p = probe_str();
    let start = Instant::now();
    let mut r = Running::start(tug_cmd(&[
        "--grace",
        "300ms",
        "--",
        &p,
        "with-sigstate",
        "",
        "15",
        "--",
        &p,
        "sleep",
        "60000",
    ]));
    r.expect_line("ready");
    send(r.pid(), libc::SIGTERM);
    let (status, _, err) = r.finish();
    assert_eq!(status.code(), Some(128 + 9), "{err}");
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[test]
fn tug_grace_env_sets_the_grace_period() {
    let start = Instant::now();
    let mut cmd = tug_cmd(&["--", &probe_str(), "tree", "ignore", "0"]);
    cmd.env("TUG_GRACE", "200ms");
    let (c, _, err) = output(cmd);
    assert_eq!(c, 0, "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "TUG_GRACE ignored"
    );
}

#[test]
fn dash_e_remaps_exit_codes_to_zero() {
    let p = probe_str();
    assert_eq!(code(&["-e", "3", "--", &p, "exit", "3"]).0, 0);
    assert_eq!(code(&["-e", "3", "--", &p, "exit", "4"]).0, 4);
    assert_eq!(
        code(&["-e", "143", "-e", "4", "--", &p, "raise", "15"]).0,
        0
    );
}

#[test]
fn dash_p_delivers_a_signal_when_tugs_parent_dies() {
    // sh starts tug in the background, then exits when the test closes its
    // stdin: tug must get SIGUSR1 and forward it.
    let script = format!(
        "{} -p SIGUSR1 -- {} signals & read x",
        tug().display(),
        probe_str()
    );
    let mut r = Running::start({
        let mut c = Command::new("/bin/sh");
        c.args(["-c", &script]);
        c
    });
    let ready = r.expect_line("main ready");
    let tug_pid: i32 = ready
        .trim_end_matches(')')
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    r.close_stdin();
    r.expect_line("main got 10");
    send(tug_pid, libc::SIGTERM);
    r.expect_line("main got 15");
}

#[test]
fn status_of_a_signalled_tug_child_is_reported_like_a_shell() {
    // Sanity check of the harness itself: a probe killed by SIGKILL.
    let mut r = Running::start(tug_cmd(&["--", &probe_str(), "term-after", "0"]));
    r.expect_line("ready");
    for c in children_of(r.pid()) {
        send(c, libc::SIGKILL);
    }
    let (status, _, _) = r.finish();
    assert_eq!(status.code(), Some(137));
    assert_eq!(status.signal(), None);
}

/// A fresh directory for one test, removed on drop (pass or fail).
struct TempDir(std::path::PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> TempDir {
    let dir = std::env::temp_dir().join(format!(
        "tug-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

#[test]
fn on_a_terminal_the_child_gets_the_foreground() {
    // `script` runs tug on a fresh pseudo-terminal as its foreground job.
    // The child's process group must become the terminal's foreground
    // group (fields 5 and 8 of /proc/PID/stat: pgrp and tpgid).
    let inner = format!("{} -- sh -c 'exec cat /proc/self/stat'", tug().display());
    let (c, out, err) = output({
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &inner, "/dev/null"]);
        cmd
    });
    assert_eq!(c, 0, "{err}");
    let stat = out.trim().replace('\r', "");
    let after = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let (pgrp, tpgid) = (fields[2], fields[5]);
    assert_eq!(pgrp, tpgid, "the child's group owns the terminal: {stat}");
    let pid = stat.split_whitespace().next().unwrap();
    assert_eq!(pgrp, pid, "and it is a group of its own: {stat}");
}

/// A minimal x86-64 ELF executable whose program interpreter (dynamic
/// loader) is `interp`: enough for the kernel to look for the loader.
fn elf_needing(interp: &str) -> Vec<u8> {
    let mut elf = vec![0u8; 120];
    elf[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
    elf[16] = 2; // ET_EXEC
    elf[18] = 62; // EM_X86_64
    elf[20] = 1; // EV_CURRENT
    elf[0x20] = 64; // e_phoff
    elf[0x34] = 64; // e_ehsize
    elf[0x36] = 56; // e_phentsize
    elf[0x38] = 1; // e_phnum
    let name = format!("{interp}\0");
    elf[64] = 3; // PT_INTERP
    elf[64 + 8] = 120; // p_offset
    elf[64 + 32] = name.len() as u8; // p_filesz
    elf[64 + 40] = name.len() as u8; // p_memsz
    elf.extend_from_slice(name.as_bytes());
    elf
}

#[test]
fn a_file_that_exists_but_cannot_run_says_why() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let write = |name: &str, body: &[u8], mode: u32| {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path.to_str().unwrap().to_string()
    };
    let interp = write("interp", b"not executable", 0o644);
    let cases = [
        (
            write("start.sh", b"#!/nonexistent/bash\necho hi\n", 0o755),
            127,
            "its interpreter /nonexistent/bash (#! line) was not found".to_string(),
        ),
        (
            write("env.sh", format!("#! {interp} -x\n").as_bytes(), 0o755),
            126,
            format!("its interpreter {interp} (#! line) is not executable (Permission denied)"),
        ),
        (
            write("plain.sh", b"#!/bin/sh\necho hi\n", 0o644),
            126,
            "it is not executable (Permission denied: no x permission bit)".to_string(),
        ),
        (
            write("server", &elf_needing("/nonexistent/ld-linux.so.2"), 0o755),
            127,
            "its ELF interpreter /nonexistent/ld-linux.so.2 was not found".to_string(),
        ),
    ];
    for (path, want_code, why) in cases {
        let (c, _, err) = code(&["--", &path]);
        assert_eq!(c, want_code, "{path}: {err}");
        assert!(
            err.contains(&format!("cannot run {path}: {why}")),
            "{path}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    }
    // Found through PATH: the message names the file that was found.
    let (c, _, err) = output({
        let mut cmd = tug_cmd(&["--", "start.sh"]);
        cmd.env("PATH", format!("/nonexistent:{}", dir.display()));
        cmd
    });
    assert_eq!(c, 127, "{err}");
    assert!(
        err.contains(&format!(
            "cannot run {}/start.sh: its interpreter /nonexistent/bash (#! line) was not found",
            dir.display()
        )),
        "{err}"
    );
}

#[test]
fn the_sigkill_at_the_end_of_the_grace_period_names_its_targets() {
    let mut r = Running::start(tug_cmd(&[
        "--grace",
        "300ms",
        "--",
        &probe_str(),
        "tree",
        "ignore",
        "0",
    ]));
    let line = r.expect_line("descendant");
    let pid: i32 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let tug_pid = r.pid();
    let (status, _, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    // At the default verbosity, a warning.
    assert!(
        err.contains(&format!(
            "[WARN  tug ({tug_pid})] grace period (300ms) over: SIGKILL to 1 process: {pid} (probe)"
        )),
        "{err}"
    );
}

/// A FIFO with x bits cannot be exec'd (EACCES); explaining why must not
/// open it, which would block tug until a writer came.
#[test]
fn an_executable_fifo_is_explained_without_opening_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let fifo = dir.join("app.fifo");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = fifo.to_str().unwrap();
    let (c, _, err) = code(&["--", path]);
    assert_eq!(c, 126, "{err}");
    assert!(
        err.contains(&format!(
            "cannot run {path}: it is not a regular file (Permission denied)"
        )),
        "{err}"
    );
}
