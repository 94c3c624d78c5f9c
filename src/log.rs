//! tug's own diagnostics, on stderr (never stdout: that belongs to the
//! child, and `docker logs` shows both anyway).
//!
//! The line format is tini's, `[WARN  tug (PID)] message`, so scripts that
//! grep tini's output keep working when tug replaces it.

use crate::sys::fd::write_all;
use crate::sys::process::getpid;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Fatal = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
}

/// tini's default: fatal errors and warnings.
static VERBOSITY: AtomicU32 = AtomicU32::new(1);
/// Say "tini" instead of "tug" when installed under tini's name.
static AS_TINI: AtomicBool = AtomicBool::new(false);

pub fn set_verbosity(v: u32) {
    VERBOSITY.store(v, Ordering::Relaxed);
}

pub fn set_tini_name(yes: bool) {
    AS_TINI.store(yes, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level == Level::Fatal || level as u32 <= VERBOSITY.load(Ordering::Relaxed)
}

pub fn write(level: Level, args: core::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let tag = match level {
        Level::Fatal => "FATAL",
        Level::Warn => "WARN ",
        Level::Info => "INFO ",
        Level::Debug => "DEBUG",
    };
    let name = if AS_TINI.load(Ordering::Relaxed) {
        "tini"
    } else {
        "tug"
    };
    let mut line = alloc::string::String::with_capacity(96);
    let _ = writeln!(line, "[{tag} {name} ({})] {args}", getpid());
    write_all(2, line.as_bytes());
}

macro_rules! fatal { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Fatal, format_args!($($t)*)) } }
macro_rules! warning { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Warn, format_args!($($t)*)) } }
macro_rules! info { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($t)*)) } }
macro_rules! debug { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Debug, format_args!($($t)*)) } }
pub(crate) use {debug, fatal, info, warning};
