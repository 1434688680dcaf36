//! Sockets per systemd unit and per container in the exposition:
//! `sockscope_unit_sockets{netns,unit,protocol,state}` and
//! `sockscope_container_sockets{netns,runtime,container,name,protocol,state}`.
//!
//! Cardinality is bounded: the `top` units (containers) with the most sockets in a namespace
//! get series of their own, the rest are summed into one `(other)` row, and the sockets of
//! processes in no unit (container) and of no process into `(none)` and `(no process)`, so
//! every family adds up to the socket total of each protocol. A namespace where no socket's
//! owner runs in a unit (container) gets no series of that family, and `top` 0 renders
//! nothing (the off-switch, `serve --top-units 0`). Unit and container names are hostile text: label
//! values are their escaped form cut to [`NAME_LABEL_MAX`] bytes, as process `comm` labels.
//! Pure over the snapshots; owns these two families only, never the kernel or the clock.

use std::collections::{BTreeMap, HashMap};

use prometheus_client::registry::Registry;

use super::metrics::{encode, labels, Series, NAME_LABEL_MAX};
use crate::analyze::engine::Analysis;
use crate::analyze::group_rows::{GroupKey, GroupRow};
use crate::model::{Owner, Protocol, Snapshot, StateCounts, TcpState, Unit};

/// Sockets of one group, per protocol and state.
#[derive(Default, Clone)]
struct Counts(BTreeMap<Protocol, StateCounts>);

impl Counts {
    fn add(&mut self, p: Protocol, s: TcpState) {
        self.0.entry(p).or_default().add(s);
    }

    fn merge(&mut self, other: &Counts) {
        for (p, c) in &other.0 {
            let e = self.0.entry(*p).or_default();
            for s in TcpState::ALL {
                e.0[s.index()] += c.get(s);
            }
        }
    }

    fn total(&self) -> u64 {
        self.0.values().map(StateCounts::total).sum()
    }
}

/// A row of the exported table: a group, or the rest summed.
enum Row<'a> {
    Group(&'a GroupRow),
    Other,
}

/// Counts every collected socket of `snap` under its owner's unit or container. Sockets
/// are counted per pid first, so a unit or container is looked up and cloned once per pid,
/// not once per socket (a tick at 100k sockets must not allocate 100k names).
fn count(snap: &Snapshot, key: GroupKey) -> BTreeMap<GroupRow, Counts> {
    let mut per_pid: HashMap<Option<u32>, Counts> = HashMap::new();
    let mut add = |owner: Owner, p: Protocol, s: TcpState| {
        per_pid.entry(owner.pid()).or_default().add(p, s);
    };
    let has = |p: Protocol| snap.protocols.contains(p);
    for s in snap.sockets.iter().filter(|_| has(Protocol::Tcp)) {
        add(s.owner, Protocol::Tcp, s.state);
    }
    for s in snap.udp.iter().filter(|_| has(Protocol::Udp)) {
        add(s.owner, Protocol::Udp, s.state);
    }
    for s in snap.unix.iter().filter(|_| has(Protocol::Unix)) {
        add(s.owner, Protocol::Unix, s.state);
    }
    let mut map: BTreeMap<GroupRow, Counts> = BTreeMap::new();
    for (pid, counts) in per_pid {
        let row = match pid {
            None => GroupRow::NoProcess,
            // A pid procfs named no process for is a process still, in no known unit.
            Some(pid) => snap
                .processes
                .get(&pid)
                .and_then(|info| match key {
                    GroupKey::Unit => info.unit.clone().map(GroupRow::Unit),
                    GroupKey::Container => info.container.clone().map(GroupRow::Container),
                })
                .unwrap_or(GroupRow::None),
        };
        map.entry(row).or_default().merge(&counts);
    }
    map
}

/// The rows to export: the `top` groups by socket count (ties by name), `(other)` for the
/// rest when any, then the marker rows as they are. None at all when no socket's owner runs
/// in a unit (container): the marker rows alone would only repeat `sockscope_sockets`.
fn rows(map: &BTreeMap<GroupRow, Counts>, top: usize) -> Vec<(Row<'_>, Counts)> {
    let marker = |r: &GroupRow| matches!(r, GroupRow::None | GroupRow::NoProcess);
    if map.keys().all(marker) {
        return Vec::new();
    }
    let mut groups: Vec<(&GroupRow, &Counts)> = map.iter().filter(|(r, _)| !marker(r)).collect();
    groups.sort_by(|a, b| b.1.total().cmp(&a.1.total()).then_with(|| a.0.cmp(b.0)));
    let mut out: Vec<(Row<'_>, Counts)> = groups
        .iter()
        .take(top)
        .map(|(r, c)| (Row::Group(r), (*c).clone()))
        .collect();
    if groups.len() > top {
        let mut rest = Counts::default();
        for (_, c) in &groups[top..] {
            rest.merge(c);
        }
        out.push((Row::Other, rest));
    }
    out.extend(
        map.iter()
            .filter(|(r, _)| marker(r))
            .map(|(r, c)| (Row::Group(r), c.clone())),
    );
    out
}

/// A unit's label value: its escaped, capped name, with the user manager's uid for a user
/// unit (`app.service (user 1000)`, so a user's unit never shares a series with the
/// system's of the same name).
fn unit_label(u: &Unit) -> String {
    let name = u.name.label_value(NAME_LABEL_MAX);
    match u.user {
        Some(uid) => format!("{name} (user {uid})"),
        None => name.into_owned(),
    }
}

/// `(runtime, container, name)` label values of a row.
fn container_labels(row: &Row<'_>) -> [String; 3] {
    match row {
        Row::Group(GroupRow::Container(c)) => [
            c.runtime.name().to_string(),
            c.short_id(),
            c.name
                .as_ref()
                .map(|n| n.label_value(NAME_LABEL_MAX).into_owned())
                .unwrap_or_default(),
        ],
        other => [String::new(), marker_label(other), String::new()],
    }
}

fn marker_label(row: &Row<'_>) -> String {
    match row {
        Row::Other => "(other)".into(),
        Row::Group(GroupRow::None) => "(none)".into(),
        Row::Group(GroupRow::NoProcess) => "(no process)".into(),
        Row::Group(GroupRow::Unit(u)) => unit_label(u),
        Row::Group(GroupRow::Container(c)) => c.short_id(),
    }
}

/// Renders both families for every tick entry; empty when `top` is 0.
pub fn render(ticks: &[(Snapshot, Analysis)], top: usize) -> String {
    if top == 0 {
        return String::new();
    }
    let mut units = Series::<u64>::gauge();
    let mut ctrs = Series::<u64>::gauge();
    for (snap, _) in ticks {
        let ns = snap.netns.as_str();
        let by_unit = count(snap, GroupKey::Unit);
        for (row, counts) in rows(&by_unit, top) {
            let unit = marker_label(&row);
            for (p, sc) in &counts.0 {
                for (s, n) in sc.ranked() {
                    let l = [
                        ("unit", unit.as_str()),
                        ("protocol", p.name()),
                        ("state", p.state_name(s)),
                    ];
                    units.slot(labels(ns, &l)).inc_by(n);
                }
            }
        }
        let by_ctr = count(snap, GroupKey::Container);
        for (row, counts) in rows(&by_ctr, top) {
            let [runtime, id, name] = container_labels(&row);
            for (p, sc) in &counts.0 {
                for (s, n) in sc.ranked() {
                    let l = [
                        ("runtime", runtime.as_str()),
                        ("container", id.as_str()),
                        ("name", name.as_str()),
                        ("protocol", p.name()),
                        ("state", p.state_name(s)),
                    ];
                    ctrs.slot(labels(ns, &l)).inc_by(n);
                }
            }
        }
    }
    let mut r = Registry::with_prefix("sockscope");
    r.register(
        "unit_sockets",
        "Sockets per systemd unit (from each owner's cgroup), protocol and state: the top units \
         by sockets, the rest as unit=\"(other)\", no unit as \"(none)\", no process as \
         \"(no process)\"; non-zero states only",
        units,
    );
    r.register(
        "container_sockets",
        "Sockets per container (runtime, short id, name where known), protocol and state: the \
         top containers by sockets, the rest as container=\"(other)\", none as \"(none)\", no \
         process as \"(no process)\"; non-zero states only",
        ctrs,
    );
    encode(&r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{snapshot, sock};
    use crate::model::{Container, ProcessInfo, Protocols, Runtime};

    fn world() -> Snapshot {
        let mut socks = Vec::new();
        // pid 1..=4 in units u1..u4 holding 4, 3, 2, 1 sockets; pid 42 in no unit; one
        // TIME_WAIT with no process.
        for (pid, n) in [(1u32, 4u16), (2, 3), (3, 2), (4, 1), (42, 1)] {
            for i in 0..n {
                socks.push(sock(
                    TcpState::Established,
                    &format!("10.0.0.1:{}", 1000 + u32::from(i) + pid * 10),
                    "10.0.0.2:80",
                    Owner::Process(pid),
                ));
            }
        }
        socks.push(sock(
            TcpState::TimeWait,
            "10.0.0.1:5",
            "10.0.0.2:80",
            Owner::Ownerless,
        ));
        let mut snap = snapshot(socks);
        snap.protocols = Protocols::TCP;
        for pid in 1..=4u32 {
            let name = if pid == 1 {
                "evil\x1b[2J\".service".to_string()
            } else {
                format!("u{pid}.service")
            };
            snap.processes.insert(
                pid,
                ProcessInfo {
                    pid,
                    comm: "x".into(),
                    uid: 0,
                    user: "root".into(),
                    unit: Some(Unit {
                        name: name.as_str().into(),
                        user: None,
                    }),
                    container: (pid == 2).then(|| Container {
                        runtime: Runtime::Docker,
                        id: "ab".repeat(32).as_str().into(),
                        name: Some("web".into()),
                        pod_uid: None,
                        qos: None,
                    }),
                },
            );
        }
        snap
    }

    fn tick(snap: Snapshot) -> Vec<(Snapshot, Analysis)> {
        let an = crate::analyze::engine::Analyzer::new().observe(&snap);
        vec![(snap, an)]
    }

    fn samples<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
        text.lines()
            .filter(|l| l.starts_with(&format!("sockscope_{family}{{")))
            .collect()
    }

    fn sum(lines: &[&str]) -> u64 {
        lines
            .iter()
            .map(|l| {
                l.rsplit(' ')
                    .next()
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
            .sum()
    }

    #[test]
    fn the_top_units_then_other_none_and_no_process_add_up() {
        let text = render(&tick(world()), 2);
        let units = samples(&text, "unit_sockets");
        assert_eq!(sum(&units), 12, "{text}");
        // The escape sequence and quote arrive escaped (then the encoder escapes `\` `"`).
        assert!(
            units
                .iter()
                .any(|l| l.contains(r#"unit="evil\\e[2J\".service""#) && l.ends_with(" 4")),
            "{text}"
        );
        assert!(units
            .iter()
            .any(|l| l.contains(r#"unit="u2.service""#) && l.ends_with(" 3")));
        assert!(units
            .iter()
            .any(|l| l.contains(r#"unit="(other)""#) && l.ends_with(" 3")));
        assert!(units
            .iter()
            .any(|l| l.contains(r#"unit="(none)""#) && l.ends_with(" 1")));
        assert!(units
            .iter()
            .any(|l| l.contains(r#"unit="(no process)""#) && l.contains("TIME_WAIT")));
        assert!(!text.contains("u3.service"), "{text}");
        let ctrs = samples(&text, "container_sockets");
        assert_eq!(sum(&ctrs), 12, "{text}");
        assert!(ctrs.iter().any(|l| l
            .contains(r#"runtime="docker",container="abababababab",name="web""#)
            && l.ends_with(" 3")));
    }

    /// Two units whose names share the first `NAME_LABEL_MAX` bytes get one label value
    /// after the cut: their sockets add up in that series instead of the second replacing
    /// the first, so the family still sums to the total.
    #[test]
    fn units_that_collide_after_the_label_cut_add_up() {
        let mut snap = world();
        let long = "a".repeat(NAME_LABEL_MAX + 10);
        for (pid, tail) in [(1u32, "x"), (2, "y")] {
            let p = snap.processes.get_mut(&pid).unwrap();
            p.container = None;
            p.unit = Some(Unit {
                name: format!("{long}{tail}.service").as_str().into(),
                user: Some(1000),
            });
        }
        let text = render(&tick(snap), 5);
        let units = samples(&text, "unit_sockets");
        assert_eq!(sum(&units), 12, "{text}");
        let cut: Vec<&&str> = units.iter().filter(|l| l.contains("aaaa")).collect();
        assert_eq!(cut.len(), 1, "{text}");
        assert!(cut[0].ends_with(" 7"), "4 + 3 sockets: {text}");
    }

    #[test]
    fn top_zero_turns_the_families_off() {
        assert_eq!(render(&tick(world()), 0), "");
    }

    #[test]
    fn a_namespace_without_units_or_containers_exports_no_series() {
        let mut snap = world();
        for p in snap.processes.values_mut() {
            p.unit = None;
            p.container = None;
        }
        let text = render(&tick(snap), 20);
        assert!(samples(&text, "unit_sockets").is_empty(), "{text}");
        assert!(samples(&text, "container_sockets").is_empty(), "{text}");
    }
}
