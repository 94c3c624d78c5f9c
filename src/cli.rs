//! The command line: tug's own, and tini's when tug is installed as `tini`
//! or `docker-init` (same flags, same exit codes, same env variables).
//!
//! Options end at `--` or at the first word that is not an option, so
//! `tug ls -l` runs `ls -l` (glibc's getopt would have taken the `-l`).

use crate::config::chaperone as chap;
use crate::duration;
use crate::env::Environ;
use crate::num::dec;
use crate::quote::q;
use crate::signame;
use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::ffi::CStr;
use core::fmt::Write;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
const DEFAULT_GRACE_NS: u64 = 5_000_000_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flavor {
    Tug,
    /// Installed as `tini` or `docker-init`.
    Tini,
    /// Installed as `containerpilot`: its single-dash flags.
    ContainerPilot,
    /// Installed as `registrator`: `tug registrator`'s command line.
    Registrator,
    /// Installed as `chaperone`: its command line (`--config`, the
    /// command as the CONSOLE service), config/chaperone.
    Chaperone,
    /// Installed as `telchap`: Chaperone's control client (telchap.rs).
    Telchap,
}

impl Flavor {
    /// Picks the flavor from the name tug was invoked as.
    pub fn from_argv0(argv0: &[u8]) -> Flavor {
        let base = argv0.rsplit(|&b| b == b'/').next().unwrap_or(argv0);
        match base {
            b"tini" | b"tini-static" | b"docker-init" => Flavor::Tini,
            b"containerpilot" => Flavor::ContainerPilot,
            b"registrator" => Flavor::Registrator,
            // Not in the default build yet: the front-end does not fit
            // the size budget (issue 14); `--features chaperone`.
            b"chaperone" if cfg!(feature = "chaperone") => Flavor::Chaperone,
            b"telchap" if cfg!(feature = "chaperone") => Flavor::Telchap,
            _ => Flavor::Tug,
        }
    }

    /// tini exits 1 on a bad command line; tug uses 2, like most tools.
    pub fn usage_exit_code(self) -> i32 {
        match self {
            Flavor::Tug | Flavor::Registrator | Flavor::Telchap => 2,
            Flavor::Tini | Flavor::ContainerPilot | Flavor::Chaperone => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Flavor::Tug => "tug",
            Flavor::Tini => "tini",
            Flavor::ContainerPilot => "containerpilot",
            Flavor::Registrator => "registrator",
            Flavor::Chaperone => "chaperone",
            Flavor::Telchap => "telchap",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct InitArgs<'a> {
    pub command: Vec<&'a CStr>,
    /// -g: forward signals to the child's whole process group.
    pub group: bool,
    /// -e CODE: exit codes reported as 0, as a 256-bit set.
    pub remap_to_zero: [u64; 4],
    pub verbosity: u32,
    /// -w: log every reaped zombie.
    pub warn_on_reap: bool,
    /// -p SIG: signal tug receives when its parent dies.
    pub parent_death_signal: Option<i32>,
    /// How long descendants get between SIGTERM and SIGKILL at shutdown.
    pub grace_ns: u64,
}

impl InitArgs<'_> {
    pub fn is_remapped(&self, code: u8) -> bool {
        self.remap_to_zero[usize::from(code / 64)] & (1 << (code % 64)) != 0
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Action<'a> {
    Init(InitArgs<'a>),
    /// Print this text on stdout and exit 0 (--version, -h, -l); most
    /// texts are constants, borrowed rather than copied.
    Print(Cow<'static, str>),
    /// Run a config's jobs, with the command after `--` (if any) as the
    /// main job.
    Supervise {
        config: String,
        main: Vec<&'a CStr>,
        /// `--socket PATH`: the control socket (the engine falls back to
        /// TUG_SOCKET, `control.socket`, the default).
        socket: Option<String>,
    },
    /// Validate a config, print its warnings and job graph; `strict`:
    /// warnings fail it.
    Check {
        config: String,
        strict: bool,
    },
    /// Print the rendered config (to `out`, or stdout).
    Render {
        config: String,
        out: Option<String>,
    },
    /// `tug ctl ...`: talk to a running tug's control socket (the words
    /// after `ctl`; ContainerPilot's `-reload`, `-ping`... become the same
    /// words, with `--socket` first).
    Ctl(Vec<&'a str>),
    /// `telchap WORDS`.
    Telchap(Vec<&'a str>),
    /// tug as `chaperone`: its options (CONSOLE among them); `show`:
    /// print the job graph and exit (`--show-dependencies`).
    Chaperone {
        opts: alloc::boxed::Box<chap::Options>,
        show: bool,
    },
    /// `tug registrator ...` (or tug installed as `registrator`).
    Registrator(alloc::boxed::Box<crate::registrator::Options>),
}

/// What a help text covers, and which help a usage error points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    Tug,
    Check,
    Render,
    Registrator,
}

/// A bad command line: what was wrong, and whose help covers it.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError {
    pub msg: String,
    pub topic: Topic,
}

impl UsageError {
    // #[cold]: only ever on the way to an error, so its callers keep it
    // out of line and their error branches short (measured smaller).
    #[cold]
    fn new(msg: impl Into<String>) -> UsageError {
        UsageError {
            msg: msg.into(),
            topic: Topic::Tug,
        }
    }

    /// The text for stderr. tug names the mistake and where help is; the
    /// tini and ContainerPilot flavors print the whole usage, as those do.
    pub fn report(&self, flavor: Flavor) -> String {
        let msg = &self.msg;
        let cmd = match self.topic {
            Topic::Tug => "tug",
            Topic::Check => "tug check",
            Topic::Render => "tug render",
            Topic::Registrator => "tug registrator",
        };
        match flavor {
            Flavor::Tug => format!("{cmd}: {msg}\nRun '{cmd} --help' for usage.\n"),
            _ => format!("{}: {msg}\n{}", flavor.name(), usage(flavor)),
        }
    }
}

/// tug's long options, for the did-you-mean hints.
const TUG_LONG: &[&str] = &["help", "version", "config", "socket", "grace"];
/// The words `tug` takes as a command rather than a program to run.
const COMMANDS: &[&str] = &["check", "render", "ctl", "help", "registrator"];

/// "unknown option: WORD", with the closest of `options` when one is near.
// #[cold]: only on an error's path (callers keep it out of line).
#[cold]
fn unknown_option(word: &str, options: &[&str]) -> UsageError {
    let name = word.trim_start_matches('-');
    UsageError::new(match crate::config::decode::closest(name, options) {
        Some(o) => format!("unknown option: {word} (did you mean --{o}?)"),
        None => format!("unknown option: {word}"),
    })
}

fn utf8_words<'a>(args: &[&'a CStr]) -> Result<Vec<&'a str>, UsageError> {
    let mut words = Vec::with_capacity(args.len());
    for a in args {
        match a.to_str() {
            Ok(w) => words.push(w),
            Err(_) => return Err(UsageError::new("arguments must be UTF-8")),
        }
    }
    Ok(words)
}

pub fn parse<'a>(
    flavor: Flavor,
    args: &[&'a CStr],
    env: &Environ,
) -> Result<Action<'a>, UsageError> {
    let mut a = InitArgs {
        command: Vec::new(),
        group: false,
        remap_to_zero: [0; 4],
        verbosity: 1,
        warn_on_reap: false,
        parent_death_signal: None,
        grace_ns: DEFAULT_GRACE_NS,
    };
    let mut grace_flag = None;
    // Borrowed until the end: no String to drop on each error's way out.
    let mut config = None;
    let mut socket = None;
    if flavor == Flavor::ContainerPilot {
        return containerpilot(args, env);
    }
    if flavor == Flavor::Registrator {
        return registrator(args, env);
    }
    if flavor == Flavor::Chaperone {
        return chaperone(args, env);
    }
    // cfg!: the default build links none of telchap.
    if cfg!(feature = "chaperone") && flavor == Flavor::Telchap {
        return utf8_words(args).map(Action::Telchap);
    }
    if flavor == Flavor::Tug
        && let Some((first, tail)) = args.split_first()
    {
        match first.to_bytes() {
            b"check" => return subcommand(tail, env, Topic::Check),
            b"render" => return subcommand(tail, env, Topic::Render),
            b"help" => return help(tail),
            b"registrator" => return registrator(tail, env),
            b"ctl" => return utf8_words(tail).map(Action::Ctl),
            _ => {}
        }
    }
    // tini only honours --version as the sole argument; so do we.
    if args.len() == 1 && args[0].to_bytes() == b"--version" {
        return Ok(Action::Print(version_text(flavor)));
    }
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].to_bytes();
        i += 1;
        if arg == b"--" {
            break;
        }
        if arg.len() < 2 || arg[0] != b'-' {
            i -= 1;
            break;
        }
        let arg = core::str::from_utf8(arg).map_err(|_| UsageError::new("invalid option"))?;
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            match (flavor, name) {
                (_, "help") => return Ok(Action::Print(usage(flavor))),
                (Flavor::Tug, "version") => return Ok(Action::Print(version_text(flavor))),
                (Flavor::Tug, "grace") => {
                    let v = inline_or_next(inline, args, &mut i, "--grace")?;
                    grace_flag = Some(parse_grace(v, "--grace")?);
                }
                (Flavor::Tug, "config") => {
                    config = Some(inline_or_next(inline, args, &mut i, "--config")?);
                }
                (Flavor::Tug, "socket") => {
                    socket = Some(inline_or_next(inline, args, &mut i, "--socket")?);
                }
                // `--name` as written; only tug's message has hints.
                _ => {
                    let options = if flavor == Flavor::Tug { TUG_LONG } else { &[] };
                    return Err(unknown_option(&arg[..2 + name.len()], options));
                }
            }
            continue;
        }
        // A cluster of short flags: -vvv, -gs, -e1, -e 1.
        let flags = &arg[1..];
        // `-config` (ContainerPilot's and Go's habit) would read as -c -o
        // ...; tug says which long option was meant. tini reads clusters
        // as getopt does.
        let word = flags.split('=').next().unwrap_or(flags);
        if flavor == Flavor::Tug && word.len() > 1 && TUG_LONG.contains(&word) {
            return Err(unknown_option(&arg[..=word.len()], TUG_LONG));
        }
        for (pos, c) in flags.char_indices() {
            match c {
                'h' => return Ok(Action::Print(usage(flavor))),
                'l' => return Ok(Action::Print(LICENSE.into())),
                // Always on when tug is not PID 1; accepted for tini's sake.
                's' => {}
                'g' => a.group = true,
                'v' => a.verbosity += 1,
                'w' => a.warn_on_reap = true,
                'e' | 'p' => {
                    let flag = if c == 'e' { "-e" } else { "-p" };
                    let attached = &flags[pos + 1..];
                    let v = if attached.is_empty() {
                        take_value(args, &mut i, flag)?
                    } else {
                        attached
                    };
                    let valid = if c == 'e' {
                        dec::<u8>(v).map(|code| {
                            a.remap_to_zero[usize::from(code / 64)] |= 1 << (code % 64);
                        })
                    } else {
                        signame::parse(v).map(|sig| a.parent_death_signal = Some(sig))
                    };
                    if valid.is_none() {
                        return Err(UsageError::new(format!(
                            "Not a valid option for {flag}: {v}"
                        )));
                    }
                    break;
                }
                // A long option after one dash (`-confg`): name it whole.
                _ if flavor == Flavor::Tug
                    && word.len() > 2
                    && crate::config::decode::closest(word, TUG_LONG).is_some() =>
                {
                    return Err(unknown_option(&arg[..=word.len()], TUG_LONG));
                }
                _ => return Err(UsageError::new(format!("unknown option: -{c}"))),
            }
        }
    }
    a.command = args[i..].to_vec();
    if flavor == Flavor::Tug
        && let Some(config) = config.or_else(|| config_from_env(env))
    {
        return Ok(Action::Supervise {
            config: String::from(config),
            main: a.command,
            socket: socket.map(String::from),
        });
    }
    if socket.is_some() {
        return Err(UsageError::new(
            "--socket is for the supervisor: give --config",
        ));
    }
    if a.command.is_empty() {
        return Err(UsageError::new("no command given"));
    }
    // Like tini, the environment is read after the flags and wins.
    if env.get("TINI_KILL_PROCESS_GROUP").is_some() {
        a.group = true;
    }
    if let Some(v) = env.get("TINI_VERBOSITY") {
        a.verbosity = leading_int(v);
    }
    a.grace_ns = match (grace_flag, env.get("TUG_GRACE")) {
        (Some(g), _) => g,
        (None, Some(v)) => parse_grace(v, "TUG_GRACE")?,
        (None, None) => DEFAULT_GRACE_NS,
    };
    Ok(Action::Init(a))
}

/// TUG_CONFIG, or ContainerPilot's CONTAINERPILOT.
fn config_from_env(env: &Environ) -> Option<&'static str> {
    env.get("TUG_CONFIG")
        .or_else(|| env.get("CONTAINERPILOT"))
        .filter(|p| !p.is_empty())
}

/// `tug check [--strict] [--config] FILE`, `tug render [--config] FILE
/// [--out FILE]`; errors point to the command's own help.
fn subcommand<'a>(
    args: &[&'a CStr],
    env: &Environ,
    topic: Topic,
) -> Result<Action<'a>, UsageError> {
    check_or_render(args, env, topic).map_err(|e| UsageError { msg: e.msg, topic })
}

fn check_or_render<'a>(
    args: &[&'a CStr],
    env: &Environ,
    topic: Topic,
) -> Result<Action<'a>, UsageError> {
    let render = topic == Topic::Render;
    let mut config = None;
    let mut out = None;
    let mut strict = false;
    let mut i = 0;
    while i < args.len() {
        let (arg, name, inline) = next_flag(args, &mut i)?;
        if !arg.starts_with('-') {
            if config.is_some() {
                return Err(UsageError::new(format!("unexpected argument: {arg}")));
            }
            config = Some(arg);
            continue;
        }
        match name {
            "help" | "h" => return Ok(Action::Print(help_text(topic))),
            "config" => config = Some(inline_or_next(inline, args, &mut i, "--config")?),
            "out" if render => out = Some(inline_or_next(inline, args, &mut i, "--out")?),
            "strict" if !render && inline.is_none() => strict = true,
            _ => {
                let options: &[&str] = if render {
                    &["config", "out", "help"]
                } else {
                    &["config", "strict", "help"]
                };
                return Err(unknown_option(arg, options));
            }
        }
    }
    let config = config
        .or_else(|| config_from_env(env))
        .ok_or_else(|| UsageError::new("no config given (--config FILE)"))?;
    let config = String::from(config);
    Ok(if render {
        Action::Render {
            config,
            out: out.map(String::from),
        }
    } else {
        Action::Check { config, strict }
    })
}

/// `tug registrator [OPTIONS] URI`: registrator's own command line.
fn registrator<'a>(args: &[&'a CStr], env: &Environ) -> Result<Action<'a>, UsageError> {
    use crate::registrator::{Command, options};
    let words = utf8_words(args)?;
    match options::parse(&words, &|k| env.get(k)) {
        Ok(Command::Help) => Ok(Action::Print(options::USAGE.into())),
        Ok(Command::Version) => Ok(Action::Print(version_text(Flavor::Tug))),
        Ok(Command::Run(o)) => Ok(Action::Registrator(o)),
        Err(errors) => Err(UsageError {
            msg: errors.join("\n"),
            topic: Topic::Registrator,
        }),
    }
}

/// `tug help [COMMAND]`.
fn help<'a>(args: &[&'a CStr]) -> Result<Action<'a>, UsageError> {
    let word = match args {
        [] => "help",
        [w] => w.to_str().unwrap_or("?"),
        _ => return Err(UsageError::new("help takes one command name")),
    };
    let topic = match word {
        "check" => Topic::Check,
        "render" => Topic::Render,
        "registrator" => Topic::Registrator,
        "help" => Topic::Tug,
        "ctl" => return Ok(Action::Print(format!("{}\n", crate::ctl::USAGE).into())),
        _ => {
            return Err(UsageError::new(
                match crate::config::decode::closest(word, COMMANDS) {
                    Some(c) => format!("unknown command: {word} (did you mean {c}?)"),
                    None => format!(
                        "unknown command: {word} (commands: check, render, ctl, registrator)"
                    ),
                },
            ));
        }
    };
    Ok(Action::Print(help_text(topic)))
}

/// The hint after `tug WORD` failed with "not found" (127): in init mode
/// the first word is the program to run, so `tug chek` ran `chek`.
pub fn command_hint(program: &CStr) -> Option<String> {
    let word = program.to_str().ok().filter(|w| !w.contains('/'))?;
    let command = crate::config::decode::closest(word, COMMANDS)?;
    Some(format!(
        "tug: did you mean 'tug {command}'? ({word} was run as a program)\n"
    ))
}

/// `tug check`'s verdict on a config that loaded: (exit code, stderr
/// text). Every warning is printed; `--strict` makes any of them fail
/// the check (and then "FILE: OK" and the graph are not printed).
pub fn check_verdict(file: &str, warnings: &[String], strict: bool) -> (i32, String) {
    let mut text = String::new();
    for w in warnings {
        text.push_str("tug: ");
        text.push_str(w);
        text.push('\n');
    }
    if !strict || warnings.is_empty() {
        return (0, text);
    }
    let n = warnings.len();
    let s = if n == 1 { "" } else { "s" };
    // Written into `text`: no String made and dropped for the line.
    let _ = writeln!(
        text,
        "tug: {file}: {n} warning{s} (--strict makes warnings errors)"
    );
    (1, text)
}

/// The control client's (ctl) constant, which the flags here default to.
pub use crate::ctl::CONTAINERPILOT_SOCKET;

/// ContainerPilot's flags (as `-name`, how its messages spell them).
const CP_FLAGS: [(&str, Cp); 11] = [
    ("-config", Cp::Config),
    ("-out", Cp::Out),
    ("-maintenance", Cp::Maintenance),
    ("-putenv", Cp::Putenv),
    ("-putmetric", Cp::Putmetric),
    ("-template", Cp::Template),
    ("-reload", Cp::Reload),
    ("-ping", Cp::Ping),
    ("-version", Cp::Version),
    ("-h", Cp::Help),
    ("-help", Cp::Help),
];

#[derive(Clone, Copy)]
enum Cp {
    Config,
    Out,
    Maintenance,
    Putenv,
    Putmetric,
    Template,
    Reload,
    Ping,
    Version,
    Help,
}

/// ContainerPilot's command line: Go's flag package, so `-flag value`,
/// `-flag=value` and `--flag` all work. Its control subcommands (`-reload`,
/// `-maintenance enable|disable`, `-putenv K=V`, `-putmetric K=V`, `-ping`;
/// the first of them in that order wins, as in ContainerPilot) become `tug
/// ctl` calls on TUG_SOCKET or ContainerPilot's default socket; `-config`
/// is accepted and not read (ContainerPilot rendered it only to find the
/// socket).
fn containerpilot<'a>(args: &[&'a CStr], env: &Environ) -> Result<Action<'a>, UsageError> {
    let (mut config, mut out, mut maintenance) = (None, None, None);
    let (mut template, mut reload, mut ping) = (false, false, false);
    let (mut putenv, mut putmetric) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < args.len() {
        let (arg, name, inline) = next_flag(args, &mut i)?;
        let Some(&(flag, what)) = CP_FLAGS.iter().find(|(f, _)| f[1..] == *name) else {
            return Err(UsageError::new(format!(
                "flag provided but not defined: {arg}"
            )));
        };
        let value = match what {
            Cp::Template => {
                template = go_bool(arg, inline)?;
                continue;
            }
            Cp::Reload => {
                reload = go_bool(arg, inline)?;
                continue;
            }
            Cp::Ping => {
                ping = go_bool(arg, inline)?;
                continue;
            }
            Cp::Version => {
                return Ok(Action::Print(
                    concat!(
                        "Version: tug ",
                        env!("CARGO_PKG_VERSION"),
                        " (ContainerPilot-compatible)\n"
                    )
                    .into(),
                ));
            }
            Cp::Help => return Ok(Action::Print(usage(Flavor::ContainerPilot))),
            _ => inline_or_next(inline, args, &mut i, flag)?,
        };
        match what {
            Cp::Config => config = Some(value),
            Cp::Out => out = Some(value),
            Cp::Maintenance if matches!(value, "enable" | "disable") => maintenance = Some(value),
            Cp::Maintenance => {
                return Err(UsageError::new(format!(
                    "-maintenance: {v} is not enable or disable",
                    v = q(&value)
                )));
            }
            _ if !value.contains('=') => {
                return Err(UsageError::new(format!(
                    "flag value '{value}' was not in the format 'key=val'"
                )));
            }
            Cp::Putenv => putenv.push(value),
            _ => putmetric.push(value),
        }
    }
    // The ctl command and its arguments.
    let m = maintenance.as_slice();
    let call: Option<(&str, &[&str])> = if reload {
        Some(("reload", &[]))
    } else if !m.is_empty() {
        Some(("maintenance", m))
    } else if !putenv.is_empty() {
        Some(("putenv", &putenv))
    } else if !putmetric.is_empty() {
        Some(("putmetric", &putmetric))
    } else if ping {
        Some(("ping", &[]))
    } else {
        None
    };
    let Some((cmd, values)) = call.filter(|_| !template) else {
        let config = config
            .or_else(|| env.get("CONTAINERPILOT"))
            .ok_or_else(|| UsageError::new("-config flag is required"))?;
        let config = String::from(config);
        return Ok(if template {
            Action::Render {
                config,
                out: out.map(String::from),
            }
        } else {
            Action::Supervise {
                config,
                main: Vec::new(),
                socket: None,
            }
        });
    };
    let socket = env
        .get("TUG_SOCKET")
        .filter(|s| !s.is_empty())
        .unwrap_or(CONTAINERPILOT_SOCKET);
    let mut words = vec!["--socket", socket, cmd];
    words.extend_from_slice(values);
    Ok(Action::Ctl(words))
}

/// A Go boolean flag: `-x` alone is true, `-x=false` (or 0, f, F, FALSE,
/// False) false.
fn go_bool(arg: &str, inline: Option<&str>) -> Result<bool, UsageError> {
    match inline {
        None | Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(v) => Err(UsageError::new(format!(
            "invalid boolean value {v} for {arg}",
            v = q(&v)
        ))),
    }
}

const CHAPERONE_USAGE: &str = "Usage: chaperone [--config=P] [--user=U | --create-user=SPEC] [--default-home=D]\n\
     \x20      [--exitkills | --no-exitkills] [--ignore-failures] [--log-level=L]\n\
     \x20      [--no-console-log] [--debug] [--force] [--disable-services] [--no-defaults]\n\
     \x20      [--no-syslog] [--version] [--show-dependencies] [--task] [CMD [ARGS...]]\n\
     (tug, Chaperone-compatible: P is a file or a directory of *.conf/*.yaml,\n\
     default /etc/chaperone.d; CMD is the CONSOLE service; --show-dependencies\n\
     prints tug's job graph, as tug check; _CHAP_OPTIONS holds defaults)\n";

/// Chaperone's options, as a table (one loop for them all, rather than a
/// match arm with code for each): the ones that take a value first (index
/// `k` is `ChapWords::values[k]`), then the flags (bit `k` of
/// `ChapWords::flags`), then the two that print and exit.
const CHAP_OPTIONS: [&str; 18] = [
    "config",
    "user",
    "create-user",
    "default-home",
    "log-level",
    "force",
    "exitkills",
    "no-exitkills",
    "ignore-failures",
    "no-console-log",
    "no-syslog",
    "disable-services",
    "task",
    "debug",
    "no-defaults",
    "show-dependencies",
    "version",
    "help",
];
/// How many of `CHAP_OPTIONS` take a value; the flags follow, up to
/// `CHAP_PRINT`.
const CHAP_VALUES: usize = 5;
const CHAP_PRINT: usize = 16;
// The flags' bits (their index in `CHAP_OPTIONS`).
const EXITKILLS: u32 = 1 << 6;
const NO_EXITKILLS: u32 = 1 << 7;
const IGNORE_FAILURES: u32 = 1 << 8;
const NO_CONSOLE_LOG: u32 = 1 << 9;
const NO_SYSLOG: u32 = 1 << 10;
const DISABLE_SERVICES: u32 = 1 << 11;
const TASK: u32 = 1 << 12;
const DEBUG: u32 = 1 << 13;
const NO_DEFAULTS: u32 = 1 << 14;
const SHOW: u32 = 1 << 15;

const CHAPERONE_VERSION: &str = concat!("chaperone (tug ", env!("CARGO_PKG_VERSION"), ")\n");

/// What one chaperone command line (or `_CHAP_OPTIONS`) says, borrowed
/// from its words.
#[derive(Default)]
struct ChapWords<'a> {
    /// config, user, create-user, default-home, log-level; an empty
    /// config is None (the default applies).
    values: [Option<&'a str>; CHAP_VALUES],
    flags: u32,
    command: &'a [&'a str],
}

/// Chaperone's options (docopt: `--name=V` or `--name V`, a unique
/// prefix is enough, options end at the first word that is not one).
/// `--force` is accepted and does nothing (tug needs no PID 1).
/// `Ok(Some(text))`: print the text and exit (`--version`, `--help`).
fn chap_words<'a>(
    args: &'a [&'a str],
    w: &mut ChapWords<'a>,
) -> Result<Option<&'static str>, UsageError> {
    let mut i = 0;
    while i < args.len() && args[i].starts_with("--") {
        let arg = args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        let (name, inline) = match arg[2..].split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (&arg[2..], None),
        };
        // The option named, or the only one `name` is a prefix of.
        let mut hit = None;
        let mut n = 0;
        for (k, o) in CHAP_OPTIONS.iter().enumerate() {
            if *o == name {
                hit = Some(k);
                n = 1;
                break;
            }
            if o.starts_with(name) {
                hit = Some(k);
                n += 1;
            }
        }
        let k = match hit {
            Some(k) if n == 1 => k,
            _ => {
                return Err(UsageError::new(format!(
                    "unknown or ambiguous option {arg}"
                )));
            }
        };
        let name = CHAP_OPTIONS[k];
        if k < CHAP_VALUES {
            let v = match inline {
                Some(v) => v,
                None => match args.get(i) {
                    Some(v) => {
                        i += 1;
                        v
                    }
                    None => return Err(UsageError::new(format!("--{name} needs a value"))),
                },
            };
            w.values[k] = Some(v).filter(|v| k != 0 || !v.is_empty());
        } else if inline.is_some() {
            return Err(UsageError::new(format!("--{name} takes no value")));
        } else if k < CHAP_PRINT {
            w.flags |= 1 << k;
        } else if name == "version" {
            return Ok(Some(CHAPERONE_VERSION));
        } else {
            return Ok(Some(CHAPERONE_USAGE));
        }
    }
    w.command = &args[i..];
    Ok(None)
}

/// The chaperone personality: its command line, then `_CHAP_OPTIONS`
/// for every option the command line leaves false or empty (CMD too),
/// unless `--no-defaults`, as Chaperone merged them. `--task` on the
/// command line implies `--disable-services`, `--exitkills` and (unless
/// `--debug`) `--no-console-log`; `--debug` is `--log-level debug`.
fn chaperone(args: &[&CStr], env: &Environ) -> Result<Action<'static>, UsageError> {
    // Declared first: `w` borrows the words of both.
    let split: Vec<String>;
    let defaults_words: Vec<&str>;
    let words = utf8_words(args)?;
    let mut w = ChapWords::default();
    if let Some(text) = chap_words(&words, &mut w)? {
        return Ok(Action::Print(text.into()));
    }
    if w.flags & TASK != 0 {
        w.flags |= DISABLE_SERVICES | EXITKILLS;
        if w.flags & DEBUG == 0 {
            w.flags |= NO_CONSOLE_LOG;
        }
    }
    if let Some(defaults) = env
        .get("_CHAP_OPTIONS")
        .filter(|_| w.flags & NO_DEFAULTS == 0)
    {
        let bad = |e: &str| {
            UsageError::new(format!(
                "_CHAP_OPTIONS ({defaults}): {e}",
                defaults = q(&defaults)
            ))
        };
        split = crate::config::words::split(defaults).map_err(bad)?;
        defaults_words = split.iter().map(String::as_str).collect();
        let mut d = ChapWords::default();
        match chap_words(&defaults_words, &mut d) {
            Ok(None) => {}
            Ok(Some(_)) => return Err(bad("--version and --help are not defaults")),
            Err(e) => return Err(bad(&e.msg)),
        }
        for (a, b) in w.values.iter_mut().zip(d.values) {
            *a = a.or(b);
        }
        w.flags |= d.flags;
        if w.command.is_empty() {
            w.command = d.command;
        }
    }
    let [config, user, create_user, default_home, mut log_level] = w.values;
    let on = |flag: u32| w.flags & flag != 0;
    if on(DEBUG) {
        log_level = Some("debug");
    }
    if let Some(l) = log_level.filter(|l| chap::priority(l).is_none()) {
        return Err(UsageError::new(format!(
            "--log-level {l} is not a priority (emerg, alert, crit, err, warn, notice, info, debug)",
            l = q(&l)
        )));
    }
    let user = match create_user {
        Some(spec) => Some(create_user_name(spec).ok_or_else(|| {
            UsageError::new(format!("invalid format for --create-user argument: {spec}"))
        })?),
        None => user.map(String::from),
    };
    if w.command.is_empty() && on(TASK) {
        return Err(UsageError::new(
            "--task can only be used if a shell command is specified as an argument",
        ));
    }
    if w.command.is_empty() && on(DISABLE_SERVICES) && !on(SHOW) {
        return Err(UsageError::new(
            "--disable-services not valid without specifying a command to run",
        ));
    }
    let text = |v: Option<&str>| v.map(String::from);
    Ok(Action::Chaperone {
        opts: alloc::boxed::Box::new(chap::Options {
            config: String::from(config.unwrap_or("/etc/chaperone.d")),
            command_line: true,
            user,
            create_user: text(create_user),
            default_home: text(default_home),
            exitkills: on(EXITKILLS),
            no_exitkills: on(NO_EXITKILLS),
            ignore_failures: on(IGNORE_FAILURES),
            log_level: text(log_level),
            no_console_log: on(NO_CONSOLE_LOG),
            no_syslog: on(NO_SYSLOG),
            disable_services: on(DISABLE_SERVICES),
            task: on(TASK),
            command: w.command.iter().map(|a| String::from(*a)).collect(),
        }),
        show: on(SHOW),
    })
}

/// The user name of a `--create-user` spec, `name[:/path][:uid][:gid]`
/// (None: not that form). A `\:` in the path is a colon.
pub fn create_user_name(spec: &str) -> Option<String> {
    let end = spec.find(':').unwrap_or(spec.len());
    let name = &spec[..end];
    let first = name.bytes().next()?;
    let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    if !(first.is_ascii_alphabetic() || first == b'_') || !name.bytes().all(ok) {
        return None;
    }
    chap::create_spec(spec).map(|_| String::from(name))
}

/// The next word as (word, name without leading dashes, value after '=').
/// Go-style flags: `-x v`, `-x=v`, `--x=v` are all the same flag.
fn next_flag<'a>(
    args: &[&'a CStr],
    i: &mut usize,
) -> Result<(&'a str, &'a str, Option<&'a str>), UsageError> {
    let arg = args[*i]
        .to_str()
        .map_err(|_| UsageError::new("arguments must be UTF-8"))?;
    *i += 1;
    let flag = arg.trim_start_matches('-');
    Ok(match flag.split_once('=') {
        Some((n, v)) if arg.starts_with('-') => (arg, n, Some(v)),
        _ => (arg, flag, None),
    })
}

/// A flag's value: after `=` in the same word, or the next word.
fn inline_or_next<'a>(
    inline: Option<&'a str>,
    args: &[&'a CStr],
    i: &mut usize,
    flag: &str,
) -> Result<&'a str, UsageError> {
    match inline {
        Some(v) => Ok(v),
        None => take_value(args, i, flag),
    }
}

fn take_value<'a>(args: &[&'a CStr], i: &mut usize, flag: &str) -> Result<&'a str, UsageError> {
    let v = args
        .get(*i)
        .ok_or_else(|| UsageError::new(format!("{flag} needs a value")))?;
    *i += 1;
    v.to_str()
        .map_err(|_| UsageError::new(format!("{flag}: value is not UTF-8")))
}

fn parse_grace(v: &str, what: &str) -> Result<u64, UsageError> {
    duration::parse(v).map_err(|e| UsageError::new(format!("{what}: {e}: {v}", v = q(&v))))
}

/// atoi(): the leading digits, 0 when there are none.
fn leading_int(s: &str) -> u32 {
    let digits = s
        .trim_start()
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    dec(&s.trim_start()[..digits]).unwrap_or(0)
}

fn version_text(flavor: Flavor) -> Cow<'static, str> {
    Cow::Borrowed(match flavor {
        // Docker parses `docker-init --version` as "tini version X - git.Y";
        // 0.19.0: the tini release whose interface tug reproduces.
        Flavor::Tini => concat!(
            "tini version 0.19.0 - git.tug-",
            env!("CARGO_PKG_VERSION"),
            "\n"
        ),
        _ => concat!("tug ", env!("CARGO_PKG_VERSION"), "\n"),
    })
}

pub fn usage(flavor: Flavor) -> Cow<'static, str> {
    let name = flavor.name();
    let grace = match flavor {
        Flavor::Tug => {
            "  --grace DURATION  Time descendants get between SIGTERM and SIGKILL at\n                    shutdown (default 5s; env TUG_GRACE).\n\n\
             Supervisor:\n  \
             tug --config FILE [--socket PATH] [-- MAIN ARGS]\n                                     run a ContainerPilot-style config (env\n                                     TUG_CONFIG or CONTAINERPILOT); MAIN is the\n                                     main job, whose exit code tug returns;\n                                     --socket: the control socket (env\n                                     TUG_SOCKET, else control.socket, else\n                                     /var/run/tug.sock, /run/tug.sock or\n                                     the abstract @tug.sock)\n  \
             tug check [--strict] [--config] FILE  validate, print warnings and the\n                                     job graph (--strict: warnings fail)\n  \
             tug render [--config] FILE [--out F]  print the rendered config\n  \
             tug ctl [--socket PATH] COMMAND    talk to a running tug\n  \
             tug registrator [OPTIONS] URI      register Docker containers' ports\n\
             \x20                                    in Consul, etcd or SkyDNS2\n  \
             tug help [COMMAND]                 help on check, render, ctl, registrator\n"
        }
        Flavor::Tini => "",
        Flavor::Registrator => return crate::registrator::options::USAGE.into(),
        Flavor::Chaperone => return CHAPERONE_USAGE.into(),
        Flavor::Telchap => return crate::telchap::USAGE.into(),
        Flavor::ContainerPilot => {
            return Cow::Borrowed(
                "Usage: containerpilot -config FILE | -config FILE -template [-out FILE] | -version\n\
                 \x20      | -reload | -maintenance enable|disable | -putenv K=V... | -putmetric K=V...\n\
                 \x20      | -ping\n\
                 (tug, ContainerPilot-compatible; the control commands use TUG_SOCKET, else\n\
                 /var/run/containerpilot.socket)\n",
            );
        }
    };
    format!(
        "Usage: {name} [OPTIONS] [--] PROGRAM [ARGS] | --version\n\n\
         Runs PROGRAM as a child, reaps zombies, forwards signals and exits with\n\
         PROGRAM's exit code.\n\n\
         Options:\n  \
         --version         Show version and exit.\n  \
         -h{help}  Show this help and exit.\n  \
         -s                Register as a child subreaper (automatic when not PID 1).\n  \
         -p SIGNAL         Send SIGNAL to tug when its parent dies, e.g. -p SIGKILL.\n  \
         -v                More verbose output (repeat up to 3 times).\n  \
         -w                Warn each time a zombie is reaped.\n  \
         -g                Send signals to the child's whole process group.\n  \
         -e EXIT_CODE      Report EXIT_CODE (0 to 255) as 0 (repeatable).\n  \
         -l                Show license and exit.\n\
         {grace}\n\
         Environment: TINI_SUBREAPER, TINI_VERBOSITY, TINI_KILL_PROCESS_GROUP{tug_env}.\n",
        help = if flavor == Flavor::Tug {
            ", --help      "
        } else {
            "              "
        },
        tug_env = if flavor == Flavor::Tug {
            ", TUG_GRACE"
        } else {
            ""
        },
    )
    .into()
}

/// `tug check --help`, `tug render --help`.
fn help_text(topic: Topic) -> Cow<'static, str> {
    Cow::Borrowed(match topic {
        Topic::Tug => return usage(Flavor::Tug),
        Topic::Registrator => crate::registrator::options::USAGE,
        Topic::Check => {
            "Usage: tug check [--strict] [--config] FILE\n\n\
             Loads FILE as `tug --config FILE` would, prints each warning on stderr,\n\
             then \"FILE: OK\" and the job graph. Exit 0, or 1 on errors.\n\n  \
             --strict  Warnings are errors too.\n\n\
             FILE defaults to env TUG_CONFIG or CONTAINERPILOT.\n"
        }
        Topic::Render => {
            "Usage: tug render [--config] FILE [--out FILE]\n\n\
             Prints FILE after its template rendering, as tug reads it. A Chaperone\n\
             config (a directory of *.conf/*.yaml, or a file with settings or\n\
             NAME.service at its top) prints as the tug config it maps onto.\n\n  \
             --out FILE  Write there instead of stdout.\n\n\
             FILE defaults to env TUG_CONFIG or CONTAINERPILOT.\n"
        }
    })
}

const LICENSE: &str = "tug is distributed under the MIT License.\n\n\
Permission is hereby granted, free of charge, to any person obtaining a copy of\n\
this software to deal in it without restriction, subject to including this\n\
notice in all copies. THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF\n\
ANY KIND.\n";

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::ffi::CString;

    fn args(words: &[&str]) -> Vec<&'static CStr> {
        words
            .iter()
            .map(|w| &*Box::leak(CString::new(*w).unwrap().into_boxed_c_str()))
            .collect()
    }

    fn init(
        flavor: Flavor,
        words: &[&str],
        env: &[&'static CStr],
    ) -> Result<InitArgs<'static>, UsageError> {
        match parse(flavor, &args(words), &Environ::new(env.to_vec()))? {
            Action::Init(a) => Ok(a),
            other => panic!("not an init: {other:?}"),
        }
    }

    fn action(flavor: Flavor, words: &[&str], env: &[&'static CStr]) -> Action<'static> {
        parse(flavor, &args(words), &Environ::new(env.to_vec())).unwrap()
    }

    #[test]
    fn supervisor_command_lines() {
        let sup = |config: &str, main: &[&str]| Action::Supervise {
            config: config.into(),
            main: args(main),
            socket: None,
        };
        assert_eq!(
            action(Flavor::Tug, &["--config", "a.json5"], &[]),
            sup("a.json5", &[])
        );
        assert_eq!(
            action(Flavor::Tug, &["--config=a.json5", "--", "app", "-x"], &[]),
            sup("a.json5", &["app", "-x"])
        );
        assert_eq!(
            action(Flavor::Tug, &["--", "app"], &[c"TUG_CONFIG=/etc/t.json5"]),
            sup("/etc/t.json5", &["app"])
        );
        assert_eq!(
            action(Flavor::Tug, &[], &[c"CONTAINERPILOT=/etc/cp.json5"]),
            sup("/etc/cp.json5", &[])
        );
        assert_eq!(
            action(Flavor::Tug, &["check", "x.json5"], &[]),
            Action::Check {
                config: "x.json5".into(),
                strict: false,
            }
        );
        assert_eq!(
            action(Flavor::Tug, &["render", "--config", "x", "--out", "y"], &[]),
            Action::Render {
                config: "x".into(),
                out: Some("y".into())
            }
        );
        assert_eq!(
            action(Flavor::ContainerPilot, &["-config", "c.json5"], &[]),
            sup("c.json5", &[])
        );
        assert_eq!(
            action(
                Flavor::ContainerPilot,
                &["-config=c", "-template", "-out", "o"],
                &[]
            ),
            Action::Render {
                config: "c".into(),
                out: Some("o".into())
            }
        );
        assert_eq!(
            action(Flavor::ContainerPilot, &[], &[c"CONTAINERPILOT=/c"]),
            sup("/c", &[])
        );
        assert!(matches!(
            action(Flavor::ContainerPilot, &["-version"], &[]),
            Action::Print(_)
        ));
        assert!(
            parse(
                Flavor::ContainerPilot,
                &args(&["-bogus"]),
                &Environ::new(vec![])
            )
            .is_err()
        );
        assert!(parse(Flavor::ContainerPilot, &args(&[]), &Environ::new(vec![])).is_err());
        assert!(parse(Flavor::Tug, &args(&["check"]), &Environ::new(vec![])).is_err());
        assert_eq!(
            Flavor::from_argv0(b"/bin/containerpilot"),
            Flavor::ContainerPilot
        );
        assert_eq!(
            action(Flavor::Tug, &["ctl", "restart", "web"], &[]),
            Action::Ctl(vec!["restart", "web"])
        );
    }

    #[test]
    fn supervisor_socket() {
        assert_eq!(
            action(
                Flavor::Tug,
                &["--config", "a", "--socket", "/run/t.sock", "--", "x"],
                &[]
            ),
            Action::Supervise {
                config: "a".into(),
                main: args(&["x"]),
                socket: Some("/run/t.sock".into()),
            }
        );
        assert_eq!(
            action(Flavor::Tug, &["--socket=/s"], &[c"TUG_CONFIG=/c"]),
            Action::Supervise {
                config: "/c".into(),
                main: vec![],
                socket: Some("/s".into()),
            }
        );
        let env = Environ::new(vec![]);
        assert!(parse(Flavor::Tug, &args(&["--socket", "/s", "app"]), &env).is_err());
        assert!(parse(Flavor::Tug, &args(&["--config", "a", "--socket"]), &env).is_err());
    }

    #[test]
    fn containerpilot_control_flags() {
        let ctl =
            |words: &[&str], env: &[&'static CStr]| action(Flavor::ContainerPilot, words, env);
        let cp = |rest: &[&'static str]| {
            let mut w = vec!["--socket", CONTAINERPILOT_SOCKET];
            w.extend_from_slice(rest);
            Action::Ctl(w)
        };
        assert_eq!(ctl(&["-reload"], &[]), cp(&["reload"]));
        assert_eq!(ctl(&["-config", "c.json5", "-ping"], &[]), cp(&["ping"]));
        assert_eq!(ctl(&["--ping=true"], &[]), cp(&["ping"]));
        assert_eq!(
            ctl(&["-maintenance", "enable"], &[]),
            cp(&["maintenance", "enable"])
        );
        assert_eq!(
            ctl(&["-maintenance=disable"], &[]),
            cp(&["maintenance", "disable"])
        );
        assert_eq!(
            ctl(&["-putenv", "A=1", "-putenv=B=x=y"], &[]),
            cp(&["putenv", "A=1", "B=x=y"])
        );
        assert_eq!(
            ctl(&["-putmetric", "hits=3", "-putmetric", "lat=0.5"], &[]),
            cp(&["putmetric", "hits=3", "lat=0.5"])
        );
        // ContainerPilot's order: reload before maintenance before putenv...
        assert_eq!(
            ctl(&["-ping", "-putenv", "A=1", "-reload"], &[]),
            cp(&["reload"])
        );
        assert_eq!(
            ctl(&["-ping"], &[c"TUG_SOCKET=/run/t.sock"]),
            Action::Ctl(vec!["--socket", "/run/t.sock", "ping"])
        );
        // -ping=false is no command at all: supervise, which needs -config.
        assert_eq!(
            ctl(&["-ping=false", "-config", "c"], &[]),
            Action::Supervise {
                config: "c".into(),
                main: vec![],
                socket: None
            }
        );
        let env = Environ::new(vec![]);
        for bad in [
            &["-maintenance", "on"][..],
            &["-maintenance"],
            &["-putenv", "NOVALUE"],
            &["-putmetric"],
            &["-reload=maybe"],
        ] {
            assert!(
                parse(Flavor::ContainerPilot, &args(bad), &env).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn plain_command_and_double_dash() {
        let a = init(Flavor::Tug, &["--", "ls", "-l"], &[]).unwrap();
        assert_eq!(a.command, args(&["ls", "-l"]));
        // Options stop at the first non-option word.
        let a = init(Flavor::Tug, &["ls", "-l"], &[]).unwrap();
        assert_eq!(a.command, args(&["ls", "-l"]));
        assert_eq!(a.grace_ns, 5_000_000_000);
        assert_eq!(a.verbosity, 1);
    }

    #[test]
    fn tini_flags() {
        let a = init(
            Flavor::Tini,
            &[
                "-s", "-gvvw", "-e", "143", "-e3", "-p", "SIGKILL", "--", "x",
            ],
            &[],
        )
        .unwrap();
        assert!(a.group && a.warn_on_reap);
        assert_eq!(a.verbosity, 3);
        assert!(a.is_remapped(143) && a.is_remapped(3) && !a.is_remapped(0));
        assert_eq!(a.parent_death_signal, Some(9));
    }

    #[test]
    fn environment_variables() {
        let a = init(
            Flavor::Tug,
            &["x"],
            &[
                c"TINI_KILL_PROCESS_GROUP=",
                c"TINI_VERBOSITY=3",
                c"TUG_GRACE=250ms",
            ],
        )
        .unwrap();
        assert!(a.group);
        assert_eq!(a.verbosity, 3);
        assert_eq!(a.grace_ns, 250_000_000);
        let a = init(Flavor::Tug, &["--grace=1s", "x"], &[c"TUG_GRACE=9s"]).unwrap();
        assert_eq!(
            a.grace_ns, 1_000_000_000,
            "the flag wins over the environment"
        );
    }

    #[test]
    fn bad_command_lines() {
        for words in [
            &[][..],
            &["--"],
            &["-x", "cmd"],
            &["-e"],
            &["-e", "256", "x"],
            &["-e", "abc", "x"],
            &["-p", "SIGNOPE", "x"],
            &["--grace", "5 parsecs", "x"],
            &["--bogus", "x"],
        ] {
            assert!(init(Flavor::Tug, words, &[]).is_err(), "{words:?} accepted");
        }
        assert!(
            init(Flavor::Tini, &["--grace", "1s", "x"], &[]).is_err(),
            "tini has no --grace"
        );
        let e = init(Flavor::Tug, &["x"], &[c"TUG_GRACE=soon"]).unwrap_err();
        assert!(e.msg.contains("TUG_GRACE"), "{}", e.msg);
    }

    #[test]
    fn printing_actions() {
        let env = Environ::new(vec![]);
        assert_eq!(
            parse(Flavor::Tug, &args(&["--version"]), &env),
            Ok(Action::Print(format!("tug {VERSION}\n").into()))
        );
        match parse(Flavor::Tini, &args(&["--version"]), &env) {
            Ok(Action::Print(t)) => assert!(t.starts_with("tini version 0.19.0 - git."), "{t}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(Flavor::Tug, &args(&["-h"]), &env),
            Ok(Action::Print(_))
        ));
        assert!(matches!(
            parse(Flavor::Tini, &args(&["-l"]), &env),
            Ok(Action::Print(_))
        ));
    }

    #[test]
    fn flavor_from_name() {
        assert_eq!(Flavor::from_argv0(b"/usr/bin/docker-init"), Flavor::Tini);
        assert_eq!(Flavor::from_argv0(b"tini"), Flavor::Tini);
        assert_eq!(Flavor::from_argv0(b"/tug"), Flavor::Tug);
        assert_eq!(Flavor::Tini.usage_exit_code(), 1);
        assert_eq!(Flavor::Tug.usage_exit_code(), 2);
    }

    #[test]
    fn chaperone_command_lines() {
        let want = if cfg!(feature = "chaperone") {
            Flavor::Chaperone
        } else {
            Flavor::Tug
        };
        assert_eq!(Flavor::from_argv0(b"/usr/local/bin/chaperone"), want);
        let opts = |config: &str, command: &[&str]| chap::Options {
            config: config.into(),
            command_line: true,
            command: command.iter().map(|w| w.to_string()).collect(),
            ..Default::default()
        };
        let sup = |o: chap::Options| Action::Chaperone {
            opts: alloc::boxed::Box::new(o),
            show: false,
        };
        let c = Flavor::Chaperone;
        assert_eq!(action(c, &[], &[]), sup(opts("/etc/chaperone.d", &[])));
        // A relative --config stays so: it is joined to / or to --user's
        // home when read.
        assert_eq!(
            action(
                c,
                &["--conf=apps/chaperone.d", "--force", "sh", "--config", "x"],
                &[]
            ),
            sup(opts("apps/chaperone.d", &["sh", "--config", "x"]))
        );
        assert_eq!(
            action(c, &["--config", "/c", "--", "--x"], &[]),
            sup(opts("/c", &["--x"]))
        );
        assert!(error(c, &["--no"]).msg.contains("ambiguous"));
        assert!(error(c, &["--zzz"]).msg.contains("unknown"));
        assert!(
            error(c, &["--task"])
                .msg
                .contains("--task can only be used")
        );
        assert!(error(c, &["--disable-s"]).msg.contains("not valid without"));
        assert!(
            error(c, &["--log-level", "loud", "x"])
                .msg
                .contains("not a priority")
        );
        assert!(
            error(c, &["--create-user", "9x", "x"])
                .msg
                .contains("invalid format")
        );
        assert!(error(c, &["--force=1"]).msg.contains("takes no value"));
        let mut o = opts("/etc/chaperone.d", &["x"]);
        (o.ignore_failures, o.exitkills) = (true, true);
        assert_eq!(
            action(c, &["--ignore", "--no-def", "--exitk", "x"], &[]),
            sup(o)
        );
        // --task: --disable-services, --exitkills, --no-console-log.
        let mut o = opts("/etc/chaperone.d", &["sh"]);
        (o.task, o.disable_services, o.exitkills, o.no_console_log) = (true, true, true, true);
        assert_eq!(action(c, &["--task", "sh"], &[]), sup(o.clone()));
        // --debug keeps the console log and is --log-level debug.
        (o.no_console_log, o.log_level) = (false, Some("debug".into()));
        assert_eq!(action(c, &["--task", "--debug", "sh"], &[]), sup(o));
        // --create-user's name is the user.
        let mut o = opts("/etc/chaperone.d", &["id"]);
        (o.user, o.create_user) = (Some("me".into()), Some("me:1000".into()));
        assert_eq!(action(c, &["--create=me:1000", "id"], &[]), sup(o));
        // _CHAP_OPTIONS fills what the command line leaves false or empty
        // (the command too); --no-defaults ignores it.
        let env = [c"_CHAP_OPTIONS=--config /d --user www --no-syslog 'echo hi'"];
        let mut o = opts("/c", &["echo hi"]);
        (o.user, o.no_syslog) = (Some("www".into()), true);
        assert_eq!(action(c, &["--config=/c"], &env), sup(o));
        assert_eq!(
            action(c, &["--no-defaults", "x"], &env),
            sup(opts("/etc/chaperone.d", &["x"]))
        );
        let env = Environ::new(vec![c"_CHAP_OPTIONS=--bogus"]);
        let e = parse(c, &args(&["x"]), &env).unwrap_err();
        assert!(e.msg.starts_with("_CHAP_OPTIONS"), "{e:?}");
        assert_eq!(
            action(c, &["--show-dep", "--config=/c"], &[]),
            Action::Chaperone {
                opts: alloc::boxed::Box::new(opts("/c", &[])),
                show: true
            }
        );
    }

    fn error(flavor: Flavor, words: &[&str]) -> UsageError {
        parse(flavor, &args(words), &Environ::new(vec![])).unwrap_err()
    }

    fn printed(words: &[&str]) -> String {
        match action(Flavor::Tug, words, &[]) {
            Action::Print(t) => t.into_owned(),
            other => panic!("{words:?}: {other:?}"),
        }
    }

    #[test]
    fn help_for_each_command() {
        let main = usage(Flavor::Tug);
        for words in [&["--help"][..], &["-h"], &["help"], &["help", "help"]] {
            assert_eq!(printed(words), main, "{words:?}");
        }
        let check = help_text(Topic::Check);
        assert!(check.starts_with("Usage: tug check [--strict]"), "{check}");
        for words in [
            &["check", "--help"][..],
            &["check", "-h"],
            &["check", "x.json5", "--help"],
            &["help", "check"],
        ] {
            assert_eq!(printed(words), check, "{words:?}");
        }
        let render = help_text(Topic::Render);
        assert!(render.starts_with("Usage: tug render"), "{render}");
        assert_eq!(printed(&["render", "--help"]), render);
        assert_eq!(printed(&["help", "render"]), render);
        assert_eq!(
            printed(&["help", "ctl"]),
            format!("{}\n", crate::ctl::USAGE)
        );
        // `tug ctl --help` is ctl's to answer.
        assert_eq!(
            action(Flavor::Tug, &["ctl", "--help"], &[]),
            Action::Ctl(vec!["--help"])
        );
        assert!(main.contains("tug help [COMMAND]") && main.contains("check [--strict]"));
        assert!(main.contains("\n  -h, --help        Show this help and exit.\n"));
        let tini = usage(Flavor::Tini);
        assert!(tini.contains("\n  -h                Show this help and exit.\n"));
        assert!(!tini.contains("tug help"), "{tini}");
        // tini has no `help` command: it is a program to run.
        let a = init(Flavor::Tini, &["help"], &[]).unwrap();
        assert_eq!(a.command, args(&["help"]));
    }

    #[test]
    fn did_you_mean() {
        let msg = |flavor, words: &[&str]| error(flavor, words).msg;
        assert_eq!(
            msg(Flavor::Tug, &["--confg", "x"]),
            "unknown option: --confg (did you mean --config?)"
        );
        assert_eq!(
            msg(Flavor::Tug, &["--sockt=/s", "x"]),
            "unknown option: --sockt (did you mean --socket?)"
        );
        assert_eq!(
            msg(Flavor::Tug, &["--bogus", "x"]),
            "unknown option: --bogus"
        );
        let e = error(Flavor::Tug, &["check", "--stric", "x"]);
        assert_eq!(
            (e.msg.as_str(), e.topic),
            (
                "unknown option: --stric (did you mean --strict?)",
                Topic::Check
            )
        );
        let e = error(Flavor::Tug, &["render", "x", "-ot", "y"]);
        assert_eq!(
            (e.msg.as_str(), e.topic),
            ("unknown option: -ot (did you mean --out?)", Topic::Render)
        );
        // --strict is check's alone.
        assert_eq!(
            error(Flavor::Tug, &["render", "--strict", "x"]).msg,
            "unknown option: --strict"
        );
        assert_eq!(
            msg(Flavor::Tug, &["help", "rendr"]),
            "unknown command: rendr (did you mean render?)"
        );
        assert_eq!(
            msg(Flavor::Tug, &["help", "frobnicate"]),
            "unknown command: frobnicate (commands: check, render, ctl, registrator)"
        );
        // tini keeps its plain messages.
        assert_eq!(
            msg(Flavor::Tini, &["--confg", "x"]),
            "unknown option: --confg"
        );
        assert_eq!(
            command_hint(c"chek"),
            Some("tug: did you mean 'tug check'? (chek was run as a program)\n".into())
        );
        assert_eq!(command_hint(c"./chek"), None, "a path is no command");
        assert_eq!(command_hint(c"no-such-program"), None);
    }

    #[test]
    fn single_dash_long_options() {
        for (word, shown, long) in [
            ("-config", "-config", "config"),
            ("-config=a.json5", "-config", "config"),
            ("-socket", "-socket", "socket"),
            ("-grace", "-grace", "grace"),
            ("-help", "-help", "help"),
            ("-version", "-version", "version"),
            ("-confg", "-confg", "config"),
            ("-sockt", "-sockt", "socket"),
        ] {
            let e = error(Flavor::Tug, &[word, "a.json5"]);
            assert_eq!(
                e.msg,
                format!("unknown option: {shown} (did you mean --{long}?)")
            );
        }
        // Real clusters still work, and unknown letters are named alone.
        let a = init(Flavor::Tug, &["-gvw", "-e143", "x"], &[]).unwrap();
        assert!(a.group && a.warn_on_reap && a.is_remapped(143));
        assert_eq!(error(Flavor::Tug, &["-gx", "y"]).msg, "unknown option: -x");
        // tini parses `-config` as getopt would: -c is not one of its flags.
        assert_eq!(
            error(Flavor::Tini, &["-config", "y"]).msg,
            "unknown option: -c"
        );
    }

    #[test]
    fn usage_error_reports() {
        let e = error(Flavor::Tug, &["--confg"]);
        assert_eq!(
            e.report(Flavor::Tug),
            "tug: unknown option: --confg (did you mean --config?)\n\
             Run 'tug --help' for usage.\n"
        );
        let e = error(Flavor::Tug, &["check"]);
        assert_eq!(
            e.report(Flavor::Tug),
            "tug check: no config given (--config FILE)\n\
             Run 'tug check --help' for usage.\n"
        );
        // tini and ContainerPilot print their whole usage, as they do.
        let e = error(Flavor::Tini, &["-x", "y"]);
        assert_eq!(
            e.report(Flavor::Tini),
            format!("tini: unknown option: -x\n{}", usage(Flavor::Tini))
        );
        let e = error(Flavor::ContainerPilot, &["-bogus"]);
        assert_eq!(
            e.report(Flavor::ContainerPilot),
            format!(
                "containerpilot: flag provided but not defined: -bogus\n{}",
                usage(Flavor::ContainerPilot)
            )
        );
    }

    #[test]
    fn check_strict() {
        let check = |words: &[&str]| action(Flavor::Tug, words, &[]);
        let want = |strict| Action::Check {
            config: "x".into(),
            strict,
        };
        assert_eq!(check(&["check", "--strict", "x"]), want(true));
        assert_eq!(check(&["check", "x", "--strict"]), want(true));
        assert_eq!(check(&["check", "--strict", "--config=x"]), want(true));
        assert_eq!(check(&["check", "--config", "x"]), want(false));
    }

    #[test]
    fn check_verdicts() {
        let w = |n: usize| -> Vec<String> {
            (1..=n)
                .map(|i| format!("a.json5:{i}:5: warning: jobs[0].x: why"))
                .collect()
        };
        assert_eq!(check_verdict("a.json5", &[], false), (0, String::new()));
        assert_eq!(check_verdict("a.json5", &[], true), (0, String::new()));
        let lines = "tug: a.json5:1:5: warning: jobs[0].x: why\n\
                     tug: a.json5:2:5: warning: jobs[0].x: why\n";
        assert_eq!(check_verdict("a.json5", &w(2), false), (0, lines.into()));
        assert_eq!(
            check_verdict("a.json5", &w(2), true),
            (
                1,
                format!("{lines}tug: a.json5: 2 warnings (--strict makes warnings errors)\n")
            )
        );
        let (code, text) = check_verdict("a.json5", &w(1), true);
        assert_eq!(code, 1);
        assert!(
            text.ends_with("tug: a.json5: 1 warning (--strict makes warnings errors)\n"),
            "{text}"
        );
    }
}
