//! tug as the init of a (micro)VM: what a kernel's PID 1 must do that a
//! container's need not. Both `tug -- CMD` (init.rs) and `tug --config`
//! (jobs::engine) run between `start` and `finish`; they only pass their
//! signals through `stop_signal`.
//!
//! VM mode: tug is PID 1 and reboot(RB_DISABLE_CAD) succeeds, which the
//! kernel allows only in the root PID namespace (a container's PID 1 gets
//! EINVAL or EPERM): a test that needs no /proc, and the call a VM's init
//! makes anyway so that Ctrl-Alt-Del arrives as SIGINT.
//!
//! At boot: /proc, /sys, /dev (devtmpfs), /dev/pts, /dev/shm and /run
//! are mounted where nothing is; stdio goes to /dev/console if the kernel
//! left it closed; the host name comes from /etc/hostname; `lo` goes up;
//! a child process turns the ACPI power button (the kernel's generic
//! netlink `acpi_event` family) into SIGPWR for PID 1, as acpid does. The
//! kernel command line gives `tug.config=PATH`, `tug.debug`,
//! `tug.exit=poweroff|reboot|halt` (what the main job's end does) and,
//! after `--`, the main command; without tug.config, /etc/tug.json5 is the
//! config if it exists.
//!
//! At the end PID 1 never exits (the kernel would panic): what is left gets
//! SIGTERM, then SIGKILL after GRACE_MS; then sync, unmount (or remount
//! read-only) and reboot(2).

use crate::log::{debug, info, warning};
use crate::sys::fd::read_file;
use crate::sys::{mount, power, process};
use alloc::ffi::CString;
use alloc::vec::Vec;
use core::ffi::CStr;
use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

/// NOT_VM, VM (no request yet) or the requested end (an RB_* index).
static STATE: AtomicU8 = AtomicU8::new(NOT_VM);
/// What the main job's end (or every job's) does: `tug.exit`.
static ON_EXIT: AtomicU8 = AtomicU8::new(POWEROFF);
static DEBUG: AtomicU8 = AtomicU8::new(0);
const NOT_VM: u8 = 0;
const VM: u8 = 1;
const POWEROFF: u8 = 2;
const REBOOT: u8 = 3;
const HALT: u8 = 4;
/// For what the jobs' own stop left running.
const GRACE_MS: i64 = 3000;
/// The config read when the command line names none.
pub const DEFAULT_CONFIG: &str = "/etc/tug.json5";

/// (type, mount point, its parent, options).
const MOUNTS: [(&CStr, &CStr, &CStr, &CStr); 6] = [
    (c"proc", c"/proc", c"/", c""),
    (c"sysfs", c"/sys", c"/", c""),
    (c"devtmpfs", c"/dev", c"/", c"mode=0755"),
    (c"devpts", c"/dev/pts", c"/dev", c"mode=0620,ptmxmode=0666"),
    (c"tmpfs", c"/dev/shm", c"/dev", c"mode=1777"),
    (c"tmpfs", c"/run", c"/", c"mode=0755"),
];

pub fn is_vm() -> bool {
    STATE.load(Relaxed) != NOT_VM
}

/// `tug.debug` was on the kernel command line.
pub fn debug_on() -> bool {
    DEBUG.load(Relaxed) != 0
}

/// In a VM, the signals that ask for the machine's end are recorded (the
/// first one decides) and the jobs get SIGTERM instead: SIGINT (Ctrl-Alt-
/// Del) reboots, SIGTERM, SIGPWR and SIGUSR2 power off, SIGUSR1 halts.
/// Other signals, and every signal outside a VM, pass unchanged.
pub fn stop_signal(sig: i32) -> i32 {
    if !is_vm() {
        return sig;
    }
    let how = match sig {
        libc::SIGINT => REBOOT,
        libc::SIGTERM | libc::SIGPWR | libc::SIGUSR2 => POWEROFF,
        libc::SIGUSR1 => HALT,
        _ => return sig,
    };
    let _ = STATE.compare_exchange(VM, how, Relaxed, Relaxed);
    libc::SIGTERM
}

/// Sets the machine up if tug is a VM's PID 1; returns the arguments to
/// run with when they come from the kernel command line (the kernel's
/// argv had no option of tug's), None to keep argv.
pub fn start(argv: &[&'static CStr]) -> Option<Vec<&'static CStr>> {
    if process::getpid() != 1 || power::disable_ctrl_alt_del().is_err() {
        return None;
    }
    STATE.store(VM, Relaxed);
    let mut mounted = Vec::with_capacity(MOUNTS.len());
    for (fs, at, parent, opts) in &MOUNTS {
        mounted.push((at, mount::mount_missing(fs, at, parent, opts)));
    }
    power::console_stdio();
    let cmdline = read_file(c"/proc/cmdline").unwrap_or_default();
    let (tug, main) = kernel_words(&cmdline);
    let mut config = None;
    for w in tug {
        match w.split_once('=') {
            None if w == "tug.debug" => DEBUG.store(1, Relaxed),
            Some(("tug.config", path)) => config = Some(path),
            Some(("tug.exit", how)) => match how {
                "reboot" => ON_EXIT.store(REBOOT, Relaxed),
                "halt" => ON_EXIT.store(HALT, Relaxed),
                "poweroff" => {}
                _ => warning!("tug.exit={how}: expected poweroff, reboot or halt"),
            },
            _ => {}
        }
    }
    if debug_on() {
        crate::log::set_level(crate::log::Level::Debug);
    }
    for (at, r) in mounted {
        match r {
            Ok(true) => debug!("mounted {}", at.to_string_lossy()),
            Ok(false) => {}
            Err(e) => warning!("cannot mount {}: {e}", at.to_string_lossy()),
        }
    }
    if let Ok(name) = read_file(c"/etc/hostname") {
        let name = name.trim_ascii();
        if !name.is_empty()
            && let Err(e) = power::set_hostname(name)
        {
            warning!("cannot set the host name: {e}");
        }
    }
    if let Err(e) = power::loopback_up() {
        warning!("cannot bring lo up: {e}");
    }
    watch_power_button();
    if argv.get(1).is_some_and(|a| a.to_bytes().starts_with(b"-")) {
        return None;
    }
    let config = config.or_else(|| {
        let c = CString::new(DEFAULT_CONFIG).ok()?;
        crate::sys::file::stat(&c).is_ok().then_some(DEFAULT_CONFIG)
    });
    let mut args = Vec::from(&argv[..argv.len().min(1)]);
    let mut add = |w: &str| {
        if let Ok(c) = CString::new(w) {
            args.push(&*alloc::boxed::Box::leak(c.into_boxed_c_str()));
        }
    };
    if debug_on() {
        add("-vvv");
    }
    if let Some(c) = config {
        add("--config");
        add(c);
    }
    add("--");
    main.iter().for_each(|w| add(w));
    Some(args)
}

/// The kernel command line's words before `--` that start with `tug.`,
/// and the words after `--`. Double quotes group words (and are dropped),
/// as the kernel reads them.
fn kernel_words(line: &[u8]) -> (Vec<&str>, Vec<&str>) {
    let text = core::str::from_utf8(line).unwrap_or("");
    let (mut tug, mut main, mut after) = (Vec::new(), Vec::new(), false);
    let mut quoted = false;
    for w in text
        .split(|c: char| {
            quoted ^= c == '"';
            c.is_ascii_whitespace() && !quoted
        })
        .filter(|w| !w.is_empty())
    {
        let w = w.trim_matches('"');
        if after {
            main.push(w);
        } else if w == "--" {
            after = true;
        } else if w.starts_with("tug.") {
            tug.push(w);
        }
    }
    (tug, main)
}

/// Subscribes to the kernel's ACPI events and forks the watcher that
/// sends SIGPWR to PID 1 when the power button is pressed. The button
/// driver may be a module (Debian's `button`): events flow once it is
/// loaded, the subscription does not wait for it.
fn watch_power_button() {
    let Ok(s) = power::genetlink() else { return };
    let group = acpi_request(&s).and_then(|()| {
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).ok()?;
        mcast_group(&buf[..n])
    });
    if group.is_none_or(|g| power::join_group(&s, g).is_err()) {
        debug!("no ACPI events from this kernel: the power button is not watched");
        return;
    }
    let _ = power::fork_helper(|| {
        let mut buf = [0u8; 256];
        loop {
            match s.read(&mut buf) {
                Ok(n) if buf[..n].get(24..36) == Some(b"button/power") => {
                    let _ = crate::sys::signal::kill(1, libc::SIGPWR);
                }
                Ok(_) => {}
                Err(e) if e.0 == libc::ENOBUFS => {}
                Err(_) => return,
            }
        }
    });
}

/// Asks generic netlink's controller for the `acpi_event` family:
/// nlmsghdr (length 36, GENL_ID_CTRL, NLM_F_REQUEST), genlmsghdr
/// (CTRL_CMD_GETFAMILY, version 1), CTRL_ATTR_FAMILY_NAME. Netlink is in
/// host byte order: little-endian on every target tug builds for.
fn acpi_request(s: &crate::sys::fd::Fd) -> Option<()> {
    const REQ: [u8; 36] =
        *b"\x24\0\0\0\x10\0\x01\0\0\0\0\0\0\0\0\0\x03\x01\0\0\x0f\0\x02\0acpi_event\0\0";
    (crate::sys::fd::write_raw(s.raw(), &REQ).ok() == Some(REQ.len())).then_some(())
}

/// The netlink attributes in `buf`: (type, payload).
fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    core::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes([*buf.first()?, *buf.get(1)?]));
        let kind = u16::from_ne_bytes([*buf.get(2)?, *buf.get(3)?]) & 0x3fff;
        let payload = buf.get(4..len)?;
        buf = buf.get((len + 3) & !3..).unwrap_or(&[]);
        Some((kind, payload))
    })
}

/// The first multicast group's id in the controller's reply
/// (CTRL_ATTR_MCAST_GROUPS > entry > CTRL_ATTR_MCAST_GRP_ID).
fn mcast_group(reply: &[u8]) -> Option<u32> {
    let groups = attrs(reply.get(20..)?).find(|a| a.0 == 7)?.1;
    let entry = attrs(groups).next()?.1;
    let id = attrs(entry).find(|a| a.0 == 2)?.1;
    Some(u32::from_ne_bytes(id.get(..4)?.try_into().ok()?))
}

/// Ends the machine once tug's run is over (`code`, its exit code): the
/// requested end, else `tug.exit`'s. Never returns.
pub fn finish(code: i32) -> ! {
    let how = match STATE.load(Relaxed) {
        VM => ON_EXIT.load(Relaxed),
        s => s,
    };
    let (cmd, word) = match how {
        REBOOT => (libc::RB_AUTOBOOT, "rebooting"),
        HALT => (libc::RB_HALT_SYSTEM, "halting"),
        _ => (libc::RB_POWER_OFF, "powering off"),
    };
    info!("{word} (exit code {code})");
    let _ = crate::sys::signal::set_mask(&crate::process::signals::handled_set());
    for (sig, ms) in [(libc::SIGTERM, GRACE_MS), (libc::SIGKILL, GRACE_MS)] {
        if crate::sys::signal::kill(-1, sig).is_err() {
            break; // nobody is left
        }
        loop {
            while let Ok(Some(_)) = process::reap_one() {}
            if process::reap_one().is_err() || !power::wait_sigchld(ms) {
                break;
            }
        }
    }
    power::sync();
    let mounts = read_file(c"/proc/self/mounts").unwrap_or_default();
    for target in mount_points(&mounts).into_iter().rev() {
        if let Err(e) = mount::unmount_or_freeze(&target) {
            debug!("cannot unmount {}: {e}", target.to_string_lossy());
        }
    }
    power::sync();
    let e = power::reboot(cmd);
    warning!("reboot(2) failed: {e}");
    loop {
        while let Ok(Some(_)) = process::reap_one() {}
        power::wait_sigchld(60_000);
    }
}

/// The mount points of /proc/self/mounts, in its order, with the octal
/// escapes (`\040` for a space) decoded.
fn mount_points(text: &[u8]) -> Vec<CString> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let Some(field) = line.split(|&b| b == b' ').nth(1) else {
            continue;
        };
        let mut path = Vec::new();
        let mut i = 0;
        while i < field.len() {
            let oct = field.get(i + 1..i + 4).filter(|_| field[i] == b'\\');
            match oct.and_then(|o| u8::from_str_radix(core::str::from_utf8(o).ok()?, 8).ok()) {
                Some(b) => {
                    path.push(b);
                    i += 4;
                }
                None => {
                    path.push(field[i]);
                    i += 1;
                }
            }
        }
        out.extend(CString::new(path));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_gives_tug_words_and_the_main_command() {
        let (tug, main) = kernel_words(
            b"console=ttyS0 tug.config=/etc/a.json5 quiet tug.debug -- /bin/app \"two words\" x=1\n",
        );
        assert_eq!(tug, ["tug.config=/etc/a.json5", "tug.debug"]);
        assert_eq!(main, ["/bin/app", "two words", "x=1"]);
        assert_eq!(kernel_words(b"ro quiet"), (vec![], vec![]));
    }

    #[test]
    fn the_controllers_reply_names_the_group() {
        let mut r = vec![0u8; 20];
        let attr = |kind: u16, payload: &[u8]| {
            let mut a = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
            a.extend_from_slice(&kind.to_ne_bytes());
            a.extend_from_slice(payload);
            a.resize((a.len() + 3) & !3, 0);
            a
        };
        r.extend(attr(2, b"acpi_event\0"));
        r.extend(attr(1, &[0x1a, 0]));
        let entry = [attr(2, &7u32.to_ne_bytes()), attr(1, b"acpi_mc_group\0")].concat();
        r.extend(attr(7, &attr(1, &entry)));
        assert_eq!(mcast_group(&r), Some(7));
        assert_eq!(mcast_group(&r[..30]), None);
    }

    #[test]
    fn mount_points_decode_escapes() {
        let m = mount_points(
            b"rootfs / rootfs rw 0 0\nproc /proc proc rw 0 0\nx /mnt/a\\040b tmpfs rw 0 0\n",
        );
        assert_eq!(m, [c"/", c"/proc", c"/mnt/a b"]);
    }

    #[test]
    fn outside_a_vm_signals_pass_unchanged() {
        assert_eq!(stop_signal(libc::SIGUSR1), libc::SIGUSR1);
        assert!(!is_vm());
    }
}
