//! The repository on its own: a fresh clone builds with only the Rust
//! toolchain (the Makefile's build targets install no test tools), and no
//! test, script or fuzz seed reads files outside the repository.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What `make -n ARGS` would run, or None (skipped) without make.
fn make_dry_run(args: &[&str]) -> Option<String> {
    let mut cmd = Command::new("make");
    // Run under `make test`: the outer make's flags and jobserver are not
    // this make's business.
    cmd.env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .arg("-n")
        .arg("-C")
        .arg(root())
        .args(args);
    let o = cmd.output();
    if !require(o.is_ok(), "make is not installed") {
        return None;
    }
    let o = o.unwrap();
    assert!(
        o.status.success(),
        "make -n {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn build_run_and_image_need_no_test_dependencies() {
    for target in ["build", "probe", "run", "image"] {
        let Some(plan) = make_dry_run(&[target]) else {
            return;
        };
        assert!(
            !plan.contains("test-deps"),
            "make {target} runs the test dependencies' installer:\n{plan}"
        );
    }
    let plan = make_dry_run(&["test"]).unwrap();
    assert!(plan.contains("scripts/test-deps.sh"), "{plan}");
}

#[test]
fn make_image_takes_a_tag() {
    let Some(plan) = make_dry_run(&["image", "TAG=myrepo/tug:1.0"]) else {
        return;
    };
    assert!(
        plan.contains("docker build -f Dockerfile.scratch -t myrepo/tug:1.0 ."),
        "{plan}"
    );
    let plan = make_dry_run(&["image"]).unwrap();
    assert!(plan.contains("-t tug:latest ."), "{plan}");
}

#[test]
fn the_static_check_accepts_tug_and_refuses_a_dynamic_binary() {
    let check = |file: &Path| {
        output({
            let mut c = Command::new(root().join("scripts/check-static.sh"));
            c.arg(file);
            c
        })
    };
    let (code, _, err) = check(&tug());
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = check(&probe());
    assert_eq!(code, 0, "{err}");
    // This test program itself is linked dynamically against glibc.
    let me = std::env::current_exe().unwrap();
    let (code, _, err) = check(&me);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not statically linked"), "{err}");
    let (code, _, err) = check(&root().join("Cargo.toml"));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not an ELF file"), "{err}");
    // 32-bit ELF (armv7's): a header (52 bytes) and one program header
    // (32) at 52, PT_LOAD (static) or PT_INTERP (dynamic).
    let elf32 = |p_type: u8| {
        let mut b = vec![0u8; 84];
        b[..6].copy_from_slice(b"\x7fELF\x01\x01");
        b[28] = 52; // e_phoff
        b[42] = 32; // e_phentsize
        b[44] = 1; // e_phnum
        b[52] = p_type;
        let path = std::env::temp_dir().join(format!("tug-elf32-{}-{p_type}", std::process::id()));
        std::fs::write(&path, b).unwrap();
        path
    };
    let (load, interp) = (elf32(1), elf32(3));
    let (code, _, err) = check(&load);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = check(&interp);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not statically linked"), "{err}");
    let _ = (std::fs::remove_file(load), std::fs::remove_file(interp));
}

/// Every text file the build and the tests read, under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            // Build output and cargo-fuzz's own state are not sources.
            if !["target", "corpus", "artifacts", ".git"].contains(&name.as_str()) {
                files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

#[test]
fn nothing_refers_to_files_outside_the_repository() {
    let root = root();
    let mut all = Vec::new();
    for dir in ["src", "tests", "scripts", ".ci", "docs"] {
        files(&root.join(dir), &mut all);
    }
    for f in ["Makefile", "Cargo.toml", "Dockerfile.scratch"] {
        all.push(root.join(f));
    }
    let mut found = Vec::new();
    for path in &all {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // not text
        };
        // This file names the patterns it looks for.
        if path.ends_with("tests/repo.rs") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if ["../shared", "/work/shared", "/work/main"]
                .iter()
                .any(|p| line.contains(p))
            {
                found.push(format!("{}:{}: {line}", path.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "outside the repository:\n{}",
        found.join("\n")
    );
}
