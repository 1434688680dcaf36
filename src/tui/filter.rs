//! The one place the dashboard filters sockets. The lead's `crate::filter` (the CLI's filter
//! syntax) replaces the local matcher here; every view goes through [`apply_filter`].
//! This file must not grow its own filter language beyond the stop-gap below.

use crate::model::{Snapshot, SocketRecord, TcpState};

/// Indices into `snap.sockets` that match `expr` (all of them when `expr` is blank), or why
/// the expression does not parse.
///
/// Lead: switch the body to
/// `let f = crate::filter::Filter::parse_expr(expr).map_err(|e| e.to_string())?;`
/// `Ok(idx.filter(|&i| f.matches(&snap.sockets[i], snap)).collect())`
/// and delete `Token` below.
pub fn apply_filter(expr: &str, snap: &Snapshot) -> Result<Vec<usize>, String> {
    let tokens = expr
        .split_whitespace()
        .map(Token::parse)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((0..snap.sockets.len())
        .filter(|&i| tokens.iter().all(|t| t.matches(&snap.sockets[i], snap)))
        .collect())
}

/// Stop-gap subset of the CLI syntax: `state:`, `sport:`, `dport:`, `src:`, `dst:`,
/// `process:` and bare words (substring of state, endpoints or command).
enum Token {
    State(TcpState),
    Sport(u16),
    Dport(u16),
    Src(String),
    Dst(String),
    Process(String),
    Word(String),
}

fn parse_state(v: &str) -> Option<TcpState> {
    let norm = |s: &str| s.to_ascii_lowercase().replace(['_', '-'], "");
    let v = norm(v);
    TcpState::ALL
        .into_iter()
        .find(|s| norm(s.netstat_name()) == v || norm(s.ss_name()) == v)
}

impl Token {
    fn parse(t: &str) -> Result<Token, String> {
        let Some((k, v)) = t.split_once(':') else {
            return Ok(Token::Word(t.to_ascii_lowercase()));
        };
        let port = |v: &str| v.parse::<u16>().map_err(|_| format!("bad port in `{t}`"));
        match k {
            "state" => parse_state(v)
                .map(Token::State)
                .ok_or_else(|| format!("unknown state `{v}`")),
            "sport" => port(v).map(Token::Sport),
            "dport" => port(v).map(Token::Dport),
            "src" => Ok(Token::Src(v.to_string())),
            "dst" => Ok(Token::Dst(v.to_string())),
            "process" => Ok(Token::Process(v.to_ascii_lowercase())),
            // An IPv6 address without a key also contains ':'.
            _ if t.parse::<std::net::IpAddr>().is_ok() => Ok(Token::Word(t.to_string())),
            _ => Err(format!("unknown filter key `{k}:`")),
        }
    }

    fn matches(&self, s: &SocketRecord, snap: &Snapshot) -> bool {
        let comm = || {
            s.owner
                .pid()
                .and_then(|p| snap.processes.get(&p))
                .map(|p| p.comm.to_ascii_lowercase())
        };
        match self {
            Token::State(st) => s.state == *st,
            Token::Sport(p) => s.local.port == *p,
            Token::Dport(p) => s.remote.port == *p,
            Token::Src(v) => s.local.ip.to_string().starts_with(v.as_str()),
            Token::Dst(v) => s.remote.ip.to_string().starts_with(v.as_str()),
            Token::Process(v) => comm().is_some_and(|c| c.contains(v.as_str())),
            Token::Word(w) => {
                s.state
                    .netstat_name()
                    .to_ascii_lowercase()
                    .contains(w.as_str())
                    || s.state.ss_name().contains(w.as_str())
                    || s.local.to_string().contains(w.as_str())
                    || s.remote.to_string().contains(w.as_str())
                    || comm().is_some_and(|c| c.contains(w.as_str()))
            }
        }
    }
}
