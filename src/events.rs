//! Event codes: ContainerPilot's names, typed. A leaf module: the config
//! front-ends parse names into `Code`, the core publishes and matches
//! `Ev`s, telemetry counts them, and none of them imports the others for it.

use alloc::string::String;

/// Event codes (ContainerPilot's names, see `name`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Code {
    Startup,
    Shutdown,
    ExitSuccess,
    ExitFailed,
    Stopping,
    Stopped,
    Healthy,
    Unhealthy,
    Changed,
    EnterMaintenance,
    ExitMaintenance,
    Signal,
}

/// Every code with its name in configs and logs: one table, both ways.
pub const CODES: [(&str, Code); 12] = [
    ("startup", Code::Startup),
    ("shutdown", Code::Shutdown),
    ("exitSuccess", Code::ExitSuccess),
    ("exitFailed", Code::ExitFailed),
    ("stopping", Code::Stopping),
    ("stopped", Code::Stopped),
    ("healthy", Code::Healthy),
    ("unhealthy", Code::Unhealthy),
    ("changed", Code::Changed),
    ("enterMaintenance", Code::EnterMaintenance),
    ("exitMaintenance", Code::ExitMaintenance),
    ("signal", Code::Signal),
];

impl Code {
    pub fn name(self) -> &'static str {
        CODES
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("?", |(n, _)| n)
    }

    pub fn from_name(s: &str) -> Option<Code> {
        CODES.iter().find(|(n, _)| *n == s).map(|(_, c)| *c)
    }
}

/// The source of the events no job publishes: startup, shutdown and
/// maintenance.
pub const GLOBAL: &str = "global";

/// One event: a code from a source (a job, `watch.NAME`, `global`, or a
/// signal's name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ev {
    pub code: Code,
    pub source: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (name, code) in CODES {
            assert_eq!(code.name(), name);
            assert_eq!(Code::from_name(name), Some(code));
        }
        assert_eq!(Code::from_name("Healthy"), None);
    }
}
