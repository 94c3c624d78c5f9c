//! What a watch reports, shared by both backends: instance sets compared
//! whole, the aggregate health of an instance, when to notify, and the
//! readers of the answer fields both backends have.
//!
//! Decisions:
//! - A set is normalised before comparison (instances sorted, and each
//!   instance's tags and meta sorted): reordering is not a change, while
//!   any difference in id, address, port, tags, meta or status is.
//! - The first result is always reported, even an empty one (an absent
//!   service is `unhealthy` from the start; ContainerPilot said nothing).

use super::{Instance, Notice};
use crate::json;
use crate::json5::{Node, Value};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The worst of a set of check statuses: critical > warning > passing. A
/// status tug does not know (say `maintenance`) counts as critical.
pub fn worst_status<'a>(statuses: impl IntoIterator<Item = &'a str>) -> &'static str {
    let mut worst = 0;
    for s in statuses {
        let rank = match s {
            "passing" => 0,
            "warning" => 1,
            _ => 2,
        };
        worst = worst.max(rank);
    }
    ["passing", "warning", "critical"][worst]
}

pub fn any_passing(set: &[Instance]) -> bool {
    set.iter().any(|i| i.status == "passing")
}

/// Sorts what is a set inside an instance, then the instances.
pub fn normalize(mut set: Vec<Instance>) -> Vec<Instance> {
    for i in &mut set {
        insertion_sort(&mut i.tags);
        insertion_sort(&mut i.meta);
    }
    insertion_sort(&mut set);
    set
}

/// Watch sets are small (instances of one service, tags of one instance),
/// and core's sort costs kilobytes per element type in a binary that counts
/// them; this costs a few hundred bytes.
fn insertion_sort<T: Ord>(v: &mut [T]) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && v[j - 1] > v[j] {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// A KV entry as an instance: the key is its id, the value (lossy UTF-8)
/// its `value` meta.
pub fn kv_instance(key: &[u8], value: &[u8]) -> Instance {
    Instance {
        id: String::from_utf8_lossy(key).into_owned(),
        address: String::new(),
        port: 0,
        tags: Vec::new(),
        meta: alloc::vec![(
            String::from("value"),
            String::from_utf8_lossy(value).into_owned()
        )],
        status: String::from("passing"),
    }
}

/// The strings of a JSON array (other items skipped); none when absent.
pub fn string_list(node: Option<&Node>) -> Vec<String> {
    let mut out = Vec::new();
    for n in node.and_then(json::as_array).unwrap_or(&[]) {
        if let Some(s) = json::as_str(n) {
            out.push(String::from(s));
        }
    }
    out
}

/// The string members of a JSON object (others skipped); none when absent.
pub fn string_map(node: Option<&Node>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(Value::Object(members)) = node.map(|n| &n.value) {
        for m in members {
            if let Some(v) = json::as_str(&m.value) {
                out.push((m.key.clone(), String::from(v)));
            }
        }
    }
    out
}

/// A base64 bytes member (etcd's keys and values, Consul's KV `Value`):
/// empty when absent or null.
pub fn base64_member(node: &Node, key: &str) -> Result<Vec<u8>, String> {
    match json::get(node, key).map(|n| &n.value) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => crate::base64::decode(s),
        Some(_) => Err(format!("{key} is not a base64 string")),
    }
}

/// The last set a watch reported.
#[derive(Debug, Default)]
pub struct Reported {
    last: Option<Vec<Instance>>,
}

impl Reported {
    /// Reports `set` (already normalised) as watch `watch` if it is the
    /// first result or differs from the last; true if it did. `kv`: healthy
    /// means "some key exists" rather than "some instance passes".
    pub fn offer(
        &mut self,
        watch: usize,
        kv: bool,
        set: Vec<Instance>,
        out: &mut Vec<Notice>,
    ) -> bool {
        if self.last.as_ref() == Some(&set) {
            return false;
        }
        let healthy = if kv {
            !set.is_empty()
        } else {
            any_passing(&set)
        };
        out.push(Notice::WatchChanged {
            watch,
            healthy,
            instances: set.clone(),
        });
        self.last = Some(set);
        true
    }

    #[cfg(test)]
    pub fn last(&self) -> Option<&[Instance]> {
        self.last.as_deref()
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    pub fn inst(id: &str, port: u16, tags: &[&str], status: &str) -> Instance {
        Instance {
            id: id.to_string(),
            address: "10.0.0.1".to_string(),
            port,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            meta: Vec::new(),
            status: status.to_string(),
        }
    }

    #[test]
    fn health_aggregation_takes_the_worst() {
        assert_eq!(worst_status([]), "passing");
        assert_eq!(worst_status(["passing", "passing"]), "passing");
        assert_eq!(worst_status(["passing", "warning"]), "warning");
        assert_eq!(worst_status(["warning", "critical", "passing"]), "critical");
        assert_eq!(worst_status(["passing", "maintenance"]), "critical");
        assert!(any_passing(&[
            inst("a", 1, &[], "critical"),
            inst("b", 1, &[], "passing")
        ]));
        assert!(!any_passing(&[inst("a", 1, &[], "warning")]));
        assert!(!any_passing(&[]));
    }

    #[test]
    fn reordering_is_not_a_change_but_any_field_is() {
        let base = vec![
            inst("a", 1, &["x", "y"], "passing"),
            inst("b", 2, &[], "passing"),
        ];
        let mut r = Reported::default();
        let mut out = Vec::new();
        assert!(r.offer(0, false, normalize(base.clone()), &mut out));
        let mut reordered = vec![
            inst("b", 2, &[], "passing"),
            inst("a", 1, &["y", "x"], "passing"),
        ];
        reordered[1].meta = Vec::new();
        assert!(!r.offer(0, false, normalize(reordered), &mut out));
        assert_eq!(out.len(), 1);

        let variants: Vec<fn(&mut Instance)> = vec![
            |i| i.port = 9,
            |i| i.address = "10.0.0.9".to_string(),
            |i| i.tags.push("z".to_string()),
            |i| i.meta.push(("k".to_string(), "v".to_string())),
            |i| i.status = "critical".to_string(),
            |i| i.id = "c".to_string(),
        ];
        for change in variants {
            let mut r = Reported::default();
            r.offer(0, false, normalize(base.clone()), &mut out);
            let mut changed = base.clone();
            change(&mut changed[0]);
            assert!(r.offer(3, false, normalize(changed), &mut out));
        }
        // Meta values matter, not only keys.
        let mut m1 = base.clone();
        m1[0].meta = vec![("k".to_string(), "1".to_string())];
        let mut m2 = base.clone();
        m2[0].meta = vec![("k".to_string(), "2".to_string())];
        let mut r = Reported::default();
        r.offer(0, false, normalize(m1), &mut out);
        assert!(r.offer(0, false, normalize(m2), &mut out));
    }

    #[test]
    fn first_result_is_reported_even_when_empty() {
        let mut r = Reported::default();
        let mut out = Vec::new();
        assert!(r.offer(5, false, Vec::new(), &mut out));
        assert_eq!(
            out,
            vec![Notice::WatchChanged {
                watch: 5,
                healthy: false,
                instances: Vec::new()
            }]
        );
        assert!(!r.offer(5, false, Vec::new(), &mut out));
        let crit = vec![inst("a", 1, &[], "critical")];
        assert!(r.offer(5, false, crit.clone(), &mut out));
        assert!(matches!(
            out[1],
            Notice::WatchChanged { healthy: false, .. }
        ));
        // KV: existing is healthy whatever the status says.
        let mut kv = Reported::default();
        kv.offer(1, true, vec![kv_instance(b"k", b"\xffv")], &mut out);
        assert!(matches!(out[2], Notice::WatchChanged { healthy: true, .. }));
        assert_eq!(r.last(), Some(&crit[..]));
    }

    #[test]
    fn insertion_sort_sorts() {
        let mut v = vec![5, 1, 4, 1, 3, 9, 0];
        insertion_sort(&mut v);
        assert_eq!(v, [0, 1, 1, 3, 4, 5, 9]);
        let mut e: Vec<u8> = Vec::new();
        insertion_sort(&mut e);
    }

    #[test]
    fn kv_instances_carry_the_value_as_meta() {
        let i = kv_instance(b"config/app", b"a=\xff");
        assert_eq!(i.id, "config/app");
        assert_eq!(
            i.meta,
            vec![("value".to_string(), "a=\u{fffd}".to_string())]
        );
        assert_eq!((i.port, i.status.as_str()), (0, "passing"));
    }
}
