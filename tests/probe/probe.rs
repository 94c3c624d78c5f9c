//! probe: the child the integration tests run under tug. It is static (musl)
//! so it also runs in the FROM scratch test image, where there is no shell.
//! Every mode says "ready" on stdout once it is set up, so tests wait on a
//! line instead of sleeping.
//!
//!   probe exit N                 exit with code N
//!   probe raise SIG              die of signal SIG
//!   probe fds                    print the open descriptors above 2
//!   probe signals [--fork]       print "got N" per signal, exit 0 on SIGTERM
//!                                (--fork: a child in the same group does too)
//!   probe orphans N              double-fork N orphans that exit at once,
//!                                then report zombies left unreaped
//!   probe tree MODE MS           fork a descendant in its own session that,
//!                                on SIGTERM, finishes after MS ("term") or
//!                                ignores it ("ignore"); then exit 0
//!   probe term-after MS          on SIGTERM, exit 0 after MS milliseconds
//!   probe with-sigstate BLOCK IGN -- CMD...
//!                                exec CMD with those signals (comma lists)
//!                                blocked / ignored
//!   probe sleep MS               sleep, then exit 0
//!   probe http-log PORT          an HTTP/1.1 server on 0.0.0.0:PORT that
//!                                prints "request METHOD PATH" per request
//!                                and answers 200 with an empty body

use std::io::Write;
use std::time::{Duration, Instant};

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn sigset(sigs: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in sigs {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

fn block(sigs: &[i32]) -> libc::sigset_t {
    let set = sigset(sigs);
    // SAFETY: valid set; single-threaded at this point.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    set
}

fn wait_signal(set: &libc::sigset_t) -> i32 {
    loop {
        // SAFETY: valid set; a null siginfo is allowed.
        let s = unsafe { libc::sigwaitinfo(set, std::ptr::null_mut()) };
        if s > 0 {
            return s;
        }
    }
}

fn catchable() -> Vec<i32> {
    (1..=64)
        .filter(|s| ![9, 19, 32, 33, 34].contains(s))
        .collect()
}

fn signals(fork: bool) -> ! {
    let all = catchable();
    let set = block(&all);
    let who = if fork {
        // SAFETY: single-threaded; the child only runs this loop.
        match unsafe { libc::fork() } {
            0 => "child",
            _ => "main",
        }
    } else {
        "main"
    };
    say(&format!(
        "{who} ready (parent {})",
        std::os::unix::process::parent_id()
    ));
    loop {
        let s = wait_signal(&set);
        say(&format!("{who} got {s}"));
        if s == libc::SIGTERM {
            std::process::exit(0);
        }
    }
}

fn orphans(n: usize) -> ! {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array for pipe().
    unsafe { libc::pipe(fds.as_mut_ptr()) };
    for _ in 0..n {
        // SAFETY: the children only block on read and exit.
        unsafe {
            match libc::fork() {
                0 => {
                    if libc::fork() == 0 {
                        libc::close(fds[1]);
                        let mut b = 0u8;
                        libc::read(fds[0], (&mut b as *mut u8).cast(), 1);
                        libc::_exit(0);
                    }
                    libc::_exit(0);
                }
                pid if pid > 0 => {
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
                _ => panic!("fork failed"),
            }
        }
    }
    // Every grandchild is now an orphan of tug. Release them all at once.
    // SAFETY: closing our own pipe ends.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    say("released");
    // Wait (bounded) until tug has reaped them: count zombies whose parent
    // is tug. This is a condition wait, not a timed guess.
    let tug = std::os::unix::process::parent_id();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut left;
    loop {
        left = orphans_of(tug);
        if left == 0 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    say(&format!("unreaped {left}"));
    std::process::exit(if left == 0 { 0 } else { 1 });
}

/// Processes (zombie or not) whose parent is `parent`, other than us.
fn orphans_of(parent: u32) -> usize {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            after
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u32>().ok())
                == Some(parent)
        })
        .count()
}

fn term_after(ms: u64) -> ! {
    let set = block(&[libc::SIGTERM]);
    say("ready");
    wait_signal(&set);
    say("term received");
    std::thread::sleep(Duration::from_millis(ms));
    say("finished cleanly");
    std::process::exit(0);
}

fn tree(mode: &str, ms: u64) -> ! {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array for pipe().
    unsafe { libc::pipe(fds.as_mut_ptr()) };
    // SAFETY: single-threaded fork; the child runs its own mode.
    match unsafe { libc::fork() } {
        0 => {
            // Leave the main child's session and group: only a walk of the
            // process tree reaches us now.
            // SAFETY: setsid has no preconditions; the rest sets up signals
            // and tells the parent we are ready through the pipe.
            unsafe {
                libc::setsid();
                if mode == "ignore" {
                    libc::signal(libc::SIGTERM, libc::SIG_IGN);
                }
            }
            let set = block(&[libc::SIGTERM]);
            say(&format!("descendant {}", std::process::id()));
            // SAFETY: writing one byte to our pipe end.
            unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) };
            if mode == "ignore" {
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
            wait_signal(&set);
            say("term received");
            std::thread::sleep(Duration::from_millis(ms));
            say("finished cleanly");
            std::process::exit(0);
        }
        pid if pid > 0 => {
            let mut b = 0u8;
            // SAFETY: reading one byte from our pipe end.
            unsafe { libc::read(fds[0], (&mut b as *mut u8).cast(), 1) };
            std::process::exit(0);
        }
        _ => panic!("fork failed"),
    }
}

fn parse_list(s: &str) -> Vec<i32> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().unwrap())
        .collect()
}

fn with_sigstate(blocked: &str, ignored: &str, cmd: &[String]) -> ! {
    block(&parse_list(blocked));
    // Start from the defaults, whatever the test runner left ignored. musl's
    // sigaction refuses 32..=34, so use the raw syscall (kernel layout:
    // handler, flags, restorer, mask; all zero = SIG_DFL).
    for s in 1..=64 {
        if s != libc::SIGKILL && s != libc::SIGSTOP {
            let act = [0u64; 4];
            // SAFETY: a valid kernel sigaction of all zeroes; 8 = mask size.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    s,
                    act.as_ptr(),
                    std::ptr::null_mut::<u64>(),
                    8,
                )
            };
        }
    }
    for s in parse_list(ignored) {
        // SAFETY: setting a disposition.
        unsafe { libc::signal(s, libc::SIG_IGN) };
    }
    // std ignores SIGPIPE for itself; the exec'd program gets the default
    // unless the test asked for it ignored.
    if !parse_list(ignored).contains(&libc::SIGPIPE) {
        // SAFETY: setting a disposition.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    // Not std's Command: it resets SIGPIPE to the default before exec.
    let c: Vec<std::ffi::CString> = cmd
        .iter()
        .map(|a| std::ffi::CString::new(a.as_str()).unwrap())
        .collect();
    let mut argv: Vec<*const libc::c_char> = c.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: argv is a NULL-terminated array of valid C strings.
    unsafe { libc::execvp(argv[0], argv.as_ptr()) };
    panic!(
        "exec {} failed: {}",
        cmd[0],
        std::io::Error::last_os_error()
    );
}

fn http_log(port: u16) {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind(("0.0.0.0", port)).expect("bind");
    say("ready");
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let mut reader = BufReader::new(conn.try_clone().expect("clone"));
        loop {
            let mut first = String::new();
            if reader.read_line(&mut first).unwrap_or(0) == 0 {
                break;
            }
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let mut words = first.split_whitespace();
            let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            say(&format!("request {method} {path}"));
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    match arg(0) {
        "exit" => std::process::exit(num(1) as i32),
        "raise" => {
            let sig = num(1) as i32;
            // SAFETY: default disposition, unblocked, then raise.
            unsafe {
                libc::signal(sig, libc::SIG_DFL);
                let set = sigset(&[sig]);
                libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                libc::raise(sig);
            }
            std::process::exit(100);
        }
        "fds" => {
            let dir = std::fs::read_dir("/proc/self/fd").unwrap();
            let mut fds: Vec<u32> = dir
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect();
            fds.sort();
            // One of them is read_dir's own descriptor: drop the ones that
            // no longer exist (it was closed when the iterator finished).
            fds.retain(|fd| *fd > 2 && std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok());
            say(&format!("fds above 2: {fds:?}"));
        }
        "signals" => signals(arg(1) == "--fork"),
        "orphans" => orphans(num(1) as usize),
        "tree" => tree(arg(1), num(2)),
        "term-after" => term_after(num(1)),
        "with-sigstate" => with_sigstate(arg(1), arg(2), &args[4..]),
        "http-log" => http_log(num(1) as u16),
        "sleep" => {
            say("ready");
            std::thread::sleep(Duration::from_millis(num(1)));
        }
        other => {
            eprintln!("probe: unknown mode {other:?}");
            std::process::exit(64);
        }
    }
}
