//! The collector's per-table policy: a TCP-only run dumps nothing else, each table falls
//! back to /proc on its own, and every protocol's sockets are attributed and filtered.

use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::*;
use crate::collect::{InetProtocol, UnixDump};

/// sock_diag whose unix_diag is missing (a kernel without `CONFIG_UNIX_DIAG`), counting
/// what it was asked for: [tcp, udp, unix].
struct NoUnixDiag {
    inner: NetlinkSource,
    calls: Arc<[AtomicU32; 3]>,
}

impl SocketSource for NoUnixDiag {
    fn kind(&self) -> SourceKind {
        SourceKind::Netlink
    }
    fn dump(&mut self, req: &DumpRequest) -> Result<SocketDump, CollectError> {
        let i = usize::from(req.protocol == InetProtocol::Udp);
        self.calls[i].fetch_add(1, Ordering::Relaxed);
        self.inner.dump(req)
    }
    fn dump_unix(&mut self, _req: &DumpRequest) -> Result<UnixDump, CollectError> {
        self.calls[2].fetch_add(1, Ordering::Relaxed);
        Err(CollectError::Unsupported(
            "sock_diag refused the dump (NLMSG_DONE): No such file or directory".into(),
        ))
    }
}

fn collector(protocols: Protocols, source: SourcePref) -> (Collector, Arc<[AtomicU32; 3]>) {
    let calls = Arc::new([AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)]);
    let src = NoUnixDiag {
        inner: NetlinkSource::open().expect("sock_diag"),
        calls: calls.clone(),
    };
    let cfg = CollectConfig {
        source,
        protocols,
        attribute: true,
        ..CollectConfig::default()
    };
    (Collector::with_source(cfg, Box::new(src), None), calls)
}

fn counts(calls: &[AtomicU32; 3]) -> [u32; 3] {
    [0, 1, 2].map(|i| calls[i].load(Ordering::Relaxed))
}

#[test]
fn a_tcp_only_run_dumps_nothing_else() {
    let (mut c, calls) = collector(Protocols::TCP, SourcePref::Auto);
    let snap = c.collect().unwrap();
    assert_eq!(counts(&calls), [1, 0, 0]);
    assert_eq!(snap.protocols, Protocols::TCP);
    assert!(snap.udp.is_empty() && snap.unix.is_empty());
    assert_eq!(snap.source, SourceKind::Netlink);
}

#[test]
fn only_the_table_without_its_diag_module_falls_back_and_says_so_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fallback.sock");
    let _l = UnixListener::bind(&path).unwrap();
    let mut protocols = Protocols::TCP;
    protocols.insert(Protocol::Unix);
    let (mut c, calls) = collector(protocols, SourcePref::Auto);
    let snap = c.collect().unwrap();
    let notice = c.take_notice().unwrap();
    assert!(
        notice.contains("falling back to /proc/net/unix"),
        "{notice}"
    );
    assert!(!notice.contains("/proc/net/tcp"), "{notice}");
    assert_eq!(
        snap.source,
        SourceKind::Proc,
        "part of the snapshot is from /proc"
    );
    let mine = snap
        .unix
        .iter()
        .find(|u| {
            u.name
                .as_ref()
                .is_some_and(|n| n.bytes() == path.as_os_str().as_encoded_bytes())
        })
        .expect("our listener, from /proc/net/unix");
    assert_eq!((mine.state, mine.recv_q), (TcpState::Listen, None));
    assert_eq!(mine.owner, Owner::Process(std::process::id()));
    assert!(snap.processes.contains_key(&std::process::id()));
    // For good: the next tick reads UNIX from /proc without asking unix_diag, TCP still
    // from sock_diag, and nothing more is said.
    c.collect().unwrap();
    assert_eq!(counts(&calls), [2, 0, 1]);
    assert_eq!(c.take_notice(), None);
    assert_eq!(c.source_kind(), SourceKind::Proc);
}

#[test]
fn netlink_only_returns_the_unix_diag_error() {
    let (mut c, _) = collector(Protocols::only(Protocol::Unix), SourcePref::Netlink);
    assert!(matches!(c.collect(), Err(CollectError::Unsupported(_))));
}
