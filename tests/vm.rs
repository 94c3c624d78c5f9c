//! tug as the init of a VM: Debian's kernel (linux-image-amd64) boots an
//! initramfs built here (tug as /init, the static job tests/vm/job.c, the
//! ACPI button module, a config) in qemu-system-x86_64 under software
//! emulation (TCG; KVM when TUG_VM_KVM=1). The tests read the serial
//! console line by line until the line they wait for (bounded), and drive
//! the machine through the qemu monitor (a unix socket).

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A boot under TCG takes ~10 s here; CI machines may be slower.
const LIMIT: Duration = Duration::from_secs(120);

/// The newest kernel in /boot and its release (for its modules).
fn kernel() -> Option<(PathBuf, String)> {
    let mut found: Vec<String> = std::fs::read_dir("/boot")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("vmlinuz-"))
        .collect();
    found.sort();
    let name = found.pop()?;
    Some((
        Path::new("/boot").join(&name),
        name["vmlinuz-".len()..].into(),
    ))
}

/// Whether the VM tests can run here (decided once).
fn ready() -> bool {
    static WHY: OnceLock<Result<(), String>> = OnceLock::new();
    let why = WHY.get_or_init(|| {
        let (vmlinuz, _) = kernel().ok_or("no /boot/vmlinuz-* (linux-image-amd64)")?;
        std::fs::File::open(&vmlinuz)
            .map_err(|e| format!("cannot read {}: {e}", vmlinuz.display()))?;
        for tool in ["qemu-system-x86_64", "gcc"] {
            Command::new(tool)
                .arg("--version")
                .output()
                .map_err(|e| format!("{tool}: {e}"))?;
        }
        Ok(())
    });
    require(why.is_ok(), why.as_ref().err().map_or("", |s| s.as_str()))
}

/// The static test job, built once with gcc -static.
fn job() -> PathBuf {
    static JOB: OnceLock<PathBuf> = OnceLock::new();
    JOB.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vmjob");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vm/job.c");
        let st = Command::new("gcc")
            .args(["-static", "-Os", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("gcc");
        assert!(st.success(), "gcc -static failed (libc6-dev?)");
        out
    })
    .clone()
}

/// cpio newc, what the kernel unpacks as the initramfs: directories and
/// files, (path, mode, contents).
fn cpio(entries: &[(&str, u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut add = |name: &str, mode: u32, data: &[u8]| {
        let ino = out.len() as u32 + 1;
        out.extend_from_slice(b"070701");
        let fields = [ino, mode, 0, 0, 1, 0, data.len() as u32, 0, 0, 0, 0];
        for f in fields.iter().chain(&[name.len() as u32 + 1, 0]) {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.resize(out.len().next_multiple_of(4), 0);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    };
    for (name, mode, data) in entries {
        add(name, *mode, data);
    }
    add("TRAILER!!!", 0, &[]);
    out
}

const DIR: u32 = 0o040755;
const EXE: u32 = 0o100755;
const FILE: u32 = 0o100644;

/// An initramfs with tug as /init, the job as /vmjob, the ACPI button
/// module as /button.ko, /etc/hostname, and `extra` files.
fn initramfs(tag: &str, extra: &[(&str, &str)]) -> PathBuf {
    let (_, release) = kernel().unwrap();
    let module = format!("/lib/modules/{release}/kernel/drivers/acpi/button.ko");
    let mut entries = vec![
        ("etc", DIR, Vec::new()),
        ("init", EXE, std::fs::read(tug()).unwrap()),
        ("vmjob", EXE, std::fs::read(job()).unwrap()),
        (
            "button.ko",
            FILE,
            std::fs::read(&module).unwrap_or_default(),
        ),
        ("etc/hostname", FILE, b"tugvm\n".to_vec()),
    ];
    for (path, text) in extra {
        entries.push((path, FILE, text.as_bytes().to_vec()));
    }
    let path = fresh_dir(tag).join("initramfs.cpio");
    std::fs::write(&path, cpio(&entries)).unwrap();
    path
}

struct Vm {
    qemu: Child,
    console: mpsc::Receiver<String>,
    seen: Vec<String>,
    /// Lines seen but not matched yet (jobs print in either order).
    unmatched: Vec<String>,
    monitor: PathBuf,
    started: Instant,
}

impl Vm {
    /// Boots `initrd` with `append` after the minimal command line.
    fn boot(initrd: &Path, append: &str, reboot: bool) -> Vm {
        let (vmlinuz, _) = kernel().unwrap();
        let monitor = initrd.with_file_name("monitor.sock");
        let mut cmd = Command::new("qemu-system-x86_64");
        let kvm = std::env::var_os("TUG_VM_KVM").is_some();
        cmd.args(["-accel", if kvm { "kvm" } else { "tcg" }]);
        cmd.args(["-m", "256", "-display", "none", "-nic", "none"])
            .args(["-serial", "stdio", "-monitor"])
            .arg(format!("unix:{},server=on,wait=off", monitor.display()))
            .arg("-kernel")
            .arg(vmlinuz)
            .arg("-initrd")
            .arg(initrd)
            .arg("-append")
            .arg(format!("console=ttyS0 panic=-1 {append}"));
        if !reboot {
            cmd.arg("-no-reboot");
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut qemu = cmd.spawn().expect("qemu-system-x86_64");
        let out = qemu.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).split(b'\n') {
                let Ok(line) = line else { break };
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                if tx.send(text).is_err() {
                    break;
                }
            }
        });
        Vm {
            qemu,
            console: rx,
            seen: Vec::new(),
            unmatched: Vec::new(),
            monitor,
            started: Instant::now(),
        }
    }

    /// Waits for a console line that starts with `needle` (after the
    /// kernel's timestamp, or a log record's `msg="`), taking earlier lines
    /// no call has matched yet into account; panics with the console so
    /// far when the VM ends or LIMIT passes first. (Starts with: the
    /// kernel echoes its command line, which may hold the same words.)
    fn expect(&mut self, needle: &str) {
        let hit = |line: &str| {
            let text = match line.strip_prefix('[') {
                Some(rest) => rest.split_once("] ").map_or(rest, |(_, t)| t),
                None => line.split_once("msg=\"").map_or(line, |(_, t)| t),
            };
            text.starts_with(needle)
        };
        if let Some(i) = self.unmatched.iter().position(|l| hit(l)) {
            self.unmatched.remove(i);
            return;
        }
        loop {
            let left = LIMIT.saturating_sub(self.started.elapsed());
            match self.console.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if hit(&line) {
                        return;
                    }
                    self.unmatched.push(line);
                }
                Err(_) => {
                    let _ = self.qemu.kill();
                    panic!(
                        "no console line starting {needle:?} after {:?}; console:\n{}",
                        self.started.elapsed(),
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// A qemu monitor command.
    fn monitor(&mut self, command: &str) {
        let mut s = UnixStream::connect(&self.monitor).expect("qemu monitor");
        writeln!(s, "{command}").unwrap();
        // The monitor echoes the command once it has run it.
        let mut echo = BufReader::new(s);
        let mut line = String::new();
        while echo.read_line(&mut line).unwrap_or(0) > 0 && !line.contains(command) {
            line.clear();
        }
    }

    /// Waits for qemu to exit; checks its status and that the kernel
    /// neither panicked nor saw init die. Returns the whole console.
    fn exits_cleanly(mut self) -> Vec<String> {
        while let Ok(line) = self
            .console
            .recv_timeout(LIMIT.saturating_sub(self.started.elapsed()))
        {
            self.seen.push(line);
        }
        let status = wait_up_to(&mut self.qemu, Duration::from_secs(10));
        let console = self.seen.join("\n");
        let _ = self.qemu.kill();
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "qemu did not exit 0; console:\n{console}"
        );
        for bad in ["Kernel panic", "Attempted to kill init", "internal error"] {
            assert!(!console.contains(bad), "{bad:?} on the console:\n{console}");
        }
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}

#[test]
fn the_main_command_runs_with_the_mounts_and_its_end_powers_off() {
    if !ready() {
        return;
    }
    let initrd = initramfs("vm-main", &[]);
    let mut vm = Vm::boot(&initrd, "-- /vmjob report exit 3", false);
    vm.expect("vmjob: ran");
    let console = vm.exits_cleanly();
    for want in [
        "mount: /proc proc",
        "mount: /sys sysfs",
        "mount: /dev devtmpfs",
        "mount: /dev/pts devpts",
        "mount: /dev/shm tmpfs",
        "mount: /run tmpfs",
        "hostname: tugvm",
        "lo: up",
        "reboot: Power down",
    ] {
        assert!(
            console.iter().any(|l| l.contains(want)),
            "{want:?} missing; console:\n{}",
            console.join("\n")
        );
    }
}

const CONFIG: &str = r#"{
  // The button driver is a module in Debian's kernel.
  jobs: [
    { name: "button", exec: ["/vmjob", "insmod", "/button.ko", "say", "button loaded"] },
    { name: "app", exec: ["/vmjob", "report", "wait"] },
  ],
}"#;

#[test]
fn the_acpi_power_button_stops_the_jobs_and_powers_off() {
    if !ready() {
        return;
    }
    // The config comes from the default path, /etc/tug.json5.
    let initrd = initramfs("vm-button", &[("etc/tug.json5", CONFIG)]);
    let mut vm = Vm::boot(&initrd, "", false);
    vm.expect("button loaded");
    vm.expect("vmjob: ran");
    vm.monitor("system_powerdown");
    vm.expect("vmjob: got SIGTERM");
    let console = vm.exits_cleanly();
    assert!(
        console.iter().any(|l| l.contains("reboot: Power down")),
        "{}",
        console.join("\n")
    );
}

#[test]
fn ctrl_alt_del_reboots_the_vm() {
    if !ready() {
        return;
    }
    let initrd = initramfs("vm-reboot", &[]);
    let mut vm = Vm::boot(&initrd, "-- /vmjob say booted wait", true);
    vm.expect("booted");
    // Ctrl-Alt-Del reaches tug as SIGINT (reboot(RB_DISABLE_CAD)).
    vm.monitor("sendkey ctrl-alt-delete");
    vm.expect("vmjob: got SIGTERM");
    vm.expect("reboot: Restarting system");
    vm.expect("booted");
    vm.monitor("quit");
    let _ = vm.qemu.wait();
}

#[test]
fn tug_ctl_halt_from_a_job_with_the_config_on_the_command_line() {
    if !ready() {
        return;
    }
    // svc is ready once its SIGTERM handler is in (the file it touches);
    // then the main job asks for a halt, which must stop svc first.
    let config = r#"{ main: "app", jobs: [
      { name: "svc", exec: ["/vmjob", "touch", "/run/svc", "wait"],
        health: { exec: ["/vmjob", "exists", "/run/svc"], interval: 1, ttl: 5 } },
      { name: "app", exec: ["/init", "ctl", "halt"], after: ["svc"] },
    ] }"#;
    let initrd = initramfs("vm-ctl", &[("etc/vm.json5", config)]);
    let mut vm = Vm::boot(&initrd, "tug.config=/etc/vm.json5", false);
    vm.expect("vmjob: got SIGTERM");
    vm.expect("reboot: System halted");
    vm.monitor("quit");
    let _ = vm.qemu.wait();
}
