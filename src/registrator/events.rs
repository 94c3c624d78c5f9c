//! The `GET /events` stream, sans-IO: bytes in as the HTTP client hands
//! them over (`Reply::Data`, de-chunked, split anywhere), typed events out
//! in stream order.
//!
//! Decisions:
//! - Framing: one JSON object per line; `\r` and RFC 7464's record
//!   separator (`application/json-seq`, API >= 1.52) also end a record,
//!   and blank records are skipped, so every framing Docker offers reads.
//! - A record longer than `MAX_RECORD` is dropped up to its end and
//!   reported; memory stays bounded on a broken stream.
//! - Only container events with the actions the registrator acts on come
//!   out; others are skipped silently (the subscription filter already
//!   asks for those only). The legacy `status`/`id` fields stand in for
//!   `Action`/`Actor.ID` (engines before API 1.22).
//! - An error (bad JSON, no or bad ID) comes out in place, as one line: an
//!   event may have been lost, so the caller should resync.

use super::inspect::{Health, valid_id};
use crate::json;
use crate::num::dec;
use crate::quote::q;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Far above any real event (labels included), far below a memory problem.
pub const MAX_RECORD: usize = 256 << 10;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Full container ID.
    pub id: String,
    /// `Actor.Attributes.name` (no leading `/`), "" if absent.
    pub name: String,
    pub action: Action,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Start,
    /// `exitCode` of the event, when it has a readable one.
    Die(Option<i64>),
    Stop,
    Destroy,
    /// `health_status: healthy` etc.
    Health(Health),
}

#[derive(Default)]
pub struct Decoder {
    record: Vec<u8>,
    /// Inside a record that is too long: skip to its end.
    skipping: bool,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// A new stream (after a reconnect): a partial record is dropped.
    pub fn reset(&mut self) {
        self.record.clear();
        self.skipping = false;
    }

    /// Takes the next bytes of the stream; every complete record's event
    /// (or error) is appended to `out`.
    #[inline(never)]
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<Result<Event, String>>) {
        while !data.is_empty() {
            let end = data.iter().position(|&b| matches!(b, b'\n' | b'\r' | 0x1e));
            let (part, rest) = match end {
                Some(i) => (&data[..i], Some(&data[i + 1..])),
                None => (data, None),
            };
            if !self.skipping {
                if self.record.len() + part.len() > MAX_RECORD {
                    self.record.clear();
                    self.skipping = true;
                    out.push(Err(format!(
                        "docker event: record longer than {MAX_RECORD} bytes, dropped"
                    )));
                } else {
                    self.record.extend_from_slice(part);
                }
            }
            let Some(rest) = rest else { return };
            data = rest;
            if self.skipping {
                self.skipping = false;
                continue;
            }
            let record = core::mem::take(&mut self.record);
            if record.iter().any(|b| !b.is_ascii_whitespace())
                && let Some(e) = decode(&record).transpose()
            {
                out.push(e);
            }
            self.record = record;
            self.record.clear();
        }
    }
}

/// One record: Ok(None) for an event that is not for the registrator.
#[inline(never)]
pub fn decode(record: &[u8]) -> Result<Option<Event>, String> {
    let doc = json::parse(record).map_err(|e| format!("docker event: {e}"))?;
    if !matches!(doc.value, crate::json5::Value::Object(_)) {
        return Err("docker event: expected a JSON object".into());
    }
    let kind = text(json::get(&doc, "Type"));
    if kind.is_some_and(|k| k != "container") {
        return Ok(None);
    }
    let actor = json::get(&doc, "Actor");
    let attrs = actor.and_then(|a| json::get(a, "Attributes"));
    let attr = |k: &str| text(attrs.and_then(|a| json::get(a, k)));
    let action = text(json::get(&doc, "Action")).or_else(|| text(json::get(&doc, "status")));
    let action = match action.unwrap_or("") {
        "start" => Action::Start,
        "die" => Action::Die(attr("exitCode").and_then(dec)),
        "stop" => Action::Stop,
        "destroy" => Action::Destroy,
        other => match other
            .strip_prefix("health_status:")
            .map(str::trim)
            .and_then(Health::parse)
        {
            Some(h) => Action::Health(h),
            None => return Ok(None),
        },
    };
    let id = text(actor.and_then(|a| json::get(a, "ID"))).or_else(|| text(json::get(&doc, "id")));
    let id = match id {
        Some(id) if valid_id(id) => id,
        Some(id) => return Err(format!("docker event: bad container ID {id}", id = q(&id))),
        None => return Err("docker event: no container ID".into()),
    };
    let name = attr("name").unwrap_or("");
    Ok(Some(Event {
        id: id.into(),
        name: name.strip_prefix('/').unwrap_or(name).into(),
        action,
    }))
}

fn text(n: Option<&crate::json5::Node>) -> Option<&str> {
    n.and_then(json::as_str)
}

/// The query of the subscription: container events the registrator acts
/// on (`health_status` matches its `health_status: …` actions by prefix).
pub const EVENTS_PATH: &str = "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%2C%22event%22%3A%5B%22start%22%2C%22die%22%2C%22stop%22%2C%22destroy%22%2C%22health_status%22%5D%7D";

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const ID: &str = "4fa6e0f0c6786287e131c3852c58a2e01cc697a68231826813597e4994f1d6e2";

    fn line(action: &str, extra: &str) -> String {
        format!(
            r#"{{"status":"{action}","id":"{ID}","from":"redis","Type":"container","Action":"{action}","Actor":{{"ID":"{ID}","Attributes":{{"image":"redis","name":"redis.0"{extra}}}}},"scope":"local","time":1700000000,"timeNano":1700000000123456789}}"#
        )
    }

    fn ev(action: Action) -> Result<Event, String> {
        Ok(Event {
            id: ID.into(),
            name: "redis.0".into(),
            action,
        })
    }

    fn all(stream: &str) -> Vec<Result<Event, String>> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        d.feed(stream.as_bytes(), &mut out);
        out
    }

    #[test]
    fn the_actions_the_registrator_follows() {
        let stream = [
            line("start", ""),
            line("die", r#","exitCode":"137","execDuration":"3""#),
            line("stop", ""),
            line("destroy", ""),
            line("health_status: healthy", ""),
            line("health_status: unhealthy", ""),
            line("health_status: starting", ""),
        ]
        .join("\n")
            + "\n";
        assert_eq!(
            all(&stream),
            [
                ev(Action::Start),
                ev(Action::Die(Some(137))),
                ev(Action::Stop),
                ev(Action::Destroy),
                ev(Action::Health(Health::Healthy)),
                ev(Action::Health(Health::Unhealthy)),
                ev(Action::Health(Health::Starting)),
            ]
        );
    }

    #[test]
    fn records_split_anywhere_come_out_whole_and_in_order() {
        let stream = format!(
            "{}\n{}\n",
            line("start", ""),
            line("die", r#","exitCode":"0""#)
        );
        let want = [ev(Action::Start), ev(Action::Die(Some(0)))];
        // Every split into two reads, and byte by byte.
        for cut in 0..=stream.len() {
            let mut d = Decoder::new();
            let mut out = Vec::new();
            d.feed(&stream.as_bytes()[..cut], &mut out);
            d.feed(&stream.as_bytes()[cut..], &mut out);
            assert_eq!(out, want, "cut at {cut}");
        }
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for b in stream.as_bytes() {
            d.feed(core::slice::from_ref(b), &mut out);
        }
        assert_eq!(out, want);
    }

    #[test]
    fn a_record_waits_for_its_end() {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        d.feed(line("start", "").as_bytes(), &mut out);
        assert!(out.is_empty());
        // A reconnect drops the partial record.
        d.reset();
        d.feed(b"\n", &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn every_framing_reads() {
        let l = line("start", "");
        for stream in [
            format!("{l}\r\n{l}\r\n"),
            format!("\x1e{l}\n\x1e{l}\n"),
            format!("\n\n{l}\n  \n{l}\n"),
        ] {
            assert_eq!(
                all(&stream),
                [ev(Action::Start), ev(Action::Start)],
                "{stream:?}"
            );
        }
    }

    #[test]
    fn other_events_are_skipped() {
        let image = String::from(r#"{"Type":"image","Action":"pull","Actor":{"ID":"redis"}}"#);
        let stream = [
            image,
            line("kill", r#","signal":"15""#),
            line("exec_start: sh -c true", ""),
            line("health_status: weird", ""),
            line("create", ""),
        ]
        .join("\n")
            + "\n";
        assert_eq!(all(&stream), []);
    }

    #[test]
    fn current_and_legacy_fields() {
        // API >= 1.52: no status/id.
        let new = format!(
            r#"{{"Type":"container","Action":"start","Actor":{{"ID":"{ID}","Attributes":{{}}}}}}"#
        );
        // Before Type/Action/Actor (API < 1.22).
        let old = format!(r#"{{"status":"die","id":"{ID}","from":"redis"}}"#);
        assert_eq!(
            all(&format!("{new}\n{old}\n")),
            [
                Ok(Event {
                    id: ID.into(),
                    name: String::new(),
                    action: Action::Start
                }),
                Ok(Event {
                    id: ID.into(),
                    name: String::new(),
                    action: Action::Die(None)
                }),
            ]
        );
        // An unreadable exit code is unknown.
        assert_eq!(
            all(&(line("die", r#","exitCode":"x""#) + "\n")),
            [ev(Action::Die(None))]
        );
    }

    #[test]
    fn malformed_records_are_errors_in_place_and_decoding_goes_on() {
        let stream = format!(
            "{{\"Type\":\n[1,2\n{}\n{}\n{}\n\u{7f}\n{}\n",
            r#"{"Type":"container","Action":"start","Actor":{}}"#,
            r#"{"Type":"container","Action":"start","Actor":{"ID":"../../x"}}"#,
            r#""just a string""#,
            line("start", "")
        );
        let out = all(&stream);
        assert_eq!(out.len(), 7, "{out:?}");
        assert!(
            out[0]
                .as_ref()
                .unwrap_err()
                .starts_with("docker event: bad JSON at 1:"),
            "{out:?}"
        );
        assert!(
            out[1]
                .as_ref()
                .unwrap_err()
                .starts_with("docker event: bad JSON at 1:")
        );
        assert_eq!(out[2], Err("docker event: no container ID".into()));
        assert_eq!(
            out[3],
            Err("docker event: bad container ID \"../../x\"".into())
        );
        assert_eq!(out[4], Err("docker event: expected a JSON object".into()));
        assert!(out[5].is_err());
        assert_eq!(out[6], ev(Action::Start));
        assert_eq!(
            decode(b"\xff"),
            Err("docker event: invalid UTF-8 in JSON".into())
        );
    }

    #[test]
    fn an_overlong_record_is_dropped_and_the_next_one_reads() {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        let chunk = vec![b'x'; 64 << 10];
        for _ in 0..5 {
            d.feed(&chunk, &mut out);
        }
        assert_eq!(
            out,
            [Err(format!(
                "docker event: record longer than {MAX_RECORD} bytes, dropped"
            ))]
        );
        d.feed(
            format!("tail\n{}\n", line("start", "")).as_bytes(),
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], ev(Action::Start));
    }

    #[test]
    fn the_subscription_filter() {
        let q = EVENTS_PATH.split_once("filters=").unwrap().1;
        let text = crate::net::http::percent_decode(q).unwrap();
        assert_eq!(
            text,
            r#"{"type":["container"],"event":["start","die","stop","destroy","health_status"]}"#
        );
    }
}
