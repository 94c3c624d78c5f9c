//! `tug check`: the job graph a config builds, in words.

use super::schema::{Check, Config, Restarts, When};
use crate::duration;
use alloc::format;
use alloc::string::String;
use core::fmt::Write;

pub fn describe(c: &Config) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} jobs, {} watches, stopTimeout {}",
        c.jobs.len(),
        c.watches.len(),
        duration::display(c.stop_timeout)
    );
    for j in &c.jobs {
        let start = match &j.when {
            When::Startup => String::from("at startup"),
            When::Interval(every) => {
                format!("at startup, then every {}", duration::display(*every))
            }
            When::Cron { expr, local } => format!(
                "on cron {expr:?} ({})",
                if *local { "local time" } else { "UTC" }
            ),
            When::Event {
                source, timeout, ..
            } if source.is_empty() => {
                // See schema::never: the config's warning says why.
                let mut s = String::from("never (no event can start it)");
                if let Some(t) = timeout {
                    let _ = write!(s, ", gives up after {}", duration::display(*t));
                }
                s
            }
            When::Event {
                source,
                code,
                each,
                timeout,
            } => {
                let mut s = format!(
                    "{} {source} {}",
                    if *each { "each" } else { "once" },
                    code.name()
                );
                if let Some(t) = timeout {
                    let _ = write!(s, " (gives up after {})", duration::display(*t));
                }
                s
            }
        };
        let restarts = match j.restarts {
            Restarts::Unlimited => String::from("unlimited"),
            Restarts::Limit(0) => String::from("never"),
            Restarts::Limit(n) => format!("{n}"),
        };
        let _ = writeln!(out, "job {}: starts {start}; restarts {restarts}", j.name);
        match &j.exec {
            Some(argv) => {
                let _ = writeln!(out, "  exec {argv:?}");
            }
            None => out.push_str("  no exec\n"),
        }
        let svc = &j.service;
        if svc.kind != super::kinds::Kind::Simple || !svc.after.is_empty() {
            let _ = write!(out, "  type {}", svc.kind.name());
            if !svc.after.is_empty() {
                let _ = write!(out, ", after {}", svc.after.join(", "));
            }
            out.push('\n');
        }
        if let Some(l) = &svc.listen {
            let _ = writeln!(out, "  accepts on {l}, at most {} at once", svc.max);
        }
        for l in &svc.sockets {
            let _ = writeln!(out, "  socket {l}");
        }
        if let Some(h) = &j.health {
            let what = match &h.check {
                Check::Exec(argv) => format!("exec {argv:?}"),
                Check::Http { url, status } => format!(
                    "http {url}{}",
                    status.map(|s| format!(" (status {s})")).unwrap_or_default()
                ),
                Check::Tcp(addr) => format!("tcp {addr}"),
            };
            let _ = write!(
                out,
                "  health {what} every {}, timeout {}",
                duration::display(h.interval),
                duration::display(h.timeout)
            );
            if let Some(ttl) = h.ttl {
                let _ = write!(out, ", ttl {}", duration::display(ttl));
            }
            out.push('\n');
        }
        if let Some(port) = j.port {
            let _ = writeln!(out, "  advertised on port {port}, tags {:?}", j.tags);
        }
    }
    for w in &c.watches {
        let what = match (&w.key, &w.prefix) {
            (Some(k), _) => format!("key {k:?}"),
            (None, Some(p)) => format!("prefix {p:?}"),
            (None, None) => format!("every {}", duration::display(w.interval)),
        };
        let _ = writeln!(
            out,
            "watch {}: {what}{}{}",
            w.name,
            w.tag
                .as_ref()
                .map(|t| format!(", tag {t}"))
                .unwrap_or_default(),
            w.dc.as_ref()
                .map(|d| format!(", dc {d}"))
                .unwrap_or_default()
        );
    }
    if let Some(c) = &c.consul {
        let _ = writeln!(out, "discovery: consul at {}", c.address);
    }
    if let Some(e) = &c.etcd {
        let _ = writeln!(
            out,
            "discovery: etcd at {} under {}",
            e.endpoints.join(", "),
            e.prefix
        );
    }
    out
}
