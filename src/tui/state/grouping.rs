//! The Processes view's grouping key (`o` cycles process → unit → container) and the rows
//! of the unit and container groupings: [`crate::analyze::group_rows`]'s rows, the same
//! ones `summary --by unit|container` prints, counted over the shown protocol's sockets
//! (only those passing a `/` filter when one is set), sorted by the Processes sort with the
//! `(no unit)` / `(no process)` rows pinned below. Nothing here draws.

use crate::analyze::group_rows::{group_rows, GroupCount, GroupKey, GroupRow};
use crate::filter::{ContainerMatch, Filter, UnitMatch};
use crate::model::{Protocol, Protocols, Snapshot};
use crate::tui::state::columns::{SortState, PROCESS_COLUMNS, STATE_COLUMNS};

/// What a Processes row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Grouping {
    /// One row per process (the view as it always was).
    #[default]
    Process,
    /// One row per systemd unit, its processes summed.
    Unit,
    /// One row per container, its processes summed.
    Container,
}

impl Grouping {
    /// The next grouping `o` shows.
    pub fn next(self) -> Grouping {
        match self {
            Grouping::Process => Grouping::Unit,
            Grouping::Unit => Grouping::Container,
            Grouping::Container => Grouping::Process,
        }
    }

    /// The analysis key, `None` for per-process rows.
    pub fn key(self) -> Option<GroupKey> {
        match self {
            Grouping::Process => None,
            Grouping::Unit => Some(GroupKey::Unit),
            Grouping::Container => Some(GroupKey::Container),
        }
    }

    /// How the header and status line name it.
    pub fn word(self) -> &'static str {
        match self {
            Grouping::Process => "process",
            Grouping::Unit => "unit",
            Grouping::Container => "container",
        }
    }
}

/// Whether a row is a marker (`(no unit)`, `(no process)`), not a unit or container.
pub fn is_marker(r: &GroupRow) -> bool {
    matches!(r, GroupRow::None | GroupRow::NoProcess)
}

/// The rows of `snap` grouped by `key` over protocol `proto`, counting only the sockets
/// `filtered` selects (indices into that protocol's list) when given.
pub fn rows_for(
    snap: &Snapshot,
    proto: Protocol,
    key: GroupKey,
    filtered: Option<&[usize]>,
) -> Vec<GroupCount> {
    let protocols = Protocols::only(proto);
    let Some(idx) = filtered else {
        return group_rows(snap, protocols, key);
    };
    let mut sub = Snapshot {
        taken_at_ms: snap.taken_at_ms,
        source: snap.source,
        netns: snap.netns.clone(),
        sockets: Vec::new(),
        protocols,
        udp: Vec::new(),
        unix: Vec::new(),
        processes: snap.processes.clone(),
        attribution: snap.attribution.clone(),
        quality: snap.quality.clone(),
        counters: None,
        sysctls: None,
        collect_us: snap.collect_us,
    };
    match proto {
        Protocol::Tcp => sub.sockets = pick(&snap.sockets, idx),
        Protocol::Udp => sub.udp = pick(&snap.udp, idx),
        Protocol::Unix => sub.unix = pick(&snap.unix, idx),
    }
    group_rows(&sub, protocols, key)
}

fn pick<T: Clone>(v: &[T], idx: &[usize]) -> Vec<T> {
    idx.iter().filter_map(|&i| v.get(i).cloned()).collect()
}

/// The sockets of `r` in protocol `p`.
pub fn count_of(r: &GroupCount, p: Protocol) -> u64 {
    match p {
        Protocol::Tcp => r.tcp.total(),
        Protocol::Udp => r.udp,
        Protocol::Unix => r.unix,
    }
}

/// `rows` in display order: the groups by the Processes sort (column 0 the number of pids,
/// 1 and 2 the label, 3 the total, then the TCP states), ties by socket count; the marker
/// rows after them.
pub fn sorted(
    rows: Vec<GroupCount>,
    key: GroupKey,
    proto: Protocol,
    sort: SortState,
) -> Vec<GroupCount> {
    let (mut groups, rest): (Vec<GroupCount>, Vec<GroupCount>) =
        rows.into_iter().partition(|r| !is_marker(&r.row));
    let n = PROCESS_COLUMNS.len();
    let num = |r: &GroupCount| -> u64 {
        match sort.column {
            0 => r.pids.len() as u64,
            3 => count_of(r, proto),
            c => STATE_COLUMNS
                .get(c.wrapping_sub(n))
                .map_or(0, |&s| r.tcp.get(s)),
        }
    };
    groups.sort_by(|a, b| {
        let o = match sort.column {
            1 | 2 => a.row.label(key).cmp(&b.row.label(key)),
            _ => num(a).cmp(&num(b)),
        };
        if sort.descending {
            o.reverse()
        } else {
            o
        }
    });
    groups.extend(rest);
    groups
}

/// `base` narrowed to a group's sockets (its unit or container, exactly), as filter text;
/// or why it cannot be: a marker row holds several kinds of process, and a unit name the
/// filter syntax cannot say exactly (glob characters, spaces, control bytes) is not guessed
/// at.
pub fn filter_for(r: &GroupRow, key: GroupKey, base: Filter) -> Result<String, String> {
    let label = r.label(key);
    let mut f = base;
    match r {
        GroupRow::Unit(u) => {
            // Scoped to its manager: a user's pipewire.service is not another user's.
            let exact = u.name.as_utf8().and_then(|s| UnitMatch::exact(s, u.user));
            let Some(m) = exact else {
                return Err(format!("{label}: no exact filter for this name"));
            };
            f.unit = vec![m];
        }
        GroupRow::Container(c) => {
            let m =
                c.id.as_utf8()
                    .and_then(|s| s.parse::<ContainerMatch>().ok())
                    .ok_or_else(|| format!("{label}: no exact filter for this id"))?;
            f.container = vec![m];
        }
        GroupRow::None | GroupRow::NoProcess => {
            return Err(format!("{label}: several processes; nothing to open"))
        }
    }
    Ok(f.to_string())
}
