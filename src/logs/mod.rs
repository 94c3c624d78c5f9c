//! Logs: the records every source produces (the built-in syslog, jobs'
//! output, tug's own diagnostics), the selectors that route them and the
//! formats the outputs write. Sans-IO: parsing, matching and formatting
//! only; the loop's sockets and files are the supervisor's.

pub mod file;
pub mod format;
pub mod forward;
pub mod framing;
pub mod selector;
pub mod sink;
pub mod source;
pub mod strftime;
pub mod syslog;

use alloc::string::String;

/// Facilities by code (RFC 5424 §6.2.1; Chaperone's names).
pub const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "altcron", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// Severities by code, most severe first.
pub const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// `daemon`: jobs' output.
pub const DAEMON: u8 = 3;
/// `info` and `warning`: a job's stdout and stderr.
pub const INFO: u8 = 6;
pub const WARNING: u8 = 4;

/// One log record, whatever its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Wall-clock time: seconds since the epoch and nanoseconds. For a
    /// syslog message, its own timestamp (RFC 5424's; a BSD one given the
    /// receiver's year and local offset), else the time tug received it.
    pub time: (i64, u32),
    /// 0..=23 and 0..=7 (PRI = facility × 8 + severity).
    pub facility: u8,
    pub severity: u8,
    /// The sender's host name, when the message named one.
    pub host: Option<String>,
    /// APP-NAME / TAG: the program ("" when unknown).
    pub program: String,
    pub pid: Option<i32>,
    /// RFC 5424's MSGID and STRUCTURED-DATA, as sent (None: NILVALUE).
    pub msgid: Option<String>,
    pub structured: Option<String>,
    /// The message text: UTF-8 (invalid sequences replaced), no trailing
    /// newline or NUL.
    pub text: String,
    /// The raw message as received (for `/regex/` selectors), or the text.
    pub raw: String,
}
