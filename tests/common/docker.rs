//! What the tests that use the Docker engine share: the per-run id their
//! images, containers and networks are named and labelled after.
//!
//! The tests never remove anything by label or name pattern: the engine
//! may be shared with other runs and other people.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Every image, container and network made by a test carries this label,
/// with `run_id()` as its value, so a person can find what a killed run
/// left.
pub const LABEL: &str = "tug-test-run";

/// This test process's pid and start time: its images, containers and
/// networks are named after it, so no two runs (on this machine or another
/// one sharing the engine) ever use, or remove, each other's.
pub fn run_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        format!("{}-{}", std::process::id(), since.as_millis())
    })
}

/// `tug-test-run=ID`, for `--label` and a Dockerfile's LABEL.
pub fn label() -> String {
    format!("{LABEL}={}", run_id())
}
