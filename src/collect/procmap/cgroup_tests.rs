//! Fixtures for every cgroup shape domain.md lists, and the forged-line defence.

use super::*;

const DOCKER_ID: &str = "3f4e1a2b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b";

fn unit(text: &str) -> Option<(String, Option<u32>)> {
    parse_cgroup(text.as_bytes())
        .0
        .map(|u| (u.name.to_string(), u.user))
}

fn container(text: &str) -> Option<Container> {
    parse_cgroup(text.as_bytes()).1
}

#[test]
fn v2_only_service() {
    let t = "0::/system.slice/nginx.service\n";
    assert_eq!(unit(t), Some(("nginx.service".into(), None)));
    assert_eq!(container(t), None);
}

#[test]
fn hybrid_reads_name_systemd_before_v2() {
    let t = "12:memory:/system.slice/x.service\n9:name=systemd:/system.slice/nginx.service\n\
             1:cpu:/\n0::/\n";
    assert_eq!(unit(t), Some(("nginx.service".into(), None)));
    // This host's own shape: every hierarchy at the root.
    let root = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/0d4c7c50\n0::/\n";
    assert_eq!(parse_cgroup(root.as_bytes()), (None, None));
}

#[test]
fn sub_cgroups_of_a_service_and_scopes_and_slices() {
    assert_eq!(
        unit("0::/system.slice/postgresql.service/main\n"),
        Some(("postgresql.service".into(), None))
    );
    assert_eq!(
        unit("0::/user.slice/user-1000.slice/session-3.scope\n"),
        Some(("session-3.scope".into(), None))
    );
    assert_eq!(
        unit("0::/machine.slice\n"),
        Some(("machine.slice".into(), None))
    );
}

#[test]
fn user_units_carry_the_managers_uid() {
    let t = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/syncthing.service\n";
    assert_eq!(unit(t), Some(("syncthing.service".into(), Some(1000))));
    let t = "0::/user.slice/user-1000.slice/user@1000.service/init.scope\n";
    assert_eq!(unit(t), Some(("init.scope".into(), Some(1000))));
    let t = "0::/user.slice/user-1000.slice/user@1000.service\n";
    assert_eq!(unit(t), Some(("user@1000.service".into(), None)));
}

#[test]
fn docker_with_the_systemd_driver() {
    let t = format!("9:name=systemd:/system.slice/docker-{DOCKER_ID}.scope\n0::/\n");
    let c = container(&t).expect("container");
    assert_eq!(c.runtime, Runtime::Docker);
    assert_eq!(c.id, DOCKER_ID);
    assert_eq!((c.pod_uid, c.qos), (None, None));
    assert_eq!(
        unit(&t).map(|u| u.0),
        Some(format!("docker-{DOCKER_ID}.scope"))
    );
}

#[test]
fn docker_with_the_cgroupfs_driver() {
    let t = format!("9:name=systemd:/docker/{DOCKER_ID}\n0::/docker/{DOCKER_ID}\n");
    let c = container(&t).expect("container");
    assert_eq!(
        (c.runtime, c.id.to_string()),
        (Runtime::Docker, DOCKER_ID.into())
    );
    assert_eq!(unit(&t), None);
}

#[test]
fn podman() {
    let t = format!("0::/machine.slice/libpod-{DOCKER_ID}.scope/container\n");
    let c = container(&t).expect("container");
    assert_eq!(c.runtime, Runtime::Podman);
    assert_eq!(c.id, DOCKER_ID);
    let t = format!("0::/libpod_parent/{DOCKER_ID}\n");
    assert_eq!(container(&t).map(|c| c.runtime), Some(Runtime::Podman));
}

#[test]
fn kubernetes_containerd_burstable_pod() {
    let t = format!(
        "0::/kubepods.slice/kubepods-burstable.slice/\
         kubepods-burstable-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f9a0.slice/\
         cri-containerd-{DOCKER_ID}.scope\n"
    );
    let c = container(&t).expect("container");
    assert_eq!(c.runtime, Runtime::Containerd);
    assert_eq!(c.id, DOCKER_ID);
    assert_eq!(
        c.pod_uid.map(|u| u.to_string()).as_deref(),
        Some("1b2c3d4e-5f60-7182-93a4-b5c6d7e8f9a0")
    );
    assert_eq!(c.qos, Some(QosClass::Burstable));
    assert_eq!(
        unit(&t).map(|u| u.0),
        Some(format!("cri-containerd-{DOCKER_ID}.scope"))
    );
}

#[test]
fn kubernetes_crio_besteffort_and_guaranteed() {
    let t = format!(
        "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podabc_def.slice/\
         crio-{DOCKER_ID}.scope\n"
    );
    let c = container(&t).expect("container");
    assert_eq!(c.runtime, Runtime::Crio);
    assert_eq!(c.qos, Some(QosClass::BestEffort));
    assert_eq!(c.pod_uid.map(|u| u.to_string()).as_deref(), Some("abc-def"));
    let t = format!("0::/kubepods.slice/kubepods-pod12_34.slice/crio-{DOCKER_ID}.scope\n");
    assert_eq!(
        container(&t).and_then(|c| c.qos),
        Some(QosClass::Guaranteed)
    );
    // The cgroupfs driver's layout.
    let t = format!("0::/kubepods/burstable/pod1234-5678/{DOCKER_ID}\n");
    let c = container(&t).expect("container");
    assert_eq!(
        (c.runtime, c.qos),
        (Runtime::Containerd, Some(QosClass::Burstable))
    );
    assert_eq!(
        c.pod_uid.map(|u| u.to_string()).as_deref(),
        Some("1234-5678")
    );
}

#[test]
fn not_containers() {
    for t in [
        "0::/system.slice/docker.service\n",
        "0::/system.slice/docker-short.scope\n",
        "0::/system.slice/docker-ABCDEF0123456789.scope\n",
        "0::/docker/not-hex-at-all-really\n",
        "0::/\n",
        "",
        "garbage without colons\n",
    ] {
        assert_eq!(container(t), None, "{t:?}");
    }
}

#[test]
fn a_forged_line_after_the_real_one_is_ignored() {
    // A delegated user names a cgroup "x\n9:name=systemd:/system.slice/payments.service".
    let t = "9:name=systemd:/user.slice/user-1000.slice/user@1000.service/x\n\
             9:name=systemd:/system.slice/payments.service\n0::/\n";
    assert_eq!(unit(t), Some(("user@1000.service".into(), None)));
    let t = "0::/user.slice/user-1000.slice/session-1.scope/x\n0::/system.slice/pay.service\n";
    assert_eq!(unit(t), Some(("session-1.scope".into(), None)));
}

#[test]
fn hostile_bytes_stay_in_the_name() {
    let t = b"0::/system.slice/\x1b[7m\xff.service\n";
    let u = parse_cgroup(t).0.expect("unit");
    assert_eq!(u.name.raw_bytes(), b"\x1b[7m\xff.service");
    assert!(!u.label().contains('\x1b'));
}

#[test]
fn own_cgroup_parses_without_panic() {
    let text = std::fs::read("/proc/self/cgroup").expect("cgroup");
    let _ = parse_cgroup(&text);
}

/// Every committed fuzz seed names a unit or a container (each is a real shape).
#[test]
fn fuzz_seeds_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/cgroup_parse");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("seeds") {
        let path = entry.expect("entry").path();
        let (u, c) = parse_cgroup(&std::fs::read(&path).expect("seed"));
        assert!(u.is_some() || c.is_some(), "{}", path.display());
        n += 1;
    }
    assert!(n >= 9);
}
