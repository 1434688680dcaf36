//! [`Protocol`] and [`Protocols`]: which socket tables a run collects and shows (TCP, UDP,
//! UNIX), chosen the way `ss` users type it (`-t`, `-u`, `-x`). No I/O.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::TcpState;

/// One socket table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP, v4 and v6.
    Tcp,
    /// UDP, v4 and v6 (UDP-Lite is not collected).
    Udp,
    /// UNIX domain sockets: stream, datagram and seqpacket.
    Unix,
}

impl Protocol {
    /// The three, in the order every output lists them.
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Unix];

    /// Lower-case name used in JSON, metrics labels and messages.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Unix => "unix",
        }
    }

    /// Parses [`Protocol::name`].
    pub fn from_name(s: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == s)
    }

    /// The flag that selects it (`-t`, `-u`, `-x`).
    pub fn flag(self) -> &'static str {
        match self {
            Protocol::Tcp => "-t",
            Protocol::Udp => "-u",
            Protocol::Unix => "-x",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Protocol::Tcp => 1,
            Protocol::Udp => 2,
            Protocol::Unix => 4,
        }
    }

    /// How a state is spelled for this protocol in `STATE<TAB>count` lines and tables.
    ///
    /// TCP keeps netstat's names (what the awk one-liner counts). UDP and UNIX sockets reuse
    /// the kernel's TCP state numbers but only a few of them mean anything there, so they
    /// print as `ss -u` / `ss -x` do: `TCP_CLOSE` is `UNCONN`, `TCP_ESTABLISHED` is `ESTAB`.
    pub fn state_name(self, state: TcpState) -> &'static str {
        match (self, state) {
            (Protocol::Tcp, s) => s.netstat_name(),
            (_, TcpState::Close) => "UNCONN",
            (_, TcpState::Established) => "ESTAB",
            (_, TcpState::Listen) => "LISTEN",
            (_, TcpState::SynSent) => "SYN_SENT",
            (_, s) => s.netstat_name(),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of protocols. The default is TCP alone, so a run without `-t/-u/-x` shows what
/// sockscope always showed and scripts built on its output keep working.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Protocols(u8);

impl Default for Protocols {
    fn default() -> Self {
        Protocols::TCP
    }
}

impl Protocols {
    /// TCP only (the default).
    pub const TCP: Protocols = Protocols(1);
    /// No protocol; only as a start for [`Protocols::insert`].
    pub const NONE: Protocols = Protocols(0);
    /// All three.
    pub const ALL: Protocols = Protocols(7);

    /// The set holding exactly `p`.
    pub fn only(p: Protocol) -> Protocols {
        Protocols(p.bit())
    }

    /// Adds `p`.
    pub fn insert(&mut self, p: Protocol) {
        self.0 |= p.bit();
    }

    /// Whether `p` is in the set.
    pub fn contains(self, p: Protocol) -> bool {
        self.0 & p.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in [`Protocol::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Protocol> {
        Protocol::ALL.into_iter().filter(move |p| self.contains(*p))
    }

    /// The set from command-line flags: none given means TCP alone.
    pub fn from_flags(tcp: bool, udp: bool, unix: bool) -> Protocols {
        let mut s = Protocols::NONE;
        for (on, p) in [
            (tcp, Protocol::Tcp),
            (udp, Protocol::Udp),
            (unix, Protocol::Unix),
        ] {
            if on {
                s.insert(p);
            }
        }
        if s.is_empty() {
            Protocols::TCP
        } else {
            s
        }
    }
}

impl fmt::Debug for Protocols {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// `tcp,udp,unix` (members in order).
impl fmt::Display for Protocols {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Protocol::name).collect();
        f.write_str(&names.join(","))
    }
}

/// Serialized as a list of names (`["tcp","udp"]`); a snapshot from before UDP and UNIX
/// has no such field and reads as TCP alone.
impl Serialize for Protocols {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let names: Vec<&str> = self.iter().map(Protocol::name).collect();
        names.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Protocols {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Protocols, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        let mut set = Protocols::NONE;
        for n in &names {
            let p = Protocol::from_name(n).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown protocol {:?} (expected tcp, udp or unix)",
                    super::escape_controls(n)
                ))
            })?;
            set.insert(p);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flag_means_tcp_alone() {
        assert_eq!(Protocols::from_flags(false, false, false), Protocols::TCP);
        let s = Protocols::from_flags(false, true, true);
        assert!(!s.contains(Protocol::Tcp));
        assert_eq!(s.to_string(), "udp,unix");
    }

    #[test]
    fn serde_is_a_list_of_names_and_refuses_unknown_ones() {
        let s = Protocols::ALL;
        let j = serde_json::to_string(&s).expect("json");
        assert_eq!(j, r#"["tcp","udp","unix"]"#);
        assert_eq!(serde_json::from_str::<Protocols>(&j).expect("back"), s);
        assert!(serde_json::from_str::<Protocols>(r#"["sctp"]"#).is_err());
    }

    #[test]
    fn udp_and_unix_spell_states_as_ss_does() {
        assert_eq!(Protocol::Udp.state_name(TcpState::Close), "UNCONN");
        assert_eq!(Protocol::Unix.state_name(TcpState::Established), "ESTAB");
        assert_eq!(Protocol::Tcp.state_name(TcpState::Close), "CLOSE");
    }
}
