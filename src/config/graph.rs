//! `tug check`: the job graph a config builds, in words.
//!
//! Everything is written straight into the one output String (no
//! temporary String per part, each its own formatting and drop code).

use super::schema::{Check, Config, Restarts, When};
use crate::duration;
use crate::quote::{list, q};
use alloc::string::String;
use core::fmt::Write;

/// Appends `before`, then the duration `ns` as tug writes durations.
#[inline(never)]
fn dur(out: &mut String, before: &str, ns: u64) {
    out.push_str(before);
    out.push_str(&duration::display(ns));
}

pub fn describe(c: &Config) -> String {
    let mut out = String::new();
    let _ = write!(out, "{} jobs, {} watches", c.jobs.len(), c.watches.len());
    dur(&mut out, ", stopTimeout ", c.stop_timeout);
    out.push('\n');
    for j in &c.jobs {
        let _ = write!(out, "job {}: starts ", j.name);
        match &j.when {
            When::Startup => out.push_str("at startup"),
            When::Interval(every) => dur(&mut out, "at startup, then every ", *every),
            When::Cron { expr, local } => {
                let _ = write!(
                    out,
                    "on cron {expr} ({})",
                    if *local { "local time" } else { "UTC" },
                    expr = q(&expr)
                );
            }
            When::Event {
                source, timeout, ..
            } if source.is_empty() => {
                // See schema::never: the config's warning says why.
                out.push_str("never (no event can start it)");
                if let Some(t) = timeout {
                    dur(&mut out, ", gives up after ", *t);
                }
            }
            When::Event {
                source,
                code,
                each,
                timeout,
            } => {
                let _ = write!(
                    out,
                    "{} {source} {}",
                    if *each { "each" } else { "once" },
                    code.name()
                );
                if let Some(t) = timeout {
                    dur(&mut out, " (gives up after ", *t);
                    out.push(')');
                }
            }
        }
        out.push_str("; restarts ");
        match j.restarts {
            Restarts::Unlimited => out.push_str("unlimited"),
            Restarts::Limit(0) => out.push_str("never"),
            Restarts::Limit(n) => {
                let _ = write!(out, "{n}");
            }
        }
        out.push('\n');
        match &j.exec {
            Some(argv) => {
                let _ = writeln!(out, "  exec {}", list(argv));
            }
            None => out.push_str("  no exec\n"),
        }
        let svc = &j.service;
        if svc.kind != super::kinds::Kind::Simple || !svc.after.is_empty() {
            out.push_str("  type ");
            out.push_str(svc.kind.name());
            for (i, a) in svc.after.iter().enumerate() {
                out.push_str(if i == 0 { ", after " } else { ", " });
                out.push_str(a);
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
            out.push_str("  health ");
            let _ = match &h.check {
                Check::Exec(argv) => write!(out, "exec {}", list(argv)),
                Check::Http { url, status } => {
                    let _ = write!(out, "http {url}");
                    match status {
                        Some(s) => write!(out, " (status {s})"),
                        None => Ok(()),
                    }
                }
                Check::Tcp(addr) => write!(out, "tcp {addr}"),
            };
            dur(&mut out, " every ", h.interval);
            dur(&mut out, ", timeout ", h.timeout);
            if let Some(ttl) = h.ttl {
                dur(&mut out, ", ttl ", ttl);
            }
            out.push('\n');
        }
        if let Some(port) = j.port {
            let _ = writeln!(out, "  advertised on port {port}, tags {}", list(&j.tags));
        }
    }
    for w in &c.watches {
        let _ = write!(out, "watch {}: ", w.name);
        let _ = match (&w.key, &w.prefix) {
            (Some(k), _) => write!(out, "key {k}", k = q(&k)),
            (None, Some(p)) => write!(out, "prefix {p}", p = q(&p)),
            (None, None) => {
                dur(&mut out, "every ", w.interval);
                Ok(())
            }
        };
        if let Some(t) = &w.tag {
            out.push_str(", tag ");
            out.push_str(t);
        }
        if let Some(d) = &w.dc {
            out.push_str(", dc ");
            out.push_str(d);
        }
        out.push('\n');
    }
    if let Some(c) = &c.consul {
        let _ = writeln!(out, "discovery: consul at {}", c.address);
    }
    if let Some(e) = &c.etcd {
        out.push_str("discovery: etcd at ");
        for (i, ep) in e.endpoints.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(ep);
        }
        out.push_str(" under ");
        out.push_str(&e.prefix);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    /// Every kind of line and part, byte for byte (what `tug check` prints).
    #[test]
    fn describes_every_part() {
        let text = r#"{
          consul: "localhost:8500",
          stopTimeout: "7s",
          jobs: [
            {name: "aa", exec: "a x", port: 80, tags: ["t1"], health: {exec: "chk", interval: 3, ttl: 10, timeout: "2s"}},
            {name: "b", exec: ["b"], when: {source: "aa", once: "healthy", timeout: "1m"}, restarts: "unlimited"},
            {name: "c", exec: "c", when: {interval: "5s"}},
            {name: "d", exec: "d", when: {cron: "0 * * * *", timezone: "local"}, restarts: 3, health: {http: "http://x/", status: 200, interval: 1}},
            {name: "e", exec: "e", when: {source: "nope", each: "exitSuccess", timeout: 3}, health: {tcp: "h:1", interval: 1, ttl: 5}},
            {name: "f", exec: "f", type: "inetd", listen: "tcp://127.0.0.1:99"},
            {name: "g", exec: "g", type: "oneshot", after: ["aa", "c"], sockets: ["tcp://127.0.0.1:98"]},
            {name: "h", when: {source: "watch.w1", each: "changed"}},
          ],
          watches: [
            {name: "w1", interval: 3, tag: "tg", dc: "dc1"},
            {name: "w2", key: "k"},
            {name: "w3", prefix: "p"},
          ],
        }"#;
        let c = crate::config::parse("t.json5", text).unwrap();
        assert_eq!(
            describe(&c),
            concat!(
                "8 jobs, 3 watches, stopTimeout 7s\n",
                "job aa: starts at startup; restarts never\n",
                "  exec [\"a\", \"x\"]\n",
                "  health exec [\"chk\"] every 3s, timeout 2s, ttl 10s\n",
                "  advertised on port 80, tags [\"t1\"]\n",
                "job b: starts once aa healthy (gives up after 1m); restarts unlimited\n",
                "  exec [\"b\"]\n",
                "job c: starts at startup, then every 5s; restarts unlimited\n",
                "  exec [\"c\"]\n",
                "job d: starts on cron \"0 * * * *\" (local time); restarts 3\n",
                "  exec [\"d\"]\n",
                "  health http http://x/ (status 200) every 1s, timeout 1s\n",
                "job e: starts never (no event can start it), gives up after 3s; restarts never\n",
                "  exec [\"e\"]\n",
                "  health tcp h:1 every 1s, timeout 1s, ttl 5s\n",
                "job f: starts at startup; restarts never\n",
                "  exec [\"f\"]\n",
                "  type inetd\n",
                "  accepts on tcp://127.0.0.1:99, at most 64 at once\n",
                "job g: starts at startup; restarts never\n",
                "  exec [\"g\"]\n",
                "  type oneshot, after aa, c\n",
                "  socket tcp://127.0.0.1:98\n",
                "job h: starts each watch.w1 changed; restarts never\n",
                "  no exec\n",
                "watch w1: every 3s, tag tg, dc dc1\n",
                "watch w2: key \"k\"\n",
                "watch w3: prefix \"p\"\n",
                "discovery: consul at localhost:8500\n",
            )
        );
        let text = r#"{etcd: {endpoints: ["http://a:1", "http://b:2"], prefix: "/x/"}, jobs: [{name: "n", exec: "n", when: {source: "n", once: "exitSuccess"}}]}"#;
        let c = crate::config::parse("t.json5", text).unwrap();
        assert_eq!(
            describe(&c),
            concat!(
                "1 jobs, 0 watches, stopTimeout 5s\n",
                "job n: starts never (no event can start it); restarts never\n",
                "  exec [\"n\"]\n",
                "discovery: etcd at http://a:1, http://b:2 under /x\n",
            )
        );
    }
}
