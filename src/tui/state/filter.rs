//! The one place the dashboard filters sockets: the `/` prompt takes exactly the CLI's
//! filter syntax ([`crate::filter::Filter::parse_expr`]), so what works on the command line
//! works here. Every view goes through [`apply_filter`].

use crate::filter::Filter;
use crate::model::Snapshot;

/// Indices into `snap.sockets` that match `expr` (all of them when `expr` is blank), or why
/// the expression does not parse.
pub fn apply_filter(expr: &str, snap: &Snapshot) -> Result<Vec<usize>, String> {
    let f = Filter::parse_expr(expr).map_err(|e| e.to_string())?;
    Ok((0..snap.sockets.len())
        .filter(|&i| f.matches(&snap.sockets[i], &snap.processes))
        .collect())
}

/// Whether `expr` parses, and if not, why (the prompt checks every keystroke).
pub fn check(expr: &str) -> Result<(), String> {
    Filter::parse_expr(expr)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
