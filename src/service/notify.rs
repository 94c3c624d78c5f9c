//! sd_notify: per-job datagram sockets and tug's own upward notifications.
//!
//! Contract:
//! - `parse` turns one datagram into `Notice`s, in order, never panicking:
//!   newline-separated `KEY=VALUE` lines (a trailing newline is optional,
//!   empty lines are skipped). Known keys with bad values, lines without
//!   `=` and non-UTF-8 text become `Notice::Invalid` with a reason for the
//!   log; keys tug does not act on (FDSTORE, MONOTONIC_USEC, BUSERROR,
//!   X_...) are `Notice::Unknown(key)`. `READY=0` and the like are invalid:
//!   only `=1` is defined.
//! - `NotifySocket` is one job's receiving socket: bind it, put `address()`
//!   in the job's NOTIFY_SOCKET, watch `fd()` for readability and call
//!   `recv` until it answers None. Each `Message` carries the sender's
//!   kernel-filled credentials; whether to believe it is the caller's call,
//!   with `sender_allowed` as the policy.
//! - `Upward` sends tug's own notifications to the NOTIFY_SOCKET tug was
//!   given (`format` and `summary` build them).
//!
//! Decisions:
//! - The socket is autobound by the kernel (see `sys::notify`): an unused
//!   abstract name like `@0a3f1`, nothing to invent, collide or clean up.
//! - Datagrams over 4096 bytes (systemd reads at most PIPE_BUF too) are
//!   dropped whole, with a `Notice::Invalid` saying so: a cut message could
//!   end in half a STATUS or a digit short of a MAINPID.
//! - Fds that come with a message (BARRIER=1, FDSTORE=1) are closed on
//!   receipt, before `recv` returns, which is what releases a barrier
//!   (systemd-notify sends BARRIER=1 after its message and waits for it:
//!   seen with Debian 12's 252). tug keeps no fd store, so FDSTORE=1 is
//!   Unknown and its fds go.
//! - Sender policy (`sender_allowed`): the uid must be root or the job's,
//!   and the pid one of the job's processes or a descendant of one. A
//!   sender that is already gone is accepted (uid still checked):
//!   `systemd-notify` and shell scripts send and exit at once, usually
//!   before tug reads. The kernel reports such a sender's pid as the number
//!   it had (the credentials hold a reference to its `struct pid`; a reaped
//!   sender keeps its number in the message, verified on Linux 6.18 by the
//!   tests below), so "gone" is "no such process now". Accepting it is safe
//!   enough because the socket belongs to one job: its name is only handed
//!   to that job, and the uid check still applies. The name is not a
//!   secret (`/proc/net/unix` lists abstract names), so a process of the
//!   same uid in the same network namespace that sends and exits at once
//!   could pass; in a container those are tug's own jobs. pid 0 is what the
//!   kernel reports for a sender outside tug's pid namespace: refused.
//!   (If the dead sender's number was reused meanwhile, the new process is
//!   unrelated and the message is refused: a lost notice, never a wrong
//!   one.)
//! - `Upward::send` never blocks: a full receiver queue (EAGAIN) or any
//!   other failure drops the message with one warning per outage (the next
//!   success re-arms it), so a stuck manager cannot stall tug's loop or fill
//!   its log.

use crate::log::warning;
use crate::quote::q;
use crate::sys::fd::{Fd, RawFd};
use alloc::ffi::CString;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

/// The largest datagram accepted (systemd's limit as well).
pub const MAX_DATAGRAM: usize = 4096;

/// One assignment from a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// READY=1: start-up (or a reload) finished.
    Ready,
    /// RELOADING=1: a reload began; READY=1 follows.
    Reloading,
    /// STOPPING=1: the service began to shut down.
    Stopping,
    /// STATUS=text: a one-line status for people.
    Status(String),
    /// MAINPID=n: the job's main process is now n (> 0).
    MainPid(i32),
    /// ERRNO=n: the service failed with errno n (>= 0).
    Errno(i32),
    /// WATCHDOG=1: keep-alive.
    Watchdog,
    /// WATCHDOG=trigger: act as if the watchdog expired.
    WatchdogTrigger,
    /// WATCHDOG_USEC=n: the new watchdog timeout, in µs.
    WatchdogUsec(u64),
    /// EXTEND_TIMEOUT_USEC=n: the current timeout lapses n µs from now at
    /// the earliest.
    ExtendTimeoutUsec(u64),
    /// BARRIER=1: a sync point; its fd was already closed.
    Barrier,
    /// A key tug does not act on (FDSTORE, MONOTONIC_USEC, X_...).
    Unknown(String),
    /// A malformed line or value, with the reason.
    Invalid(String),
}

/// Parses one datagram (module docs).
pub fn parse(datagram: &[u8]) -> Vec<Notice> {
    let mut out = Vec::new();
    for line in datagram.split(|&b| b == b'\n') {
        if !line.is_empty() {
            out.push(parse_line(line));
        }
    }
    out
}

fn parse_line(line: &[u8]) -> Notice {
    let Ok(line) = core::str::from_utf8(line) else {
        return Notice::Invalid(format!("{}: not UTF-8", shown(line)));
    };
    let Some((key, value)) = line.split_once('=').filter(|(k, _)| !k.is_empty()) else {
        return Notice::Invalid(format!("{}: not KEY=VALUE", shown(line.as_bytes())));
    };
    let bad = |what: &str| Notice::Invalid(format!("{key}={}: {what}", shown(value.as_bytes())));
    let one = |notice: Notice| {
        if value == "1" {
            notice
        } else {
            bad("only 1 is defined")
        }
    };
    match key {
        "READY" => one(Notice::Ready),
        "RELOADING" => one(Notice::Reloading),
        "STOPPING" => one(Notice::Stopping),
        "BARRIER" => one(Notice::Barrier),
        "STATUS" => Notice::Status(value.to_string()),
        "WATCHDOG" if value == "trigger" => Notice::WatchdogTrigger,
        "WATCHDOG" => one(Notice::Watchdog),
        "MAINPID" => match number(value).filter(|&n| n > 0 && n <= i32::MAX as u64) {
            Some(n) => Notice::MainPid(n as i32),
            None => bad("not a process id"),
        },
        "ERRNO" => match number(value).filter(|&n| n <= i32::MAX as u64) {
            Some(n) => Notice::Errno(n as i32),
            None => bad("not an errno number"),
        },
        "WATCHDOG_USEC" => {
            number(value).map_or_else(|| bad("not a number of µs"), Notice::WatchdogUsec)
        }
        "EXTEND_TIMEOUT_USEC" => {
            number(value).map_or_else(|| bad("not a number of µs"), Notice::ExtendTimeoutUsec)
        }
        _ => Notice::Unknown(key.to_string()),
    }
}

/// A plain decimal (digits only: no sign, no spaces) that fits a u64.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u64, |n, b| {
        let d = (b as char).to_digit(10)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// Untrusted text for a log line: quoted, at most 64 characters.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(64) {
        Some((cut, _)) => format!("{}...", q(&text[..cut])),
        None => format!("{text}", text = q(&text)),
    }
}

/// One received notification and who sent it (kernel credentials).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
    pub notices: Vec<Notice>,
}

/// One job's notification socket (module docs).
pub struct NotifySocket {
    fd: Fd,
    address: String,
}

impl NotifySocket {
    /// A new socket under a kernel-chosen abstract name.
    pub fn bind() -> Result<NotifySocket, String> {
        let (fd, name) = crate::sys::notify::autobound()
            .map_err(|e| format!("cannot create a notification socket: {e}"))?;
        let name = String::from_utf8(name)
            .map_err(|_| "the kernel gave the notification socket a non-text name".to_string())?;
        Ok(NotifySocket {
            fd,
            address: format!("@{name}"),
        })
    }

    /// For epoll (readable: call `recv` until None).
    pub fn fd(&self) -> RawFd {
        self.fd.raw()
    }

    /// The value of NOTIFY_SOCKET for the job (`@name`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The next queued message, without blocking; None when there is none.
    /// A receive error other than EAGAIN (none is expected on a datagram
    /// socket) is also None, so a caller's drain loop always ends.
    pub fn recv(&self) -> Option<Message> {
        let mut buf = [0u8; MAX_DATAGRAM];
        let got = crate::sys::notify::recv(&self.fd, &mut buf).ok()??;
        let (pid, uid, gid) = got.cred.unwrap_or((0, u32::MAX, u32::MAX));
        let notices = if got.truncated {
            vec![Notice::Invalid(format!(
                "a notification of {} bytes is over the {MAX_DATAGRAM}-byte limit: dropped",
                got.len
            ))]
        } else if got.cred.is_none() {
            vec![Notice::Invalid(
                "a notification without sender credentials: dropped".to_string(),
            )]
        } else {
            parse(&buf[..got.len])
        };
        Some(Message {
            pid,
            uid,
            gid,
            notices,
        })
    }
}

/// How a sender's pid relates to a job (the answer of the caller's lookup
/// for `sender_allowed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lineage {
    /// A descendant of one of the job's processes.
    Descendant,
    /// A live process that is not.
    Unrelated,
    /// No such process any more.
    Gone,
}

/// The sender policy (module docs): Ok, or why the message is refused.
/// `job_uid` None skips the uid check (pass tug's own uid for a job that
/// runs as tug's user); `lineage` is asked only for a pid that is not one
/// of `job_pids`.
pub fn sender_allowed(
    sender_pid: i32,
    sender_uid: u32,
    job_pids: &[i32],
    job_uid: Option<u32>,
    lineage: impl Fn(i32) -> Lineage,
) -> Result<(), String> {
    if let Some(uid) = job_uid.filter(|&u| sender_uid != 0 && sender_uid != u) {
        return Err(format!(
            "sender uid {sender_uid} is neither root nor the job's uid {uid}"
        ));
    }
    if sender_pid <= 0 {
        return Err("the sender is outside tug's pid namespace".to_string());
    }
    if job_pids.contains(&sender_pid) {
        return Ok(());
    }
    match lineage(sender_pid) {
        Lineage::Descendant | Lineage::Gone => Ok(()),
        Lineage::Unrelated => Err(format!(
            "sender pid {sender_pid} is neither the job's process nor one of its descendants"
        )),
    }
}

/// `pid`'s relation to `job_pids`, following `parent` links (None: no such
/// process) upwards; for `sender_allowed`. A chain that ends (pid 1 or 0,
/// or an ancestor gone meanwhile) without meeting a job pid is Unrelated.
pub fn lineage(pid: i32, job_pids: &[i32], parent: impl Fn(i32) -> Option<i32>) -> Lineage {
    let Some(mut up) = parent(pid) else {
        return Lineage::Gone;
    };
    // Bounded: a pid reused mid-walk could in theory form a loop.
    for _ in 0..4096 {
        if job_pids.contains(&up) {
            return Lineage::Descendant;
        }
        if up <= 1 {
            break;
        }
        match parent(up) {
            Some(p) => up = p,
            None => break,
        }
    }
    Lineage::Unrelated
}

/// The sending side of tug's own NOTIFY_SOCKET (module docs).
pub struct Upward {
    fd: Fd,
    path: CString,
    /// A failure was logged and no send has succeeded since.
    warned: bool,
}

impl Upward {
    /// From the value of NOTIFY_SOCKET: an absolute path or `@abstract`.
    /// None when unset or empty (not supervised), and, with a warning,
    /// when the form is unsupported (`vsock:...`, a relative path) or no
    /// socket can be made.
    pub fn from_env(value: Option<&str>) -> Option<Upward> {
        let value = value.filter(|v| !v.is_empty())?;
        let path = CString::new(value)
            .ok()
            .filter(|_| value.starts_with(['/', '@']));
        let Some(path) = path else {
            warning!(
                "NOTIFY_SOCKET={value} is not a path or @name: not notifying",
                value = q(&value)
            );
            return None;
        };
        match crate::sys::notify::sender() {
            Ok(fd) => Some(Upward {
                fd,
                path,
                warned: false,
            }),
            Err(e) => {
                warning!(
                    "NOTIFY_SOCKET={value}: cannot create a socket: {e}",
                    value = q(&value)
                );
                None
            }
        }
    }

    /// Sends one notification (`format` builds it); never blocks. A failure
    /// drops it, with one warning per outage.
    pub fn send(&mut self, msg: &str) {
        match crate::sys::notify::send_to(&self.fd, &self.path, msg.as_bytes()) {
            Ok(_) => self.warned = false,
            Err(e) if !self.warned => {
                self.warned = true;
                let reason = if e == crate::sys::Errno::EAGAIN {
                    "its queue is full"
                } else {
                    e.message()
                };
                warning!(
                    "cannot notify NOTIFY_SOCKET {} ({reason}): dropping notifications until it accepts one",
                    q(&String::from_utf8_lossy(self.path.to_bytes()))
                );
            }
            Err(_) => {}
        }
    }
}

/// One upward notification: READY=1 and/or STOPPING=1, and STATUS= (one
/// line: newlines become spaces; at most 200 bytes; none when empty).
pub fn format(ready: bool, stopping: bool, status: &str) -> String {
    let mut out = String::new();
    if ready {
        out.push_str("READY=1\n");
    }
    if stopping {
        out.push_str("STOPPING=1\n");
    }
    if !status.is_empty() {
        let mut cut = status.len().min(200);
        while !status.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str("STATUS=");
        out.extend(
            status[..cut]
                .chars()
                .map(|c| if c == '\n' { ' ' } else { c }),
        );
        out.push('\n');
    }
    out
}

/// tug's STATUS= text: "3 jobs ready" or "1 of 3 jobs ready, waiting for
/// db, web" (`ready`: how many are ready; `waiting`: the names of the rest).
pub fn summary(ready: usize, waiting: &[&str]) -> String {
    let total = ready + waiting.len();
    let jobs = if total == 1 { "job" } else { "jobs" };
    if waiting.is_empty() {
        format!("{total} {jobs} ready")
    } else {
        format!(
            "{ready} of {total} {jobs} ready, waiting for {}",
            waiting.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::notify as sys;

    fn one(text: &str) -> Notice {
        let mut v = parse(text.as_bytes());
        assert_eq!(v.len(), 1, "{text:?} gave {v:?}");
        v.remove(0)
    }

    fn invalid(text: &str) -> String {
        match one(text) {
            Notice::Invalid(why) => why,
            n => panic!("{text:?} parsed as {n:?}"),
        }
    }

    #[test]
    fn parses_every_key() {
        assert_eq!(one("READY=1"), Notice::Ready);
        assert_eq!(one("RELOADING=1"), Notice::Reloading);
        assert_eq!(one("STOPPING=1"), Notice::Stopping);
        assert_eq!(one("BARRIER=1"), Notice::Barrier);
        assert_eq!(
            one("STATUS=up, 3 workers"),
            Notice::Status("up, 3 workers".into())
        );
        assert_eq!(one("STATUS="), Notice::Status(String::new()));
        assert_eq!(one("STATUS=a=b"), Notice::Status("a=b".into()));
        assert_eq!(one("MAINPID=4242"), Notice::MainPid(4242));
        assert_eq!(one("ERRNO=0"), Notice::Errno(0));
        assert_eq!(one("ERRNO=2"), Notice::Errno(2));
        assert_eq!(one("WATCHDOG=1"), Notice::Watchdog);
        assert_eq!(one("WATCHDOG=trigger"), Notice::WatchdogTrigger);
        assert_eq!(
            one("WATCHDOG_USEC=2000000"),
            Notice::WatchdogUsec(2_000_000)
        );
        assert_eq!(one("WATCHDOG_USEC=0"), Notice::WatchdogUsec(0));
        assert_eq!(
            one("EXTEND_TIMEOUT_USEC=18446744073709551615"),
            Notice::ExtendTimeoutUsec(u64::MAX)
        );
        for key in [
            "FDSTORE",
            "FDNAME",
            "FDSTOREREMOVE",
            "FDPOLL",
            "MONOTONIC_USEC",
            "BUSERROR",
            "X_MINE",
            "ready",
        ] {
            assert_eq!(one(&format!("{key}=1")), Notice::Unknown(key.into()));
        }
    }

    #[test]
    fn parses_several_lines_in_order() {
        assert_eq!(
            parse(b"READY=1\nSTATUS=hello\n\nMAINPID=7\n"),
            [
                Notice::Ready,
                Notice::Status("hello".into()),
                Notice::MainPid(7)
            ]
        );
        assert_eq!(parse(b""), []);
        assert_eq!(parse(b"\n\n"), []);
    }

    #[test]
    fn reports_malformed_input() {
        assert_eq!(invalid("READY=0"), "READY=\"0\": only 1 is defined");
        assert_eq!(invalid("READY="), "READY=\"\": only 1 is defined");
        assert_eq!(
            invalid("STOPPING=yes"),
            "STOPPING=\"yes\": only 1 is defined"
        );
        assert_eq!(invalid("RELOADING=2"), "RELOADING=\"2\": only 1 is defined");
        assert_eq!(invalid("BARRIER=0"), "BARRIER=\"0\": only 1 is defined");
        assert_eq!(
            invalid("WATCHDOG=now"),
            "WATCHDOG=\"now\": only 1 is defined"
        );
        assert_eq!(invalid("MAINPID=0"), "MAINPID=\"0\": not a process id");
        for bad in ["-1", "+5", " 5", "5 ", "2147483648", "x", ""] {
            assert!(invalid(&format!("MAINPID={bad}")).contains("not a process id"));
        }
        assert!(invalid("ERRNO=-1").contains("not an errno"));
        assert!(invalid("ERRNO=2147483648").contains("not an errno"));
        assert!(invalid("WATCHDOG_USEC=18446744073709551616").contains("µs"));
        assert!(invalid("WATCHDOG_USEC=1.5").contains("µs"));
        assert!(invalid("EXTEND_TIMEOUT_USEC=").contains("µs"));
        assert_eq!(invalid("READY"), "\"READY\": not KEY=VALUE");
        assert_eq!(invalid("=1"), "\"=1\": not KEY=VALUE");
        assert!(
            matches!(&parse(b"STATUS=\xff\xfe")[..], [Notice::Invalid(w)] if w.ends_with("not UTF-8"))
        );
        // A bad line spoils only itself.
        assert_eq!(parse(b"junk\nREADY=1")[1], Notice::Ready);
        // Untrusted text is quoted and cut in the reason.
        let long = invalid(&format!("READY={}", "é".repeat(500)));
        assert!(long.len() < 200 && long.contains("..."), "{long}");
        assert!(invalid("READY=\u{1b}[2J").contains("\\u{1b}"));
    }

    #[test]
    fn sender_policy() {
        let job = [100, 200];
        let unrelated = |_| Lineage::Unrelated;
        assert_eq!(
            sender_allowed(100, 1000, &job, Some(1000), unrelated),
            Ok(())
        );
        assert_eq!(sender_allowed(200, 0, &job, Some(1000), unrelated), Ok(()));
        assert_eq!(
            sender_allowed(150, 1000, &job, None, |_| Lineage::Descendant),
            Ok(())
        );
        // The systemd-notify race: the sender exited before tug read.
        assert_eq!(
            sender_allowed(150, 1000, &job, Some(1000), |_| Lineage::Gone),
            Ok(())
        );
        let e = sender_allowed(150, 1000, &job, Some(1000), unrelated).unwrap_err();
        assert_eq!(
            e,
            "sender pid 150 is neither the job's process nor one of its descendants"
        );
        let e = sender_allowed(100, 1001, &job, Some(1000), |_| Lineage::Gone).unwrap_err();
        assert_eq!(e, "sender uid 1001 is neither root nor the job's uid 1000");
        let e = sender_allowed(150, 1001, &job, Some(1000), |_| Lineage::Gone).unwrap_err();
        assert!(e.contains("uid 1001"));
        let e = sender_allowed(0, 0, &job, None, |_| Lineage::Gone).unwrap_err();
        assert_eq!(e, "the sender is outside tug's pid namespace");
    }

    #[test]
    fn lineage_walks_parents() {
        // 300 -> 250 -> 200 (a job pid) -> 1; 400 -> 1; 500 gone; 600 -> 550 gone
        let parent = |p| match p {
            300 => Some(250),
            250 => Some(200),
            200 | 400 => Some(1),
            1 => Some(0),
            600 => Some(550),
            _ => None,
        };
        assert_eq!(lineage(300, &[200], parent), Lineage::Descendant);
        assert_eq!(lineage(250, &[100, 200], parent), Lineage::Descendant);
        assert_eq!(lineage(400, &[200], parent), Lineage::Unrelated);
        assert_eq!(lineage(500, &[200], parent), Lineage::Gone);
        assert_eq!(lineage(600, &[200], parent), Lineage::Unrelated);
        assert_eq!(lineage(7, &[200], Some), Lineage::Unrelated);
    }

    #[test]
    fn formats_upward_messages() {
        assert_eq!(format(true, false, ""), "READY=1\n");
        assert_eq!(format(false, true, "bye"), "STOPPING=1\nSTATUS=bye\n");
        assert_eq!(
            format(true, false, "a\nREADY=1"),
            "READY=1\nSTATUS=a READY=1\n"
        );
        let long = format(false, false, &"é".repeat(300));
        assert!(long.len() <= "STATUS=\n".len() + 200 && long.ends_with("é\n"));
        assert_eq!(parse(long.as_bytes()).len(), 1);
        assert_eq!(summary(3, &[]), "3 jobs ready");
        assert_eq!(summary(1, &[]), "1 job ready");
        assert_eq!(
            summary(1, &["db", "web"]),
            "1 of 3 jobs ready, waiting for db, web"
        );
    }

    fn path(sock: &NotifySocket) -> CString {
        CString::new(sock.address()).unwrap()
    }

    #[test]
    fn receives_with_our_credentials() {
        let sock = NotifySocket::bind().unwrap();
        let a = sock.address();
        assert!(a.starts_with('@') && a.len() > 1, "{a}");
        assert_eq!(sock.recv(), None);
        let tx = sys::sender().unwrap();
        sys::send_to(&tx, &path(&sock), b"READY=1\nSTATUS=hi").unwrap();
        let m = sock.recv().unwrap();
        assert_eq!(m.pid, std::process::id() as i32);
        assert_eq!(m.uid, crate::sys::process::getuid());
        use std::os::unix::fs::MetadataExt;
        assert_eq!(m.gid, std::fs::metadata("/proc/self").unwrap().gid());
        assert_eq!(m.notices, [Notice::Ready, Notice::Status("hi".into())]);
        assert_eq!(sock.recv(), None);
    }

    #[test]
    fn drops_oversized_datagrams_whole() {
        let sock = NotifySocket::bind().unwrap();
        let tx = sys::sender().unwrap();
        let big = "STATUS=".to_string() + &"x".repeat(MAX_DATAGRAM);
        sys::send_to(&tx, &path(&sock), big.as_bytes()).unwrap();
        sys::send_to(&tx, &path(&sock), b"READY=1").unwrap();
        let m = sock.recv().unwrap();
        assert_eq!(
            m.notices,
            [Notice::Invalid(format!(
                "a notification of {} bytes is over the 4096-byte limit: dropped",
                big.len()
            ))]
        );
        assert_eq!(sock.recv().unwrap().notices, [Notice::Ready]);
    }

    /// A pipe whose write ends travel with a notice: reading the read end
    /// gives EOF once every copy was closed, EAGAIN while one is open.
    fn barrier_pipe() -> (Fd, Fd) {
        let (r, w) = crate::sys::fd::pipe().unwrap();
        crate::sys::fd::set_nonblocking(&r).unwrap();
        (r, w)
    }

    #[test]
    fn closes_received_fds_releasing_a_barrier() {
        let sock = NotifySocket::bind().unwrap();
        let tx = sys::sender().unwrap();
        let (r, w) = barrier_pipe();
        sys::send_with_fds(&tx, &path(&sock), b"BARRIER=1", &[w.raw()]).unwrap();
        drop(w);
        let mut b = [0u8; 1];
        // Our copy is gone, the one in flight holds the pipe open.
        assert_eq!(r.read(&mut b).unwrap_err(), crate::sys::Errno::EAGAIN);
        assert_eq!(sock.recv().unwrap().notices, [Notice::Barrier]);
        assert_eq!(r.read(&mut b).unwrap(), 0);
    }

    #[test]
    fn more_fds_than_room_are_all_released() {
        let sock = NotifySocket::bind().unwrap();
        let tx = sys::sender().unwrap();
        let (r, w) = barrier_pipe();
        // 200 copies of the write end in one message (the kernel takes at
        // most 253): far past the receiver's control buffer.
        sys::send_with_fds(&tx, &path(&sock), b"FDSTORE=1", &[w.raw(); 200]).unwrap();
        drop(w);
        let mut b = [0u8; 1];
        assert_eq!(r.read(&mut b).unwrap_err(), crate::sys::Errno::EAGAIN);
        assert_eq!(
            sock.recv().unwrap().notices,
            [Notice::Unknown("FDSTORE".into())]
        );
        assert_eq!(r.read(&mut b).unwrap(), 0);
    }

    #[test]
    fn a_reaped_sender_keeps_its_pid() {
        let sock = NotifySocket::bind().unwrap();
        let child = sys::fork_send(&path(&sock), b"READY=1").unwrap();
        // The child has exited and been reaped: its pid is free for reuse,
        // yet the kernel reports the number it had, not 0.
        let m = sock.recv().unwrap();
        assert_eq!((m.pid, m.notices), (child, vec![Notice::Ready]));
    }

    /// Debian's systemd-notify (252 here) sends its message, then BARRIER=1
    /// with an fd, and waits (up to 5 s) until the receiver closes it.
    #[test]
    fn systemd_notify_arrives_and_is_released_at_once() {
        let Ok(version) = std::process::Command::new("systemd-notify")
            .arg("--version")
            .output()
        else {
            std::println!("SKIPPED: systemd-notify not installed");
            return;
        };
        std::println!(
            "{}",
            String::from_utf8_lossy(&version.stdout)
                .lines()
                .next()
                .unwrap_or("")
        );
        let sock = NotifySocket::bind().unwrap();
        let mut child = std::process::Command::new("systemd-notify")
            .args(["--ready", "--status=hello"])
            .env("NOTIFY_SOCKET", sock.address())
            .spawn()
            .unwrap();
        let pidfd = crate::sys::process::pidfd_open(child.id() as i32).unwrap();
        let senders = [std::process::id() as i32, child.id() as i32];
        let mut got = Vec::new();
        while !got.contains(&Notice::Barrier) {
            // Until the barrier is read it is not released: the child lives.
            assert!(
                !sys::wait_readable(pidfd.raw(), 0),
                "exited before the barrier"
            );
            assert!(
                sys::wait_readable(sock.fd(), 10_000),
                "no notification in 10 s"
            );
            let m = sock.recv().unwrap();
            // As root it sends as its parent (us), else as itself.
            assert!(senders.contains(&m.pid), "sender {}", m.pid);
            assert_eq!(m.uid, crate::sys::process::getuid());
            got.extend(m.notices);
        }
        assert_eq!(
            got,
            [
                Notice::Ready,
                Notice::Status("hello".into()),
                Notice::Barrier
            ]
        );
        let start = std::time::Instant::now();
        assert!(
            sys::wait_readable(pidfd.raw(), 4_000),
            "still waiting on its barrier"
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn upward_sends_to_a_path_and_an_abstract_name() {
        let sock = NotifySocket::bind().unwrap();
        let mut up = Upward::from_env(Some(sock.address())).unwrap();
        up.send(&format(true, false, &summary(2, &[])));
        let m = sock.recv().unwrap();
        assert_eq!(
            m.notices,
            [Notice::Ready, Notice::Status("2 jobs ready".into())]
        );
        let dir = std::env::temp_dir().join(format!("tug-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("notify.sock");
        let rx = std::os::unix::net::UnixDatagram::bind(&file).unwrap();
        let mut up = Upward::from_env(file.to_str()).unwrap();
        up.send("STOPPING=1\n");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1\n");
        assert!(Upward::from_env(None).is_none());
        assert!(Upward::from_env(Some("")).is_none());
        assert!(Upward::from_env(Some("relative/sock")).is_none());
        assert!(Upward::from_env(Some("vsock:2:1234")).is_none());
        // Nobody listens: dropped with one warning, no error, no block.
        let mut gone = Upward::from_env(Some("/nonexistent/tug-notify.sock")).unwrap();
        gone.send("READY=1");
        assert!(gone.warned);
        gone.send("READY=1");
    }

    #[test]
    fn upward_never_blocks_on_a_full_queue() {
        let sock = NotifySocket::bind().unwrap();
        let mut up = Upward::from_env(Some(sock.address())).unwrap();
        // Nobody reads: the receiver's queue fills, then sends are dropped.
        for _ in 0..10_000 {
            up.send("WATCHDOG=1");
        }
        assert!(up.warned);
        assert_eq!(sock.recv().unwrap().notices, [Notice::Watchdog]);
    }
}
