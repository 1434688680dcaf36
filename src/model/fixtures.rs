//! Small hand-made sockets and snapshots for unit tests in every layer (test builds only).

use std::collections::BTreeMap;

use super::*;

pub(crate) fn sock(state: TcpState, local: &str, remote: &str, owner: Owner) -> SocketRecord {
    let mut s = SocketRecord::new(
        state,
        local.parse().unwrap(),
        remote.parse().unwrap(),
        owner,
    );
    s.inode = 1;
    s
}

pub(crate) fn snapshot(sockets: Vec<SocketRecord>) -> Snapshot {
    let mut processes = BTreeMap::new();
    processes.insert(
        42,
        ProcessInfo {
            pid: 42,
            comm: "java".into(),
            uid: 1000,
            user: "app".into(),
            unit: None,
            container: None,
        },
    );
    Snapshot {
        taken_at_ms: 0,
        source: SourceKind::Netlink,
        netns: "host".into(),
        sockets,
        protocols: Default::default(),
        udp: Vec::new(),
        unix: Vec::new(),
        processes,
        attribution: Attribution::default(),
        quality: SampleQuality::default(),
        counters: None,
        sysctls: None,
        collect_us: 0,
    }
}
