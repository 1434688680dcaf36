//! Command-line definitions (clap derive), shared by the binary, shell completions and the
//! man page. Parsing only: values are validated here with the domain parsers from
//! [`crate::filter`], and turned into a [`Filter`](crate::filter::Filter) by [`FilterArgs::to_filter`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::Protocols;

mod durations;
mod exit_codes;
mod filters;
mod generated;
mod scope;
pub use durations::{parse_duration, parse_length};
pub use exit_codes::{exit_codes_help, EXIT_STATUS};
pub use filters::{FilterArgs, StateSetArg};
pub use generated::{write_completions, write_man};
pub use scope::{command, parse};

// Every value-taking flag below also carries `allow_hyphen_values`: without it `--top -1`
// or `--interval -5s` is refused as "unexpected argument '-1'", a line that does not name
// the flag; with it the flag's own parser rejects the value and names the flag.

/// A socket-state monitor: finds CLOSE_WAIT leaks, TIME_WAIT storms and SYN floods, per
/// process and listener, straight from the kernel's sock_diag interface. TCP by default; UDP
/// and UNIX sockets with -u and -x (combinable: -tux).
#[derive(Debug, Parser)]
#[command(name = "sockscope", version, after_help = exit_codes_help(), max_term_width = 100)]
pub struct Cli {
    /// What to do; without one, the live dashboard (or a summary when stdout is no terminal).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options every mode takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Dashboard refresh interval (+ and - change it live).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    #[arg(allow_hyphen_values = true)]
    pub interval: Duration,
    /// Dashboard: no kill (`K` says it is off).
    #[arg(long)]
    pub read_only: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Count sockets per state (the netstat | awk one-liner), process, listener or remote;
    /// -u/-x count UDP/UNIX sockets (states as ss spells them: UNCONN, ESTAB, LISTEN).
    Summary(SummaryArgs),
    /// List sockets, like `ss -tanp` (-u: like ss -uanp with drops; -x: like ss -xanp).
    Sockets(SocketsArgs),
    /// Detect buildups and exit with a Nagios-style code (0 ok, 1 warning, 2 critical, 3 unknown).
    Check(CheckArgs),
    /// Explain a TCP state or a detection rule, with this namespace's relevant sysctls.
    Explain(ExplainArgs),
    /// Print one line per interval, like vmstat: key states, their deltas, active findings.
    Watch(WatchArgs),
    /// Record per-tick counts, findings and counter rates to a file (JSON Lines), flushed
    /// every tick; replay it with `summary --from` or the dashboard.
    Record(RecordArgs),
    /// Serve Prometheus / OpenMetrics metrics over HTTP (loopback by default).
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Time a bare sock_diag dump (the benchmark floor) and print the socket count.
    #[command(hide = true)]
    DumpFloor,
    /// Open the dashboard over a recording (Space play/pause, ←/→ step, [/] seek, -/+ speed).
    Replay(ReplayArgs),
    /// Destroy the TCP/UDP sockets a filter selects (sock_diag SOCK_DESTROY, as ss -K);
    /// needs CAP_NET_ADMIN and a filter.
    Kill(KillArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(CompletionsArgs),
    /// Print the man page, sockscope(1), as roff to stdout (`sockscope man | man -l -`).
    Man,
}

/// `sockscope completions`.
#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `sockscope kill`.
#[derive(Debug, Args, Clone)]
pub struct KillArgs {
    /// Kill without asking (required when there is no terminal to ask on).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Show what would be killed, touch nothing, exit 0.
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse to kill more than N sockets (at least 1).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100,
        allow_hyphen_values = true,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max: usize,
    /// Show at most N of the sockets before acting (0 = all).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        allow_hyphen_values = true
    )]
    pub rows: usize,
}

/// Where and what to collect, and which sockets to keep. Valid for every subcommand.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Socket source: netlink (sock_diag), proc (/proc/net/tcp), or auto (netlink, falling
    /// back to proc).
    #[arg(long, value_enum, default_value_t = SourceArg::Auto, global = true)]
    #[arg(allow_hyphen_values = true)]
    pub source: SourceArg,
    /// Collect inside this network namespace: a name under /run/netns or a path such as
    /// /proc/PID/ns/net.
    #[arg(
        long,
        value_name = "NAME|PATH",
        global = true,
        allow_hyphen_values = true
    )]
    pub netns: Option<String>,
    /// Every network namespace on the host (named ones and those of running processes),
    /// each reported separately (summary, check, serve; the dashboard switches with n/N).
    #[arg(long, global = true, conflicts_with = "netns")]
    pub all_netns: bool,
    /// With --all-netns: most namespaces collected at once (host first, then named ones,
    /// then in the order first seen). Fewer are collected when the open-file limit
    /// (RLIMIT_NOFILE, less 64 kept free) does not allow two descriptors for each. The rest
    /// are counted (sockscope_netns_skipped, a stderr or header line), never dropped silently.
    #[arg(
        long,
        value_name = "N",
        global = true,
        allow_hyphen_values = true,
        default_value_t = crate::collect::netns_budget::DEFAULT_MAX_NETNS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_netns: usize,
    /// Threshold/config file (TOML); default search path in the README.
    #[arg(long, value_name = "FILE", global = true)]
    #[arg(allow_hyphen_values = true)]
    pub config: Option<PathBuf>,
    /// Override one threshold, e.g. close_wait_leak.warn_count=50 (repeatable).
    #[arg(
        long = "threshold",
        value_name = "RULE.KEY=VALUE",
        global = true,
        allow_hyphen_values = true
    )]
    pub thresholds: Vec<String>,
    /// Socket filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// TCP sockets (the default when none of -t, -u, -x is given). Combinable: -tu.
    #[arg(short = 't', long = "tcp", global = true)]
    pub tcp: bool,
    /// UDP sockets, v4 and v6 (as ss -u). Combinable with -t and -x.
    #[arg(short = 'u', long = "udp", global = true)]
    pub udp: bool,
    /// UNIX domain sockets: stream, datagram, seqpacket (as ss -x). Combinable.
    #[arg(short = 'x', long = "unix", global = true)]
    pub unix: bool,
    /// Read a recorded snapshot (JSON) instead of the kernel; for tests and bug reports.
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        hide = true,
        allow_hyphen_values = true
    )]
    pub from_snapshot: Option<PathBuf>,
    /// Also write the collected snapshot (JSON) to FILE; for fixtures and bug reports.
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        hide = true,
        allow_hyphen_values = true
    )]
    pub save_snapshot: Option<PathBuf>,
    /// write into a directory other users can write to (sockscope refuses by default when
    /// run as root)
    #[arg(long, global = true)]
    pub force: bool,
}

impl GlobalArgs {
    /// The protocols `-t/-u/-x` select; none given is TCP alone.
    pub fn protocols(&self) -> Protocols {
        Protocols::from_flags(self.tcp, self.udp, self.unix)
    }
}

/// Socket source choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SourceArg {
    /// sock_diag, falling back to /proc/net/tcp with a notice.
    #[default]
    Auto,
    /// sock_diag only.
    Netlink,
    /// /proc/net/tcp{,6} only.
    Proc,
}

/// Output format of `summary` and `sockets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tab-separated lines for scripts (`STATE<TAB>count` for --by state, a header line
    /// for the other groupings).
    Text,
    /// An aligned table.
    Table,
    /// JSON with `schema_version`.
    Json,
    /// CSV (RFC 4180) with a header row; names escaped as the table prints them.
    Csv,
}

/// How `summary` groups sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupBy {
    /// Per state.
    State,
    /// Per process × state.
    Process,
    /// Per listener: SYN_RECV, accept queue and backlog.
    Listener,
    /// Per remote address × state.
    Remote,
    /// Per systemd unit (from each owner's cgroup), all its pids summed.
    Unit,
    /// Per container (docker, podman, containerd, cri-o), all its pids summed.
    Container,
}

/// `sockscope summary`.
#[derive(Debug, Args, Clone)]
pub struct SummaryArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    #[arg(allow_hyphen_values = true)]
    pub format: Format,
    /// Grouping (text and table formats; JSON always carries every grouping). UDP and UNIX:
    /// state and process; listener also for -x alone (pending/backlog); remote TCP only.
    #[arg(long, value_enum, default_value_t = GroupBy::State)]
    #[arg(allow_hyphen_values = true)]
    pub by: GroupBy,
    /// Summarise a recorded moment instead of the kernel (a file from `sockscope record`).
    #[arg(long, value_name = "FILE")]
    #[arg(allow_hyphen_values = true)]
    pub from: Option<PathBuf>,
    /// With --from: the moment (RFC 3339, HH:MM or HH:MM:SS UTC, or +OFFSET from the start);
    /// default the last tick.
    #[arg(
        long,
        value_name = "TIME",
        requires = "from",
        allow_hyphen_values = true
    )]
    pub at: Option<String>,
    /// Show at most N rows per grouping (0 = all); with --by state the N most frequent
    /// states (the table's TOTAL still counts all). Default 20 for text and table; JSON
    /// carries every row unless --top is given.
    #[arg(long, value_name = "N")]
    #[arg(allow_hyphen_values = true)]
    pub top: Option<usize>,
}

/// `sockscope sockets`.
#[derive(Debug, Args, Clone)]
pub struct SocketsArgs {
    /// Output format: table (an aligned list; text prints the same), json or csv.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    #[arg(allow_hyphen_values = true, hide_possible_values = true)]
    pub format: Format,
    /// Show tcp_info's last receive and RTT.
    #[arg(long, short = 'i')]
    pub info: bool,
    /// Show each socket's file descriptor in its owning process (as ss -p's fd=), read
    /// from /proc/PID/fd of the owning processes only.
    #[arg(long)]
    pub fd: bool,
    /// Show each TCP socket's owner's systemd unit and container (Unit and Container
    /// columns, from /proc/PID/cgroup).
    #[arg(long)]
    pub groups: bool,
    /// Sort TCP and UDP sockets by a column (numbers and ages largest first, text A to Z);
    /// default: state, then local, then peer, as ss.
    #[arg(long, value_enum, value_name = "COLUMN", allow_hyphen_values = true)]
    pub sort: Option<SocketSort>,
    /// Show at most N sockets per protocol (after --sort; 0 = all, the default).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub top: Option<usize>,
}

/// A `sockets --sort` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SocketSort {
    /// TCP state (lifecycle order, as the default).
    State,
    /// Local address and port.
    Local,
    /// Peer address and port.
    #[value(alias = "remote")]
    Peer,
    /// Owning process: command name, then pid.
    Process,
    /// Bytes received and not yet read.
    #[value(name = "recv-q")]
    RecvQ,
    /// Bytes sent and not yet acknowledged (a listener's backlog).
    #[value(name = "send-q")]
    SendQ,
    /// Time left on the socket's timer.
    Timer,
    /// Age in the current state (see AGE in the README); unknown ages last.
    Age,
}

/// Output format of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Nagios-style text.
    Text,
    /// JSON with `schema_version`.
    Json,
}

/// `sockscope check`.
#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// Time between the two samples (rates need deltas).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    #[arg(allow_hyphen_values = true)]
    pub interval: Duration,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = CheckFormat::Text)]
    #[arg(allow_hyphen_values = true)]
    pub format: CheckFormat,
}

/// Output format of `watch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WatchFormat {
    /// Aligned columns; the header repeats every 20 lines.
    Text,
    /// One JSON object per line.
    #[value(alias = "json")]
    Jsonl,
}

/// `sockscope watch`.
#[derive(Debug, Args, Clone)]
pub struct WatchArgs {
    /// Time between lines; `-n` as in watch(1) and vmstat (`-n 2`: every 2 seconds).
    #[arg(long, short = 'n', value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    #[arg(allow_hyphen_values = true)]
    pub interval: Duration,
    /// Stop after N lines (default: run until interrupted).
    #[arg(long, short = 'c', value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    #[arg(allow_hyphen_values = true)]
    pub count: Option<u64>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = WatchFormat::Text)]
    #[arg(allow_hyphen_values = true)]
    pub format: WatchFormat,
    /// Print the kernel's destroy events instead (one line per closed TCP/UDP socket, as
    /// ss -E; -t/-u pick the protocols, both by default; needs CAP_NET_ADMIN).
    #[arg(long)]
    pub events: bool,
    /// With --events: one line per interval (closes/s per remote and per process,
    /// connections that lived less than one interval, lost events) instead of one a socket.
    #[arg(long, requires = "events")]
    pub aggregate: bool,
    /// With --events: the kernel receive buffer to ask for, in bytes (tests use a tiny one).
    #[arg(long, value_name = "BYTES", requires = "events", hide = true)]
    pub rcvbuf: Option<usize>,
}

/// `sockscope record`.
#[derive(Debug, Args, Clone)]
pub struct RecordArgs {
    /// The file to write, mode 0600 whatever the umask. An existing recording is replaced
    /// (a new file is renamed over it, never truncated); any other file, a symlink, a FIFO
    /// or a device is refused. As root, the directory must be one only root can change
    /// (else --force).
    #[arg(long, short = 'o', value_name = "FILE")]
    #[arg(allow_hyphen_values = true)]
    pub output: PathBuf,
    /// Time between ticks.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    #[arg(allow_hyphen_values = true)]
    pub interval: Duration,
    /// Stop after this long (default: until interrupted).
    #[arg(long, value_name = "DURATION", value_parser = parse_length)]
    #[arg(allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Also record every socket (about 300 bytes per socket per tick), UDP and UNIX ones
    /// too when -u/-x collect them.
    #[arg(long)]
    pub sockets: bool,
}

/// `sockscope serve`.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 9847 unless given).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9847", value_parser = parse_listen)]
    #[arg(allow_hyphen_values = true)]
    pub listen: std::net::SocketAddr,
    /// Time between collections; scrapes in between read the latest one.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    #[arg(allow_hyphen_values = true)]
    pub interval: Duration,
    /// Export per-process series for the N processes with most sockets.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 20,
        allow_hyphen_values = true
    )]
    pub top_processes: usize,
    /// Add a pid label to per-process series (more series: pids churn).
    #[arg(long)]
    pub pid_labels: bool,
    /// Export sockscope_unit_sockets and sockscope_container_sockets for the N systemd
    /// units and N containers with most sockets, the rest summed as "(other)"; 0 = neither
    /// family.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 20,
        allow_hyphen_values = true
    )]
    pub top_units: usize,
    /// TLS, client certificates and basic auth from FILE, in the Prometheus exporter-toolkit
    /// format node_exporter reads (tls_server_config, http_server_config,
    /// basic_auth_users); as root it must be owned by root and not group/world-writable.
    /// Example: /usr/share/sockscope/web-config.example.yml.
    #[arg(long, value_name = "FILE")]
    #[arg(allow_hyphen_values = true)]
    pub web_config: Option<std::path::PathBuf>,
}

/// `serve --help`'s example web config.
const SERVE_HELP: &str = "\
--web-config example (the Prometheus exporter-toolkit format; full example in
/usr/share/sockscope/web-config.example.yml):

  tls_server_config:
    cert_file: /etc/sockscope/tls/server.crt
    key_file: /etc/sockscope/tls/server.key
    # client_auth_type: RequireAndVerifyClientCert
    # client_ca_file: /etc/sockscope/tls/clients-ca.crt
  basic_auth_users:
    prometheus: $2y$10$...   # htpasswd -nBC 10 \"\" | tr -d ':\\n'

Endpoints: /metrics, /healthz (starting | ok | unhealthy), /. A bad web config is one line
naming the key, exit 2.";

fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    s.parse::<std::net::SocketAddr>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(|ip| (ip, 9847).into()))
        .map_err(|_| {
            format!("invalid listen address '{s}' (expected IP:PORT, e.g. 127.0.0.1:9847)")
        })
}

/// `sockscope explain`.
#[derive(Debug, Args, Clone)]
pub struct ExplainArgs {
    /// A state (CLOSE_WAIT, close-wait, …) or a rule id (close_wait_leak, …).
    #[arg(value_name = "TOPIC")]
    pub topic: String,
}

/// `sockscope replay`.
#[derive(Debug, Args, Clone)]
pub struct ReplayArgs {
    /// The recording to replay.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Family;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
        command().debug_assert();
    }

    #[test]
    fn filter_flags() {
        let cli = Cli::try_parse_from([
            "sockscope",
            "summary",
            "--state",
            "close-wait,TIME_WAIT",
            "--state",
            "listen",
            "--sport",
            "80",
            "-4",
        ])
        .unwrap();
        let f = cli.global.filter.to_filter();
        assert_eq!(f.states.map(|s| s.iter().count()), Some(3));
        assert_eq!(f.family, Some(Family::V4));
        assert!(Cli::try_parse_from(["sockscope", "--sport", "0"]).is_err());
        assert!(Cli::try_parse_from(["sockscope", "--state", "bogus"]).is_err());
        assert!(Cli::try_parse_from(["sockscope", "-4", "-6"]).is_err());
    }
}
