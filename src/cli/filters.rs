//! The socket filter flags every mode shares ([`FilterArgs`]), their value parsers, and
//! their conversion to one [`Filter`] ([`FilterArgs::to_filter`]).

use clap::Args;
use ipnet::IpNet;

use crate::filter::{
    parse_cidr, Filter, OwnerKind, PortRange, ProcessMatch, StateSet, UnixPathMatch,
};
use crate::model::Family;

/// Filters, the same for every mode.
#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// States to keep: netstat (CLOSE_WAIT) or ss (close-wait) names, or the ss groups all,
    /// connected, synchronized, bucket, big. Comma-separated or repeated.
    #[arg(long, value_name = "STATES", value_parser = clap::value_parser!(StateSetArg), global = true)]
    #[arg(allow_hyphen_values = true)]
    pub state: Vec<StateSetArg>,
    /// Local port or range LO-HI (repeatable).
    #[arg(long, value_name = "PORT|LO-HI", value_parser = parse_port, global = true)]
    #[arg(allow_hyphen_values = true)]
    pub sport: Vec<PortRange>,
    /// Remote port or range LO-HI (repeatable).
    #[arg(long, value_name = "PORT|LO-HI", value_parser = parse_port, global = true)]
    #[arg(allow_hyphen_values = true)]
    pub dport: Vec<PortRange>,
    /// Local address or CIDR (repeatable).
    #[arg(long, value_name = "CIDR", value_parser = parse_net, global = true)]
    #[arg(allow_hyphen_values = true)]
    pub src: Vec<IpNet>,
    /// Remote address or CIDR (repeatable).
    #[arg(long, value_name = "CIDR", value_parser = parse_net, global = true)]
    #[arg(allow_hyphen_values = true)]
    pub dst: Vec<IpNet>,
    /// Owning process: command name or pid (repeatable).
    #[arg(long, value_name = "NAME|PID", value_parser = parse_process, global = true)]
    #[arg(allow_hyphen_values = true)]
    pub process: Vec<ProcessMatch>,
    /// Owner kind: process, unattributed, ownerless or unresolved (repeatable).
    #[arg(long, value_name = "KIND[,KIND]", value_parser = parse_owner, global = true)]
    #[arg(value_delimiter = ',', allow_hyphen_values = true)]
    pub owner: Vec<OwnerKind>,
    /// IPv4 sockets only.
    #[arg(short = '4', global = true, conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// IPv6 sockets only.
    #[arg(short = '6', global = true)]
    pub ipv6: bool,
    /// UNIX sockets bound to this path or abstract name (`@name`); a trailing `*` matches
    /// a prefix (`/run/php/*`). Repeatable. Needs -x; a path no UNIX socket is bound to is
    /// an error (exit 2), as are --sport/--dport/--src/--dst/-4/-6 with -x alone.
    #[arg(long, value_name = "PATH|@NAME", value_parser = parse_unix_path, global = true)]
    #[arg(allow_hyphen_values = true)]
    pub path: Vec<UnixPathMatch>,
    /// Owner's systemd unit: a name or glob (`nginx.service`, `nginx`, `'php*'`), with
    /// `@UID` or `@system` after a typed name for one manager's units only
    /// (`pipewire.service@1000`); repeatable.
    #[arg(long, value_name = "GLOB", value_parser = parse_unit, global = true)]
    #[arg(allow_hyphen_values = true)]
    pub unit: Vec<crate::filter::UnitMatch>,
    /// Owner's container: an id or id prefix, or a name; repeatable.
    #[arg(long, value_name = "ID|NAME", value_parser = parse_container, global = true)]
    #[arg(allow_hyphen_values = true)]
    pub container: Vec<crate::filter::ContainerMatch>,
}

/// A parsed `--state` value (clap needs a `Clone + Send + Sync` newtype).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateSetArg(pub StateSet);

impl std::str::FromStr for StateSetArg {
    type Err = crate::filter::FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(StateSetArg)
    }
}

fn parse_port(s: &str) -> Result<PortRange, String> {
    s.parse()
        .map_err(|e: crate::filter::FilterError| e.to_string())
}

fn parse_net(s: &str) -> Result<IpNet, String> {
    parse_cidr(s).map_err(|e| e.to_string())
}

fn parse_owner(s: &str) -> Result<OwnerKind, String> {
    s.parse()
        .map_err(|e: crate::filter::FilterError| e.to_string())
}

fn parse_unix_path(s: &str) -> Result<UnixPathMatch, String> {
    s.parse()
        .map_err(|e: crate::filter::FilterError| e.to_string())
}

fn parse_unit(s: &str) -> Result<crate::filter::UnitMatch, String> {
    s.parse()
        .map_err(|e: crate::filter::FilterError| e.to_string())
}

fn parse_container(s: &str) -> Result<crate::filter::ContainerMatch, String> {
    s.parse()
        .map_err(|e: crate::filter::FilterError| e.to_string())
}

fn parse_process(s: &str) -> Result<ProcessMatch, String> {
    s.parse()
        .map_err(|e: crate::filter::FilterError| e.to_string())
}

impl FilterArgs {
    /// The [`Filter`] these flags describe.
    pub fn to_filter(&self) -> Filter {
        let mut f = Filter {
            sport: self.sport.clone(),
            dport: self.dport.clone(),
            src: self.src.clone(),
            dst: self.dst.clone(),
            process: self.process.clone(),
            owner: Vec::new(),
            family: match (self.ipv4, self.ipv6) {
                (true, false) => Some(Family::V4),
                (false, true) => Some(Family::V6),
                _ => None,
            },
            states: None,
            path: self.path.clone(),
            unit: self.unit.clone(),
            container: self.container.clone(),
        };
        for s in &self.state {
            f.add_states(s.0);
        }
        for &k in &self.owner {
            f.add_owner(k);
        }
        f
    }
}
