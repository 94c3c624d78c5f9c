//! The supervisor's loop sources as types. Every fd it registers carries a
//! [`Token`] and every timer a [`Key`]; both are one `u64` to the loop,
//! with the kind in the top byte. The control socket, telemetry,
//! discovery and the health checks own whole kinds: they number their own
//! connections and timers in the low bits, so their values pass through
//! untouched. Decoding is total: a value of no known kind is `None`, and
//! the loop logs it instead of guessing where it goes.

use super::super::machine::T;

const SHIFT: u32 = 56;
const LOW: u64 = (1 << SHIFT) - 1;

/// Kinds (top byte) of tokens and timer keys. 0 is left to job timers.
const OUTPUT: u64 = 1;
const HEALTH: u64 = 2;
const PIDFD: u64 = 3;
const CONTROL: u64 = 4;
const TELEMETRY: u64 = 5;
const DISCOVERY: u64 = 6;
const LISTENER: u64 = 8;
const NOTIFY: u64 = 9;
const READINESS: u64 = 10;
const PIDFILE: u64 = 11;
const REPORT: u64 = 12;
const SYSLOG: u64 = 13;
const LOG_TCP: u64 = 14;
const LOG_OUT: u64 = 15;
const LOG_WATCH: u64 = 16;
const LOG_FWD: u64 = 17;
/// Timer keys of the supervisor itself.
const OWN: u64 = 0x7f;

/// Where the loop's readiness goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Token {
    /// A child's stdout or stderr pipe, by output slot.
    Output(usize),
    /// The network health checks (their connections and lookups).
    Health(u64),
    /// The pidfd of this pid.
    Pidfd(i32),
    /// The whole token goes to that component.
    Control(u64),
    Telemetry(u64),
    Discovery(u64),
    /// Job `i`'s inetd listener.
    Listener(usize),
    /// Job `i`'s sd_notify socket.
    Notify(usize),
    /// Job `i`'s readiness pipe.
    Readiness(usize),
    /// Job `i`'s pidfile watch.
    Pidfile(usize),
    /// The exec report of this inetd instance.
    Report(i32),
    /// The built-in syslog's unix (0) or UDP (1) socket.
    Syslog(usize),
    /// Its TCP listener and connections (the whole token: the source
    /// numbers them).
    LogTcp(u64),
    /// Log output `k` can be written.
    LogOut(usize),
    /// Log file output `k`'s directory watch.
    LogWatch(usize),
    /// The log forwards' sockets and lookups (the whole token).
    LogFwd(u64),
}

/// What a fired timer means.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Key {
    /// One of job `i`'s timers.
    Job(usize, T),
    /// The leftover sweep's grace deadline.
    Grace,
    /// The telemetry service's heartbeat.
    TelemetryBeat,
    /// A shutdown asked for with a delay (`POST /v3/shutdown?delay=`).
    Shutdown,
    /// Job `i`'s listener may try to accept again (after EMFILE…).
    ListenRetry(usize),
    Control(u64),
    Telemetry(u64),
    Discovery(u64),
    Health(u64),
    /// The log forwards' retries and lookups.
    LogFwd(u64),
}

const fn tag(kind: u64, low: u64) -> u64 {
    (kind << SHIFT) | (low & LOW)
}

impl Token {
    pub(super) fn raw(self) -> u64 {
        match self {
            Token::Output(i) => tag(OUTPUT, i as u64),
            Token::Pidfd(pid) => tag(PIDFD, pid as u32 as u64),
            Token::Control(raw)
            | Token::Telemetry(raw)
            | Token::Discovery(raw)
            | Token::Health(raw) => raw,
            Token::Listener(i) => tag(LISTENER, i as u64),
            Token::Notify(i) => tag(NOTIFY, i as u64),
            Token::Readiness(i) => tag(READINESS, i as u64),
            Token::Pidfile(i) => tag(PIDFILE, i as u64),
            Token::Report(pid) => tag(REPORT, pid as u32 as u64),
            Token::Syslog(k) => tag(SYSLOG, k as u64),
            Token::LogTcp(raw) | Token::LogFwd(raw) => raw,
            Token::LogOut(k) => tag(LOG_OUT, k as u64),
            Token::LogWatch(k) => tag(LOG_WATCH, k as u64),
        }
    }

    pub(super) fn of(raw: u64) -> Option<Token> {
        let low = raw & LOW;
        let i = low as usize;
        Some(match raw >> SHIFT {
            OUTPUT => Token::Output(i),
            HEALTH => Token::Health(raw),
            PIDFD => Token::Pidfd(low as u32 as i32),
            CONTROL => Token::Control(raw),
            TELEMETRY => Token::Telemetry(raw),
            DISCOVERY => Token::Discovery(raw),
            LISTENER => Token::Listener(i),
            NOTIFY => Token::Notify(i),
            READINESS => Token::Readiness(i),
            PIDFILE => Token::Pidfile(i),
            REPORT => Token::Report(low as u32 as i32),
            SYSLOG => Token::Syslog(i),
            LOG_TCP => Token::LogTcp(raw),
            LOG_OUT => Token::LogOut(i),
            LOG_WATCH => Token::LogWatch(i),
            LOG_FWD => Token::LogFwd(raw),
            _ => return None,
        })
    }
}

/// The base of a component's range: the value it ORs its own ids into.
pub(super) const CONTROL_BASE: u64 = CONTROL << SHIFT;
pub(super) const TELEMETRY_BASE: u64 = TELEMETRY << SHIFT;
pub(super) const DISCOVERY_BASE: u64 = DISCOVERY << SHIFT;
pub(super) const HEALTH_BASE: u64 = HEALTH << SHIFT;
pub(super) const LOG_TCP_BASE: u64 = LOG_TCP << SHIFT;
pub(super) const LOG_FWD_BASE: u64 = LOG_FWD << SHIFT;

/// Whether a component's token or key is the control socket's (the
/// control socket and telemetry share the server code).
pub(super) fn is_control(raw: u64) -> bool {
    raw >> SHIFT == CONTROL
}

impl Key {
    pub(super) fn raw(self) -> u64 {
        match self {
            Key::Job(i, t) => ((i as u64) << 8) & LOW | t as u64,
            Key::Grace => tag(OWN, 0),
            Key::TelemetryBeat => tag(OWN, 1),
            Key::Shutdown => tag(OWN, 2),
            Key::ListenRetry(i) => tag(LISTENER, i as u64),
            Key::Control(raw)
            | Key::Telemetry(raw)
            | Key::Discovery(raw)
            | Key::Health(raw)
            | Key::LogFwd(raw) => raw,
        }
    }

    pub(super) fn of(raw: u64) -> Option<Key> {
        let low = raw & LOW;
        Some(match raw >> SHIFT {
            0 => Key::Job((low >> 8) as usize, T::from_index((low & 0xff) as usize)?),
            OWN if low == 0 => Key::Grace,
            OWN if low == 1 => Key::TelemetryBeat,
            OWN if low == 2 => Key::Shutdown,
            LISTENER => Key::ListenRetry(low as usize),
            CONTROL => Key::Control(raw),
            TELEMETRY => Key::Telemetry(raw),
            DISCOVERY => Key::Discovery(raw),
            HEALTH => Key::Health(raw),
            LOG_FWD => Key::LogFwd(raw),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_keys_round_trip() {
        let tokens = [
            Token::Output(3),
            Token::Health(HEALTH_BASE | 2),
            Token::Pidfd(4_194_304),
            Token::Control(CONTROL_BASE | 9),
            Token::Telemetry(TELEMETRY_BASE),
            Token::Discovery(DISCOVERY_BASE | 77),
            Token::Listener(5),
            Token::Notify(6),
            Token::Readiness(7),
            Token::Pidfile(8),
            Token::Report(12345),
            Token::Syslog(1),
            Token::LogTcp(LOG_TCP_BASE | 64),
            Token::LogOut(3),
            Token::LogWatch(4),
            Token::LogFwd(LOG_FWD_BASE | 5),
        ];
        for t in tokens {
            assert_eq!(Token::of(t.raw()), Some(t));
        }
        let keys = [
            Key::Job(0, T::WhenTimeout),
            Key::Job(1000, T::Watchdog),
            Key::Grace,
            Key::TelemetryBeat,
            Key::Shutdown,
            Key::ListenRetry(2),
            Key::Control(CONTROL_BASE | 3),
            Key::Telemetry(TELEMETRY_BASE | 4),
            Key::Discovery(DISCOVERY_BASE | 5),
            Key::Health(HEALTH_BASE | 6),
            Key::LogFwd(LOG_FWD_BASE | 7),
        ];
        for k in keys {
            assert_eq!(Key::of(k.raw()), Some(k));
        }
        assert_eq!(Token::of(0xee << SHIFT), None);
        assert_eq!(Key::of(0x42 << SHIFT), None);
        assert_eq!(Key::of(200), None, "no such job timer");
    }
}
