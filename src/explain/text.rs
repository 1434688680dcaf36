//! The explanation texts, one per state and one per rule, in sockscope's own words. Kept
//! apart from the lookup logic so the prose can be reviewed on its own.

/// One explainable topic.
pub(super) struct Topic {
    /// Canonical name: netstat spelling for states, rule id for rules.
    pub name: &'static str,
    /// Other accepted spellings (compared case-insensitively, `-` read as `_`).
    pub aka: &'static [&'static str],
    /// The explanation.
    pub body: &'static str,
    /// Sysctls whose current values are appended.
    pub sysctls: &'static [&'static str],
}

pub(super) const STATES: &[Topic] = &[
    Topic {
        name: "ESTABLISHED",
        aka: &["estab"],
        body: "An open connection: the handshake completed and data can flow both ways. \
Sockets enter it from SYN_SENT (client) or SYN_RECV (server) and leave it when either side \
closes: the side that closes first goes to FIN_WAIT1, the other to CLOSE_WAIT.\n\
Any lifetime is normal. Many idle ESTABLISHED sockets to a dead peer are only noticed by \
keepalive (tcp_keepalive_time/_intvl/_probes: 7200/75/9 by default, over two hours) or by \
the application's own timeouts.",
        sysctls: &[
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes",
        ],
    },
    Topic {
        name: "SYN_SENT",
        aka: &["syn-sent"],
        body: "A client sent its SYN and waits for the SYN+ACK. Normally lasts one round trip. \
It leaves for ESTABLISHED when the SYN+ACK arrives, or is dropped after the SYN retries run \
out (tcp_syn_retries).\n\
Many SYN_SENT sockets mean the destination does not answer: a firewall dropping packets, a \
down host, or a full SYN queue on the server. Look at which destinations they point to.",
        sysctls: &["net.ipv4.tcp_syn_retries"],
    },
    Topic {
        name: "SYN_RECV",
        aka: &["syn-recv", "new_syn_recv", "syn_received"],
        body: "A server received a SYN, answered with SYN+ACK and waits for the final ACK. \
Linux keeps these half-open connections as small request sockets (shown as NEW_SYN_RECV by \
sock_diag; sockscope counts them as SYN_RECV). No process owns them: they belong to the \
listener on their local port. They normally last one round trip, then become ESTABLISHED \
and wait in the listener's accept queue; unanswered ones are retried tcp_synack_retries \
times (about 60 s) and dropped.\n\
Many SYN_RECV on one listener mean a SYN flood (spoofed sources that never send the final \
ACK) or a path that loses packets. The queue is capped near min(backlog, somaxconn) and \
tcp_max_syn_backlog; past it the kernel answers with syncookies if tcp_syncookies allows \
(SyncookiesSent, TCPReqQFullDoCookies) or drops SYNs (TCPReqQFullDrop, ListenDrops). With \
syncookies the kernel keeps no state, so a flood can show no SYN_RECV at all: watch the \
counters. See syn_flood.",
        sysctls: &[
            "net.ipv4.tcp_syncookies",
            "net.ipv4.tcp_max_syn_backlog",
            "net.core.somaxconn",
            "net.ipv4.tcp_synack_retries",
        ],
    },
    Topic {
        name: "FIN_WAIT1",
        aka: &["fin-wait-1", "fin_wait_1"],
        body: "This side closed first: it sent its FIN and waits for the ACK. Normally lasts \
one round trip and is rarely seen. It goes to FIN_WAIT2 when the FIN is ACKed, to CLOSING \
when the peer's FIN crosses ours (simultaneous close), or straight to TIME_WAIT when a \
FIN+ACK arrives.\n\
Many FIN_WAIT1 sockets mean the peer does not ACK: it is gone, or its receive window is \
closed and unsent data is stuck in Send-Q. Once their process closed them they are orphans \
(see orphans).",
        sysctls: &["net.ipv4.tcp_orphan_retries", "net.ipv4.tcp_max_orphans"],
    },
    Topic {
        name: "FIN_WAIT2",
        aka: &["fin-wait-2", "fin_wait_2"],
        body: "This side closed first and its FIN was ACKed; it waits for the peer's FIN. The \
connection is half-closed: the peer may still send. It leaves for TIME_WAIT when the peer's \
FIN arrives. If the process already closed the socket (an orphan), the kernel gives up \
after tcp_fin_timeout (60 s by default); if the process only called shutdown(SHUT_WR) and \
still holds it, it can stay as long as the peer keeps its end open.\n\
When both ends are on this host, each FIN_WAIT2 socket has a CLOSE_WAIT partner: the pair \
FIN_WAIT2 ↔ CLOSE_WAIT means the peer process never calls close(). See fin_wait2_buildup \
and close_wait_leak.",
        sysctls: &["net.ipv4.tcp_fin_timeout"],
    },
    Topic {
        name: "TIME_WAIT",
        aka: &["time-wait"],
        body: "This side closed first and sent the last ACK. The socket waits 2×MSL (60 s on \
Linux, fixed) so a lost last ACK can be resent and stray segments of the old connection \
die out before the same 4-tuple is used again. No process owns it; it ends by itself.\n\
TIME_WAIT is normal on the side that closes first. A storm comes from many short \
connections this host closes: an HTTP client without keep-alive, or a server that closes \
first. The danger is running out of ephemeral ports toward one destination ip:port: about \
(ip_local_port_range high − low) / 60 s new connections per second. tcp_max_tw_buckets caps \
the total (TCPTimeWaitOverflow counts sockets closed without TIME_WAIT). See \
time_wait_storm.",
        sysctls: &[
            "net.ipv4.ip_local_port_range",
            "net.ipv4.tcp_tw_reuse",
            "net.ipv4.tcp_max_tw_buckets",
        ],
    },
    Topic {
        name: "CLOSE",
        aka: &["unconn", "closed"],
        body: "No connection: a socket that is bound or created but neither listening nor \
connected (ss prints it as UNCONN). Sockets pass through it at the very start and end of \
their life. A few are normal; many usually mean an application that creates sockets it \
never connects.",
        sysctls: &[],
    },
    Topic {
        name: "CLOSE_WAIT",
        aka: &["close-wait"],
        body: "The peer closed its side (sent FIN) and the kernel ACKed it; the socket now \
waits for the local application to call close(). The kernel never does it on its own: the \
socket stays until the process closes it or exits. Keepalive does not remove it. It leaves \
for LAST_ACK when the application closes.\n\
A growing CLOSE_WAIT count in one process is nearly always a bug in that application: an \
error path that returns without closing, or a connection pool that never evicts dead \
connections. Old CLOSE_WAIT sockets have a large lastrcv (tcp_info). Recv-Q tells three \
bugs apart, because the peer's FIN takes one sequence number and counts until the \
application reads the end of stream: Recv-Q 0, it read the end of stream and never closed \
(a close() missing on the EOF or error path); Recv-Q 1, it never read the FIN, with no data \
pending (it stopped looking at the socket: an idle pooled connection, an abandoned handle); \
Recv-Q n > 1, n-1 bytes of data and the FIN were never read (a reader stopped mid-stream). \
When the peer is on this host it sits in FIN_WAIT2. Look at the \
owning process, its count and growth, the oldest socket and the remote peers: they point to \
the code path that forgets to close. See close_wait_leak.\n\
No setting ends a CLOSE_WAIT socket; the ones below time its neighbours: the peer's \
FIN_WAIT2 when it is on this host and closed its socket (tcp_fin_timeout), the LAST_ACK \
once the application closes (tcp_orphan_retries), and keepalive (with SO_KEEPALIVE only), \
which on a dead peer resets the connection but leaves the socket to the process.",
        sysctls: &[
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_orphan_retries",
            "net.ipv4.tcp_keepalive_time",
        ],
    },
    Topic {
        name: "LAST_ACK",
        aka: &["last-ack"],
        body: "The passive closer: the peer closed first, this application then closed too, \
and the kernel sent its FIN; it waits for the ACK. Normally lasts one round trip, then the \
socket is gone. Many LAST_ACK sockets mean the peer vanished before ACKing; they are \
orphans retried and dropped by the kernel.",
        sysctls: &["net.ipv4.tcp_orphan_retries"],
    },
    Topic {
        name: "LISTEN",
        aka: &[],
        body: "A listening socket, waiting for connections. For it, Recv-Q is the number of \
connections completed by the kernel but not yet accept()ed, and Send-Q is the backlog \
(min(listen() backlog, somaxconn)). Half-open connections on it show as SYN_RECV.\n\
Recv-Q at Send-Q means the application accepts too slowly: new handshakes are dropped and \
ListenOverflows grows (see accept_queue_overflow). Many SYN_RECV mean a SYN flood or a \
lossy path (see syn_flood).",
        sysctls: &["net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog"],
    },
    Topic {
        name: "CLOSING",
        aka: &[],
        body: "Simultaneous close: both sides sent FIN before seeing the other's ACK. \
Normally lasts one round trip, then goes to TIME_WAIT. Rare; many CLOSING sockets mean ACKs \
are being lost.",
        sysctls: &[],
    },
];

pub(super) const RULES: &[Topic] = &[
    Topic {
        name: "close_wait_leak",
        aka: &[],
        body: "Fires for a process that holds many CLOSE_WAIT sockets, whose count grows at \
every sample, or whose CLOSE_WAIT sockets get old. The peer closed; this process never \
called close(), so the kernel keeps the socket (and its file descriptor) until the process \
exits. A process in a systemd .service or a container is judged with all of that service's \
or container's processes: the finding names the unit or container and its current pids, \
and a restart under new pids continues the same finding (its first-seen time and growth).\n\
Remedy: the fix is in the application code. Find the path that drops a connection without \
closing it (an error or timeout branch, a response body never consumed, a pool that never \
evicts connections the server closed) and close the socket there; make pools validate or \
evict idle connections. Restarting the process frees the sockets but the leak returns. \
Keepalive and kernel settings do not help.",
        sysctls: &[
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes",
        ],
    },
    Topic {
        name: "syn_flood",
        aka: &[],
        body: "Fires for a listener whose SYN queue fills with half-open connections \
(SYN_RECV against min(backlog, somaxconn) and tcp_max_syn_backlog), or when the kernel \
sends syncookies or drops SYNs (SyncookiesSent, TCPReqQFullDoCookies, TCPReqQFullDrop, \
ListenDrops beyond ListenOverflows). Many source prefixes mean a flood; few sources mean a \
lossy path or misbehaving clients.\n\
Remedy: keep tcp_syncookies=1 so a full queue is answered with cookies instead of drops; \
raise the listen() backlog together with net.core.somaxconn and tcp_max_syn_backlog; \
lower tcp_synack_retries so half-open connections expire sooner; filter or rate-limit the \
sources upstream (firewall, DDoS protection).",
        sysctls: &[
            "net.ipv4.tcp_syncookies",
            "net.core.somaxconn",
            "net.ipv4.tcp_max_syn_backlog",
            "net.ipv4.tcp_synack_retries",
        ],
    },
    Topic {
        name: "accept_queue_overflow",
        aka: &[],
        body: "Fires for a listener whose accept queue (Recv-Q) reaches its backlog \
(Send-Q), or when ListenOverflows grows: the application accepts too slowly. The kernel \
completed the handshakes; the process does not take them.\n\
Remedy: make the application accept faster (more acceptor threads or workers, no blocking \
work in the accept loop, check it is not stuck or overloaded); raise the listen() backlog \
and net.core.somaxconn to absorb bursts. This is not a SYN flood: more backlog alone only \
delays the overflow if the process cannot keep up.",
        sysctls: &["net.core.somaxconn"],
    },
    Topic {
        name: "time_wait_storm",
        aka: &[],
        body: "Fires when TIME_WAIT sockets use up a large part of the ephemeral ports toward \
one destination ip:port (each holds its port for 60 s; where tcp_tw_reuse applies, mode 1 \
or the default 2 on loopback, only the last ~2 s of them block a new connection, and only \
those are counted, as port_exhaustion counts them), or approach tcp_max_tw_buckets, or \
TCPTimeWaitOverflow grows.\n\
Remedy: reuse connections (connection pooling, HTTP keep-alive) instead of opening one per \
request; enable net.ipv4.tcp_tw_reuse=1 so new outgoing connections may reuse TIME_WAIT \
ports safely (timestamps); let the client close first so TIME_WAIT lands on the side that \
opens connections; widen ip_local_port_range or spread over more source addresses or \
destination ports. Do not look for tcp_tw_recycle: it broke clients behind NAT and was \
removed from Linux 4.12. port_exhaustion judges the same ports per source address, with every \
state that holds one and a forecast at the current rate.",
        sysctls: &[
            "net.ipv4.ip_local_port_range",
            "net.ipv4.tcp_tw_reuse",
            "net.ipv4.tcp_max_tw_buckets",
        ],
    },
    Topic {
        name: "fin_wait2_buildup",
        aka: &[],
        body: "Fires when FIN_WAIT2 sockets pile up: this host closed, the peers ACKed but \
never send their own FIN. Orphaned FIN_WAIT2 sockets time out after tcp_fin_timeout; ones \
still held by a process (after shutdown(SHUT_WR)) stay until the peer or the process \
closes.\n\
Remedy: find the peers (often a local process leaking CLOSE_WAIT: fix it there); have the \
application close() after shutdown() with its own timeout; lower tcp_fin_timeout to reclaim \
orphans sooner.",
        sysctls: &["net.ipv4.tcp_fin_timeout"],
    },
    Topic {
        name: "orphans",
        aka: &[],
        body: "Fires when sockets no process holds any more (FIN_WAIT1, FIN_WAIT2, LAST_ACK, \
CLOSING with no inode) approach tcp_max_orphans. Past that limit the kernel resets orphans \
at once and logs \"too many orphaned sockets\"; each orphan also holds memory.\n\
Remedy: find why closing connections do not finish (peers that vanished, closed receive \
windows with unsent data); lower tcp_fin_timeout and tcp_orphan_retries; raise \
tcp_max_orphans only if memory allows.",
        sysctls: &[
            "net.ipv4.tcp_max_orphans",
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_orphan_retries",
        ],
    },
    Topic {
        name: "udp_drops",
        aka: &["udp_drop", "rcvbuferrors"],
        body: "Fires for a UDP socket (or the sockets of one process) whose drop counter \
grows, or whose receive queue sits near its buffer. The kernel queues each datagram on the \
socket until the application reads it; the queue (Recv-Q, bytes of buffer charged, more than \
the payload) may not pass rcvbuf, so once it is full every further datagram is dropped, \
counted on the socket (ss -uam prints it as d<N> in skmem) and host-wide as Udp \
RcvbufErrors (InErrors counts them too). The sender is not told: DNS, syslog, statsd or QUIC \
simply lose data. The per-socket counter starts at the socket's creation, so only its growth \
between two samples is a rate.\n\
Remedy: read faster: a tight receive loop with no blocking work in it (hand datagrams to \
workers), recvmmsg() to take many per call, or more readers: several sockets bound to the \
same port with SO_REUSEPORT, one per thread or process, so the kernel spreads the load. \
Absorb bursts with a larger buffer: setsockopt(SO_RCVBUF, n) gives min(n, \
net.core.rmem_max) × 2, so raise net.core.rmem_max first when the socket is at that cap \
(`sysctl -w net.core.rmem_max=8388608`, persisted in /etc/sysctl.d/); \
net.core.rmem_default is what a socket gets without asking. A bigger buffer only buys time \
if the reader is slower than the traffic on average.",
        sysctls: &["net.core.rmem_max", "net.core.rmem_default"],
    },
    Topic {
        name: "unix_accept_overflow",
        aka: &["unix_accept", "unix_backlog"],
        body: "Fires for a listening UNIX stream or seqpacket socket whose pending \
connections reach its backlog: ss -xl shows the pending connections as Recv-Q and the \
backlog as Send-Q. Linux admits backlog + 1 connections; past that a non-blocking connect() \
fails with EAGAIN (\"Resource temporarily unavailable\") and a blocking one waits until the \
server accepts. This is how connect() to php-fpm's, docker's or postgres' socket hangs. \
Listeners read from /proc/net/unix have no queue lengths and are never judged (use the \
netlink source).\n\
Remedy: make the server accept faster (more workers, no blocking work in the accept loop; \
check it is not stuck or overloaded, e.g. php-fpm's pm.max_children all busy); raise the \
listen() backlog to absorb bursts, within net.core.somaxconn, which caps it (raise both: \
`sysctl -w net.core.somaxconn=4096`). Datagram UNIX sockets have no backlog: their queue is \
limited by net.unix.max_dgram_qlen, and a full one makes senders block or get EAGAIN.",
        sysctls: &["net.core.somaxconn", "net.unix.max_dgram_qlen"],
    },
    Topic {
        name: "conntrack_full",
        aka: &["conntrack", "nf_conntrack", "table_full"],
        body: "Fires when the netfilter connection-tracking table of the namespace nears \
nf_conntrack_max (warning at 80%, critical at 95% by default); as critical whenever the \
per-CPU drop counter of /proc/net/stat/nf_conntrack (conntrack -S) grew since the previous \
sample (packets dropped for want of an entry: crit_drop_rate, default any); as a warning \
when early_drop grew (the table is under pressure: an unassured entry was evicted to admit \
the new connection, which got in) or insert_failed grew faster than warn_insert_failed_rate \
(default 10/s; slower, it is mostly the benign race of two UDP packets of one flow, such \
as DNS A and AAAA queries, clashing on insertion). Once a firewall \
rule needs conntrack (stateful rules, NAT, docker and kubernetes networking), every \
connection holds an entry, and the entry outlives the socket: a TIME_WAIT socket keeps its \
entry for nf_conntrack_tcp_timeout_time_wait (120 s), a half-open SYN_RECV one for \
nf_conntrack_tcp_timeout_syn_recv, an idle ESTABLISHED one for \
nf_conntrack_tcp_timeout_established (5 days by default). So a TIME_WAIT storm or a SYN \
flood fills the table as surely as it fills the socket table. When it is full the kernel \
logs \"nf_conntrack: table full, dropping packet\" (dmesg shows the module name twice \
before it, rate-limited) and drops the first \
packet of every new connection, so new connections time out while existing ones carry on; \
early_drop counts entries evicted to make room, insert_failed counts entries that could not \
be added. nf_conntrack_count is per namespace; nf_conntrack_max and nf_conntrack_buckets are \
global (read-only inside a namespace).\n\
Remedy: fix the storm first (connection pooling or keep-alive instead of a connection per \
request; see time_wait_storm and syn_flood). Raise the limit where memory allows: \
`sysctl -w net.netfilter.nf_conntrack_max=N` (each entry costs about 300 bytes of kernel \
memory, so a million entries is about 300 MB), and the hash size with it (`echo N/4 > \
/sys/module/nf_conntrack/parameters/hashsize`; chains longer than about four entries slow \
every lookup); persist both. Shorten the timeouts that hold idle entries: \
net.netfilter.nf_conntrack_tcp_timeout_time_wait (e.g. 30) and \
nf_conntrack_tcp_timeout_established (e.g. 3600 or less when keepalive is on). Do not track \
traffic that needs no state: a `notrack` rule in an nftables chain of priority raw on the \
prerouting and output hooks (e.g. `iif lo notrack`, or `tcp dport 6379 notrack`), or \
iptables `-t raw ... -j CT --notrack`, for high-volume local or loopback traffic.",
        sysctls: &[
            "net.netfilter.nf_conntrack_max",
            "net.netfilter.nf_conntrack_buckets",
            "net.netfilter.nf_conntrack_tcp_timeout_time_wait",
            "net.netfilter.nf_conntrack_tcp_timeout_established",
        ],
    },
    Topic {
        name: "port_exhaustion",
        aka: &["ports", "ephemeral_ports", "eaddrnotavail"],
        body: "Fires when the ephemeral ports from one local source address toward one \
destination ip:port run out, or will soon at the current rate of new connections. connect() \
picks a local port in ip_local_port_range, skipping ip_local_reserved_ports and every port \
a bind() holds (a listener on any address), and needs the 4-tuple to be unique: toward one \
destination from one source address the usable count is range − reserved − bound, and each \
source address has its own. Every state that keeps the 4-tuple holds its port: SYN_SENT, \
ESTABLISHED, FIN_WAIT1/2, CLOSING, TIME_WAIT, CLOSE_WAIT, LAST_ACK. Only client-side sockets \
count: a local port in the range that no local listener listens on (accepted connections \
carry the listener's port). The kernel tries the even ports first, then the odd ones \
(bind(0) prefers odd): every usable port goes before connect() fails with EADDRNOTAVAIL \
(\"Cannot assign requested address\").\n\
The forecast: with A connections open or closing and r new ones per second, each closed \
one holds its port 60 s in TIME_WAIT, so TIME_WAIT tends to 60·r and the held ports to \
A + 60·r. Below the usable count that is \"steady at N of M\"; at or above it the TIME_WAIT \
still growing has not started to expire, so the ports go in (usable − held) / r seconds. \
Where tcp_tw_reuse applies (1, or the default 2 for loopback, with tcp_timestamps) a new \
connection may take a TIME_WAIT port about 1 s old, and 2 s replaces the 60. The rate is \
the 4-tuples each poll finds that the poll before did not have, over the last 10 s (a \
connection opened and closed in between still holds its port), or destroy events. No counter counts the failed \
connect()s: the kernel returns EADDRNOTAVAIL and counts nothing; ActiveOpens, TW, \
TWRecycled and TCPTimeWaitOverflow (namespace-wide) are shown beside it.\n\
Remedy: reuse connections: keep-alive and a connection pool in the client (one per \
destination, sized for the concurrency), so a request does not cost a port for 60 s; add \
source addresses (each brings another full range toward the same destination: bind the \
client to several local IPs, or use IP_BIND_ADDRESS_NO_PORT) or spread over more \
destination ports or addresses; widen ip_local_port_range (e.g. \
`sysctl -w net.ipv4.ip_local_port_range=\"15000 65000\"`, keeping clear of the ports local \
servers listen on, which ip_local_reserved_ports can fence off); \
net.ipv4.tcp_tw_reuse=1 lets outgoing connections reuse TIME_WAIT ports toward any \
destination, not only loopback (2): it relies on TCP timestamps on both ends, is safe for \
the connecting side only, and does nothing for ports held ESTABLISHED or CLOSE_WAIT. Do \
not look for tcp_tw_recycle: it broke clients behind NAT and was removed from Linux 4.12.",
        sysctls: &[
            "net.ipv4.ip_local_port_range",
            "net.ipv4.ip_local_reserved_ports",
            "net.ipv4.tcp_tw_reuse",
            "net.ipv4.tcp_timestamps",
        ],
    },
];
