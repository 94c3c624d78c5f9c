//! tug: init, supervisor and service host for containers, in one static
//! binary. See README.md for what it does and docs/ for how it measures up.
//!
//! Layout: `sys` wraps every syscall (the only `unsafe`), `event_loop` is
//! the one loop (signalfd + timerfd + epoll), `process` spawns and finds
//! processes, `init` is tug's PID 1 duty, `cli` reads the command line.
//! The library exists so fuzz targets can reach the parsers; the binary
//! (main.rs) adds only the runtime glue.
//!
//! Layers (a module uses only those below it; `make lint` fails on an
//! import cycle between top-level modules, scripts/check-imports.py):
//! `sys` < leaves (`base64`, `calendar`, `duration`, `env`, `events`,
//! `event_loop`, `float`, `json5`, `json`, `regex`, `service`, `signame`,
//! `suggest`) < `log`
//! < `net`, `process` < `config`, `discovery` < `control`, `health`,
//! `telemetry`, `registrator` < `ctl` < `cli` (the command line and its
//! parsed types) < `boot` (a VM's PID 1) < `init`, `jobs` < this root (`run`).

// no_std keeps the binary small (see main.rs); unit tests use std.
#![cfg_attr(not(test), no_std)]
// `unsafe` only in sys, whose wrappers are thin, typed and each say why
// they are sound; `make lint` (scripts/check-imports.py) checks that too.
#![deny(unsafe_code)]

extern crate alloc;

pub mod base64;
pub mod boot;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod control;
pub mod ctl;
pub mod discovery;
pub mod duration;
pub mod env;
pub mod event_loop;
pub mod events;
pub mod float;
pub mod health;
pub mod init;
pub mod jobs;
pub mod json;
pub mod json5;
pub mod log;
pub mod logs;
pub mod net;
pub mod num;
pub mod process;
pub mod quote;
pub mod regex;
pub mod registrator;
pub mod service;
pub mod signame;
pub mod sort;
pub mod suggest;
#[allow(unsafe_code)]
pub mod sys;
pub mod telchap;
pub mod telemetry;

use cli::{Action, Flavor};
use core::ffi::{CStr, c_int};
use sys::fd::write_all;

/// Runs tug with its arguments (argv[0] first) and environment; returns
/// the process exit code.
pub fn run(args: &[&'static CStr], env: env::Environ) -> c_int {
    // A VM's PID 1 sets the machine up first (stdio may be closed until
    // /dev is mounted) and never returns (boot.rs).
    let from_kernel = boot::start(args);
    sys::fd::ensure_stdio();
    let code = dispatch(from_kernel.as_deref().unwrap_or(args), env);
    if boot::is_vm() {
        boot::finish(code);
    }
    code
}

fn dispatch(args: &[&'static CStr], env: env::Environ) -> c_int {
    let flavor = Flavor::from_argv0(args.first().map_or(&b""[..], |a| a.to_bytes()));
    if flavor == Flavor::Tini {
        log::set_style(log::Style::TiniNamed);
    }
    let rest = args.get(1..).unwrap_or(&[]);
    match cli::parse(flavor, rest, &env) {
        Ok(Action::Print(text)) => {
            write_all(1, text.as_bytes());
            0
        }
        Ok(Action::Init(init_args)) => {
            log::set_verbosity(init_args.verbosity);
            let code = init::run(&init_args, &env);
            // Not found: the word may have been meant as a command.
            if code == 127 && flavor == Flavor::Tug {
                let hint = init_args.command.first().and_then(|p| cli::command_hint(p));
                if let Some(hint) = hint {
                    write_all(2, hint.as_bytes());
                }
            }
            code
        }
        Ok(Action::Supervise {
            config,
            main,
            socket,
        }) => match config::load(&config, &env) {
            Ok(cfg) => {
                // A Chaperone config keeps its options for `telchap
                // loglevel` (the defaults: nothing came from a command
                // line).
                let chap =
                    (config::Frontend::of(&config) == config::Frontend::Chaperone).then(|| {
                        config::chaperone::Options {
                            config: config.clone(),
                            ..Default::default()
                        }
                    });
                let opts = jobs::engine::Options {
                    config_path: &config,
                    chaperone: chap.as_ref(),
                    socket: socket.as_deref(),
                    default_socket: match flavor {
                        Flavor::ContainerPilot => cli::CONTAINERPILOT_SOCKET,
                        _ => ctl::DEFAULT_SOCKET,
                    },
                };
                jobs::engine::run(cfg, &main, &env, &opts)
            }
            Err(errors) => config_errors(&errors),
        },
        Ok(Action::Check { config, strict }) => match config::load(&config, &env) {
            Ok(cfg) => {
                let (code, warnings) = cli::check_verdict(&config, &cfg.warnings, strict);
                write_all(2, warnings.as_bytes());
                if code == 0 {
                    let text = alloc::format!("{config}: OK\n{}", config::graph::describe(&cfg));
                    write_all(1, text.as_bytes());
                }
                code
            }
            Err(errors) => config_errors(&errors),
        },
        Ok(Action::Ctl(words)) => ctl::run(&words, &env),
        // Only the chaperone build has telchap (cli.rs never makes this
        // Action without it); cfg! lets the default build drop its code.
        Ok(Action::Telchap(words)) if cfg!(feature = "chaperone") => telchap::run(&words, &env),
        Ok(Action::Telchap(_)) => 2,
        Ok(Action::Chaperone { opts, show }) => {
            match config::load_with(&opts.config, Some(&opts), &env) {
                // Chaperone printed its start-order diagram and exited 0;
                // tug prints the job graph `tug check` prints.
                Ok(cfg) if show => {
                    let (code, warnings) = cli::check_verdict(&opts.config, &cfg.warnings, false);
                    write_all(2, warnings.as_bytes());
                    let graph = config::graph::describe(&cfg);
                    write_all(1, alloc::format!("{}: OK\n{graph}", opts.config).as_bytes());
                    code
                }
                Ok(cfg) => {
                    let run = jobs::engine::Options {
                        config_path: &opts.config,
                        chaperone: Some(&opts),
                        socket: None,
                        default_socket: ctl::DEFAULT_SOCKET,
                    };
                    jobs::engine::run(cfg, &[], &env, &run)
                }
                Err(errors) => config_errors(&errors),
            }
        }
        Ok(Action::Registrator(opts)) => registrator::run::run(&opts, &env, ctl::DEFAULT_SOCKET),
        Ok(Action::Render { config, out }) => match config::render(&config, &env) {
            Ok(text) => render_to(&text, out.as_deref()),
            Err(errors) => config_errors(&errors),
        },
        Err(e) => {
            write_all(2, e.report(flavor).as_bytes());
            flavor.usage_exit_code()
        }
    }
}

/// Prints every config error on its own line; exit code 1.
fn config_errors(errors: &[alloc::string::String]) -> c_int {
    for e in errors {
        write_all(2, alloc::format!("tug: {e}\n").as_bytes());
    }
    1
}

fn render_to(text: &str, out: Option<&str>) -> c_int {
    let Some(path) = out.filter(|p| *p != "-") else {
        write_all(1, text.as_bytes());
        return 0;
    };
    let file = alloc::ffi::CString::new(path)
        .ok()
        .and_then(|c| sys::fd::create(&c).ok());
    match file {
        Some(f) => {
            write_all(f.raw(), text.as_bytes());
            0
        }
        None => config_errors(&[alloc::format!("{path}: cannot write")]),
    }
}
