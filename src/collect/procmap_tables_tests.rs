//! Attribution beyond TCP sockets: one probe for the TCP, UDP and UNIX tables together, and
//! the unit and container read once per pid from `/proc/<pid>/cgroup`.

use super::*;

#[test]
fn one_probe_attributes_tcp_udp_and_unix_together() {
    use crate::model::{UnixKind, UnixRecord};
    let fake = FakeProc::new();
    fake.add_pid(100, "dns", 1000, &[11, 21]);
    fake.add_pid(200, "fpm", 2000, &[31]);
    let mut tcp = vec![estab(11)];
    let mut udp = vec![estab(21), estab(22)];
    for s in &mut udp {
        s.state = TcpState::Close;
    }
    let mut unix = vec![
        UnixRecord::new(UnixKind::Stream, TcpState::Listen, 31),
        UnixRecord::new(UnixKind::Dgram, TcpState::Close, 0),
    ];
    let mut r = ProcessResolver::with_proc_root(fake.root());
    let (procs, attr) = r.attribute_tables(Tables {
        tcp: &mut tcp,
        udp: &mut udp,
        unix: &mut unix,
    });
    assert_eq!(r.probes(), 1, "one /proc scan for every table");
    assert_eq!(tcp[0].owner, Owner::Process(100));
    assert_eq!(
        [udp[0].owner, udp[1].owner],
        [Owner::Process(100), Owner::Unattributed]
    );
    assert_eq!(
        [unix[0].owner, unix[1].owner],
        [Owner::Process(200), Owner::Ownerless]
    );
    assert_eq!(procs.keys().copied().collect::<Vec<_>>(), [100, 200]);
    assert_eq!(r.last_scan_stats().unknown_inodes, 1);
    assert!(attr.attempted);

    // The shared resolver: a second namespace's tables in the same round reuse the scan.
    let shared = SharedResolver::with_resolver(ProcessResolver::with_proc_root(fake.root()));
    let mut u2 = vec![UnixRecord::new(UnixKind::Stream, TcpState::Listen, 31)];
    shared.attribute_tables(0, Tables::default());
    let (p2, _) = shared.attribute_tables(
        0,
        Tables {
            unix: &mut u2,
            ..Tables::default()
        },
    );
    assert_eq!(shared.probes(), 1);
    assert_eq!(u2[0].owner, Owner::Process(200));
    assert!(p2.contains_key(&200));
}

/// The unit and container come from `/proc/<pid>/cgroup`, read once per pid: a second
/// tick reuses the cached answer (no read), a reused pid (new start time) reads again.
#[test]
fn unit_and_container_are_read_once_per_pid() {
    let fake = FakeProc::new();
    fake.add_pid(100, "srv", 1000, &[11]);
    let cg = fake.root().join("100/cgroup");
    let id = "ab".repeat(32);
    std::fs::write(
        &cg,
        format!("9:name=systemd:/system.slice/docker-{id}.scope\n0::/\n"),
    )
    .unwrap();
    // Docker's local metadata names the container.
    let docker = tempfile::tempdir().unwrap();
    let meta = docker.path().join("containers").join(&id);
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(
        meta.join("config.v2.json"),
        r#"{"ID":"x","Name":"/web-1","Config":{"Hostname":"h"}}"#,
    )
    .unwrap();
    let mut socks = vec![estab(11)];
    let mut r = ProcessResolver::with_proc_root(fake.root()).with_docker_root(docker.path());
    let (procs, _) = r.attribute(&mut socks);
    let ctr = procs[&100].container.as_ref().expect("container");
    assert_eq!(
        ctr.name.as_ref().map(ToString::to_string).as_deref(),
        Some("web-1")
    );
    assert_eq!(ctr.label(), "docker:web-1");
    let unit = procs[&100].unit.as_ref().expect("unit");
    assert_eq!(unit.name.to_string(), format!("docker-{id}.scope"));
    assert_eq!(
        procs[&100].container.as_ref().expect("container").id,
        id.as_str()
    );

    // Changed since: the cached answer does not notice (no read per tick).
    std::fs::write(&cg, "0::/system.slice/other.service\n").unwrap();
    let (procs, _) = r.attribute(&mut socks);
    assert_eq!(
        procs[&100].unit.as_ref().map(|u| u.name.to_string()),
        Some(format!("docker-{id}.scope"))
    );
    // The pid is reused by another process: read afresh.
    fake.set_start(100, "srv", 2000);
    let (procs, _) = r.attribute(&mut socks);
    assert_eq!(
        procs[&100]
            .unit
            .as_ref()
            .map(|u| u.name.to_string())
            .as_deref(),
        Some("other.service")
    );
    assert_eq!(procs[&100].container, None);
    // No cgroup file (an older kernel, a fixture): no unit, no error.
    fake.add_pid(200, "w", 5, &[12]);
    let mut socks = vec![estab(12)];
    let (procs, _) = r.attribute(&mut socks);
    assert_eq!(
        (procs[&200].unit.clone(), procs[&200].container.clone()),
        (None, None)
    );
}
